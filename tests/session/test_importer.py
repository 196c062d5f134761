"""Synchronised videos and their calibration -> a session folder (the real Pose2Sim videos)."""

import numpy as np
import pytest

from core.session.folder import SessionReader
from core.session.importer import import_videos
from tests.conftest import shared_path


def test_pose2sim_videos_become_a_session_keeping_their_pixels(tmp_path):
    base = shared_path("sessions", "pose2sim_balancing")
    videos = {f"cam_0{i}": base / "videos" / f"cam0{i}.mp4" for i in range(1, 5)}
    out = import_videos(videos, base / "calibration.toml", tmp_path / "s", frames=3)
    r = SessionReader(out)
    assert r.camera_names == ["cam_01", "cam_02", "cam_03", "cam_04"] and r.num_frames == 3 and r.fps == 60
    # cam_01/02 videos are 1080 wide for a 1088-wide calibration: the size follows the video, K stays.
    assert r.rig["cam_01"].size == (1080, 1920) and r.rig["cam_03"].size == (1088, 1920)
    from core.geometry import CameraRig

    calib = CameraRig.load(base / "calibration.toml")
    np.testing.assert_allclose(r.rig["cam_01"].K, calib["cam_01"].K)
    assert r.manifest.settings["size_changes"]["cam_01"] == {"calibrated": [1088, 1920], "video": [1080, 1920]}
    fs = r.read_frame_set(2)
    assert fs.frames["cam_01"].image.shape == (1920, 1080, 3)
    np.testing.assert_array_equal(r.timestamps["t_capture_ns"][::4], np.round(np.arange(3) * 1e9 / 60))


def test_bad_inputs_name_the_problem(tmp_path):
    base = shared_path("sessions", "pose2sim_balancing")
    with pytest.raises(ValueError, match=r"unknown \['webcam'\], without a video \['cam_02', 'cam_03', 'cam_04'\]"):
        import_videos({"cam_01": base / "videos" / "cam01.mp4", "webcam": base / "videos" / "cam02.mp4"},
                      base / "calibration.toml", tmp_path / "s")
    with pytest.raises(FileNotFoundError, match="video not found"):
        import_videos({f"cam_0{i}": tmp_path / f"{i}.mp4" for i in range(1, 5)}, base / "calibration.toml",
                      tmp_path / "s")
