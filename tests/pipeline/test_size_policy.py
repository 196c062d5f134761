"""The size policy for cameras whose frame size is only known once they deliver (webcams, streams)."""

import numpy as np

from core.capture.sources import SyntheticSource
from core.estimators.base import Estimator
from core.geometry import CameraRig, get_skeleton
from core.geometry.camera import Camera
from core.pipeline import Pipeline
from core.processing import PipelineSettings
from core.records import Poses2D
from core.session.folder import SessionReader
from tests.conftest import wait_for


class LiveSynthetic(SyntheticSource):
    """A synthetic camera that, like a webcam, does not know its frame size before it delivers."""

    def frame_size(self):
        return None


class NoPeople(Estimator):
    name = "none"
    skeleton = get_skeleton("coco17")

    def estimate(self, frame_set, rig):
        self.seen = getattr(self, "seen", set()) | set(frame_set.frames)
        return Poses2D.empty(rig.names, self.skeleton, frame_set.index)


def test_live_cameras_are_checked_on_their_first_frame_and_refused_ones_are_still_recorded(tmp_path):
    K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])
    rig = CameraRig([Camera.look_at("scaled", (320, 240), K, [2.0, 0, 1], [0, 0, 1.0]),
                     Camera.look_at("portrait", (240, 320), K, [0, 2.0, 1], [0, 0, 1.0])], units="m", up="z")
    sources = [LiveSynthetic("scaled", size=(640, 480), fps=20), LiveSynthetic("portrait", size=(640, 480), fps=20)]
    est = NoPeople()
    pipeline = Pipeline(sources, rig, est, PipelineSettings(filter=None))
    assert pipeline.size_mismatches == []  # nothing known before capture
    with pipeline:
        pipeline.start_recording(tmp_path / "take")
        assert wait_for(lambda: pipeline.metrics().results >= 5 and pipeline.recorder.stats()["sets_written"] >= 5)
    warnings = [e for e in pipeline.events.history("warning") if e.camera == "scaled"]
    errors = [e for e in pipeline.events.history("error") if e.camera == "portrait"]
    assert warnings and "640x480 px but the calibration says 320x240" in warnings[0].message
    assert errors and "not processed" in errors[0].message and "another aspect ratio" in errors[0].message
    assert pipeline.rig["scaled"].size == (640, 480) and np.isclose(pipeline.rig["scaled"].K[0, 0], 600.0)
    assert est.seen == {"scaled"}  # the refused camera never reaches the 2D backend
    reader = SessionReader(tmp_path / "take")  # ... but the recorder kept its frames
    ts = reader.timestamps
    delivered = {cam: int(((np.asarray(ts["camera"]) == cam) & (np.asarray(ts["dropped"]) == 0)).sum())
                 for cam in rig.names}
    assert delivered["portrait"] >= 3 and delivered["scaled"] >= 3
    assert {m["camera"]: m["action"] for m in reader.manifest.size_mismatches} == {"scaled": "scale",
                                                                                   "portrait": "refuse"}
