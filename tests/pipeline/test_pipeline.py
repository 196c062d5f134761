"""The live pipeline end to end: real Pose2Sim videos + OpenPose JSON, the virtual studio, failures."""

import threading
import time

import numpy as np
import pytest

from core.capture.sources import SyntheticSource, VideoFileSource
from core.estimators.files import OpenPoseJSONEstimator
from core.estimators.studio_truth import StudioTruthEstimator
from core.geometry import CameraRig, get_skeleton
from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.locate import PersonBoxes
from core.pipeline import Pipeline, match_sources_to_rig
from core.processing import PipelineSettings, triangulate_poses
from core.records import Poses2D
from core.session.export import write_points
from core.session.trc import read_trc
from core.studio.sources import make_virtual_rig, studio_sources
from tests.conftest import shared_path, wait_for


def test_pose2sim_videos_and_openpose_json_through_the_pipeline_match_the_reference_trc(tmp_path):
    base = shared_path("sessions", "pose2sim_balancing")
    rig = CameraRig.load(base / "calibration.toml")
    sources = [VideoFileSource(name, base / "videos" / f"cam0{i + 1}.mp4", realtime=False)
               for i, name in enumerate(rig.names)]
    est = OpenPoseJSONEstimator(base / "openpose_2d", rig.names)
    settings = PipelineSettings(mode="offline", filter=None, outliers=None, min_confidence=0.3)
    results = []
    pipeline = Pipeline(sources, rig, est, settings)
    pipeline.add_sink(results.append)
    with pipeline:
        assert pipeline.wait(120)
    assert len(results) == 100
    assert [r.poses_2d.frame_index for r in results] == list(range(100))  # JSON k = video frame k
    assert all(not r.frame_set.missing for r in results)
    sk = get_skeleton("body25b")
    names = list(POSE2SIM_BODY25B_MARKERS)
    idx = [sk.index(POSE2SIM_BODY25B_MARKERS[n]) for n in names]
    points = np.stack([r.pose_3d.points[idx] for r in results])
    out = write_points(tmp_path / "pipeline.trc", points, names, fps=60, units=rig.units, up=rig.up)
    ours, ours_names, _, _ = read_trc(out)
    ref, ref_names, _, _ = read_trc(next((base / "reference_3d").glob("*.trc")))
    assert ours_names == ref_names and ours.shape == ref.shape  # TRC row k = frame k
    all_views = np.stack([r.pose_3d.views_used[:, idx].all(axis=0) for r in results])
    err_mm = np.linalg.norm(ours - ref, axis=-1)[all_views] * 1000
    assert all_views.sum() > 1000
    assert np.nanmedian(err_mm) < 1.0
    m = pipeline.metrics()
    assert m.results == 100 and m.errors == 0 and m.sync["complete"] == 100


def test_studio_live_pipeline_exact_2d_gives_exact_3d_with_metrics():
    vrig = make_virtual_rig("ring4", fps=15, seed=3)
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter=None))
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 15)
        result = pipeline.latest()
        metrics = pipeline.metrics()
    frame = next(iter(result.frame_set.frames.values()))
    truth = vrig.truth(frame.index)
    err = np.linalg.norm(result.pose_3d.points - truth.joints_3d[0, :17], axis=-1)
    assert np.nanmax(err) < 1e-6
    assert metrics.errors == 0 and metrics.fps > 0
    assert set(metrics.latency_ms) == {"sync", "queue", "estimate_2d", "triangulate_3d", "filter",
                                       "glass_to_skeleton"}
    assert metrics.latency_ms["glass_to_skeleton"]["p50"] > 0
    hist = pipeline.latency_history()
    assert len(hist["glass_to_skeleton"]) >= metrics.results
    assert all(c["frames"] > 0 for c in metrics.cameras.values())


def test_stopping_the_pipeline_stops_the_studio_rendering_thread():
    """A rendering thread left running at interpreter exit aborted the GUI process inside native code (CI)."""
    vrig = make_virtual_rig("stereo2", fps=15, seed=3)
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter=None))
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 3)
        assert any(t.name == "studio-render" for t in threading.enumerate())
    assert not any(t.name == "studio-render" and t.is_alive() for t in threading.enumerate())


def test_a_camera_stopped_mid_run_leaves_the_others_running_and_comes_back():
    vrig = make_virtual_rig("ring4", fps=15, seed=4)
    sources = studio_sources(vrig)
    pipeline = Pipeline(sources, vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter="one-euro", max_wait_ms=150))
    pipeline._captures["cam02"].lost_after_s = 0.3
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 5)
        sources[1].set_available(False)
        assert wait_for(lambda: bool(pipeline.events.history("camera_lost")))
        n = pipeline.metrics().results
        assert wait_for(lambda: pipeline.metrics().results >= n + 8)  # the other three keep going
        partial = pipeline.latest()
        sources[1].set_available(True)
        assert wait_for(lambda: bool(pipeline.events.history("camera_back")))
        assert wait_for(lambda: not pipeline.latest().frame_set.missing)
        metrics = pipeline.metrics()
    assert partial.frame_set.missing == ("cam02",)
    assert np.isfinite(partial.pose_3d.points).all(axis=1).mean() > 0.7  # three views are enough
    assert not partial.pose_3d.views_used[1].any()
    assert metrics.errors == 0 and metrics.cameras["cam02"]["reconnects"] == 1
    assert metrics.sync["missing"]["cam02"] > 0


