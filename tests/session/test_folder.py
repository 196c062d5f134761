import json

import numpy as np
import pytest

from core.records import Frame, FrameSet
from core.session.folder import FORMAT_VERSION, SessionManifest, SessionReader, SessionWriter
from core.studio.rig_presets import make_rig


def images(rig, k):
    out = {}
    for c, cam in enumerate(rig):
        w, h = cam.size
        im = np.full((h, w, 3), 30 * c + 5 * k, np.uint8)
        im[10:20, 10 + 3 * k:20 + 3 * k] = 255
        out[cam.name] = im
    return out


def test_round_trip_with_dropped_frames(tmp_path):
    rig = make_rig("stereo2", size=(96, 64))
    folder = tmp_path / "s"
    with SessionWriter(folder, rig, fps=25, source="cameras", settings={"note": "x"}) as w:
        for k in range(5):
            ims = images(rig, k)
            if k == 2:
                del ims["cam02"]
            w.write(k, ims, {n: 1000 + 40_000_000 * k + i for i, n in enumerate(rig.names)}, 1.7e9 + k / 25)
    r = SessionReader(folder)
    assert r.manifest.complete and r.manifest.frames == 5 and r.manifest.settings == {"note": "x"}
    assert r.manifest.format_version == FORMAT_VERSION and r.fps == 25 and r.num_frames == 5
    assert r.camera_names == rig.names
    np.testing.assert_allclose(r.rig.project(np.array([[0, 0, 1.0]])), rig.project(np.array([[0, 0, 1.0]])))
    ts = r.timestamps
    assert ts["dropped"].sum() == 1 and ts["camera"][ts["dropped"]][0] == "cam02"
    sets = list(r.frame_sets())
    assert [fs.index for fs in sets] == list(range(5))
    assert sets[2].missing == ("cam02",) and "cam02" not in sets[2].frames
    f = sets[3].frames["cam01"]
    assert f.t_capture_ns == 1000 + 3 * 40_000_000 and f.t_wall == pytest.approx(1.7e9 + 3 / 25)
    assert np.abs(f.image.astype(int) - images(rig, 3)["cam01"]).mean() < 3  # MJPEG
    assert np.abs(r.read_frame_set(4).frames["cam02"].image.astype(int) - images(rig, 4)["cam02"]).mean() < 3
    assert r.ground_truth() is None


def test_write_frame_set_and_interrupted_session(tmp_path):
    rig = make_rig("stereo2", size=(64, 48))
    w = SessionWriter(tmp_path / "s", rig, fps=30, source="cameras", flush_s=0.0)
    for k in range(3):
        frames = {n: Frame(n, k, 10 * k, 1.0 + k, im) for n, im in images(rig, k).items()}
        w.write_frame_set(FrameSet.from_frames(k, frames, rig.names))
    # No close(): a killed recorder. The manifest and timestamps are already on disk.
    r = SessionReader(tmp_path / "s")
    assert not r.manifest.complete and r.num_frames == 3
    w.close()
    assert SessionReader(tmp_path / "s").manifest.complete


def test_bad_input(tmp_path):
    rig = make_rig("stereo2", size=(64, 48))
    SessionWriter(tmp_path / "s", rig, fps=30, source="x").close()
    with pytest.raises(FileExistsError, match="already exists"):
        SessionWriter(tmp_path / "s", rig, fps=30, source="x")
    SessionWriter(tmp_path / "s", rig, fps=30, source="x", overwrite=True).close()
    w = SessionWriter(tmp_path / "t", rig, fps=30, source="x")
    with pytest.raises(ValueError, match="expected index 0"):
        w.write(3, images(rig, 0), {}, 0.0)
    with pytest.raises(ValueError, match="not in the rig"):
        w.write(0, {"cam09": images(rig, 0)["cam01"]}, {}, 0.0)
    # A frame the calibration cannot describe is still recorded (its video takes the frame's size); the mismatch
    # goes into the manifest and the calibration stays as it was.
    w.write(0, {"cam01": np.zeros((10, 10, 3), np.uint8)}, {}, 0.0)
    assert [(m["camera"], m["action"], m["actual"]) for m in w.manifest.size_mismatches] == [
        ("cam01", "refuse", [10, 10])]
    assert w.rig["cam01"].size == rig["cam01"].size
    w.close()
    w = SessionWriter(tmp_path / "t", rig, fps=30, source="x", overwrite=True)
    with pytest.raises(ValueError, match="fps"):
        SessionWriter(tmp_path / "u", rig, fps=0, source="x")
    with pytest.raises(FileNotFoundError):
        SessionReader(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="session.json"):
        SessionReader(tmp_path / "empty")
    manifest = json.loads((tmp_path / "s" / "session.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "s" / "session.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="newer"):
        SessionReader(tmp_path / "s")
    with pytest.raises(ValueError, match="not a ppt-mocap session"):
        SessionManifest.from_dict({"format": "other"})