def test_calibration_names_that_do_not_match_the_sources_are_a_clear_error():
    vrig = make_virtual_rig("ring4", fps=15, seed=0)
    with pytest.raises(ValueError, match=r"sources \['webcam0'\] have no camera of that name"):
        Pipeline([SyntheticSource("webcam0")], vrig.studio.rig, StudioTruthEstimator(vrig))
    with pytest.raises(ValueError, match="several sources are named"):
        match_sources_to_rig(["cam01", "cam01"], vrig.studio.rig)
    with pytest.raises(ValueError, match="offline mode needs file"):
        Pipeline([SyntheticSource("cam01")], vrig.studio.rig, StudioTruthEstimator(vrig),
                 PipelineSettings(mode="offline"))
    with pytest.raises(ValueError, match="pipeline mode"):
        PipelineSettings(mode="fast")


def test_triangulate_poses_is_pure_and_nan_aware():
    vrig = make_virtual_rig("ring4", fps=15, seed=0, realtime=False)
    rig = vrig.studio.rig
    truth = vrig.truth(0)
    sk = get_skeleton("h36m17")
    kp = truth.joints_2d[:, 0, :17].copy()
    conf = np.ones((4, 17))
    kp[0, 3] = np.nan
    conf[1:, 5] = 0.0  # joint 5 seen by one camera only
    pose = triangulate_poses(rig, Poses2D(rig.names, kp, conf, sk), PipelineSettings())
    assert pose.points.shape == (17, 3) and pose.views_used.shape == (4, 17)
    assert np.all(np.isnan(pose.points[5]))
    ok = np.arange(17) != 5
    assert np.nanmax(np.linalg.norm(pose.points[ok] - truth.joints_3d[0, :17][ok], axis=-1)) < 1e-6
    with pytest.raises(ValueError, match="2D poses are for cameras"):
        triangulate_poses(rig.subset(["cam01", "cam02"]), Poses2D(rig.names, kp, conf, sk), PipelineSettings())


def test_a_failing_estimator_is_reported_and_processing_goes_on():
    vrig = make_virtual_rig("ring4", fps=15, seed=9)
    inner = StudioTruthEstimator(vrig)

    class Flaky(StudioTruthEstimator):
        calls = 0

        def estimate(self, frame_set, rig):
            Flaky.calls += 1
            if Flaky.calls % 3 == 0:
                raise RuntimeError("simulated model failure")
            return inner.estimate(frame_set, rig)

    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, Flaky(vrig), PipelineSettings(filter=None))
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 6 and pipeline.metrics().errors >= 2)
    errors = pipeline.events.history("error")
    assert errors and "2D estimation of frame set" in errors[0].message and "simulated model failure" in errors[0].message


def test_the_person_track_sees_each_frame_sets_3d_before_the_next_set_is_located(monkeypatch):
    """Live, a top-down backend's locator must be told frame set k's skeleton before it places the boxes of k + 1
    (an earlier 2D thread located the next set while a 3D thread was still triangulating the last one)."""
    vrig = make_virtual_rig("ring4", fps=15, seed=4)
    calls = []

    class SpyLocator:
        detector_names = ("spy",)

        def locate(self, frame_set):
            calls.append(("locate", frame_set.index))
            b = vrig.truth(frame_set.index).boxes[:, 0]  # (C, 4) exact studio boxes x0, y0, x1, y1
            boxes = np.c_[b[:, :2], b[:, 2:] - b[:, :2]]
            return PersonBoxes(list(vrig.studio.rig.names), boxes, ("tracked",) * 4, "tracking")

        def observe(self, poses, points, t_ns):
            calls.append(("observe", poses.frame_index))

        def close(self):
            pass

    class TopDownTruth(StudioTruthEstimator):
        top_down = True

        def estimate(self, frame_set, rig, boxes=None):
            assert boxes is not None
            time.sleep(0.1)  # a forward pass slower than the frame period: the next set is always waiting
            return super().estimate(frame_set, rig)

    monkeypatch.setattr("core.processing.make_locator", lambda est, rig, detectors: SpyLocator())
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, TopDownTruth(vrig), PipelineSettings(filter=None))
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 8)
    kinds = [k for k, _ in calls]
    n = len(kinds) // 2 * 2
    assert n >= 16 and kinds[:n] == ["locate", "observe"] * (n // 2)  # strictly alternating, never two locates
    assert pipeline.latest().poses_2d.box_source == ("tracked",) * 4
