"""One size-mismatch policy for frames vs calibration (issue 14, item 2): crop/pad, scale, refuse."""

import numpy as np
import pytest

from core.geometry import CameraRig
from core.geometry.camera import Camera
from core.geometry.image_size import (CROP_PAD_MAX_PX, SizeMismatchError, classify_size, reconcile_rig,
                                      reconcile_size, scale_intrinsics)
from tests.conftest import shared_path


def camera(size=(1920, 1080), name="cam"):
    K = np.array([[1400.0, 0, 955.0], [0, 1410.0, 545.0], [0, 0, 1]])
    return Camera.look_at(name, size, K, [3.0, -2.0, 1.5], [0, 0, 1.0], dist=np.array([-0.1, 0.02, 0, 0, 0]))


def test_classify_sizes():
    assert classify_size((1088, 1920), (1088, 1920)) == "match"
    assert classify_size((1088, 1920), (1080, 1920)) == "crop-pad"  # the Pose2Sim videos
    assert classify_size((1920, 1080), (1920, 1080 + CROP_PAD_MAX_PX)) == "crop-pad"
    assert classify_size((1920, 1080), (1280, 720)) == "scale"
    assert classify_size((1920, 1080), (640, 480)) == "refuse"  # another aspect ratio
    assert classify_size((1920, 1080), (1080, 1920)) == "refuse"  # portrait vs landscape
    with pytest.raises(ValueError, match="positive"):
        classify_size((0, 1080), (1920, 1080))


def test_scaled_intrinsics_project_like_a_resized_image():
    cam = camera()
    small = scale_intrinsics(cam, (1280, 720))
    X = np.random.default_rng(0).uniform([-0.5, -0.5, 0.5], [0.5, 0.5, 1.8], (50, 3))
    s = 1280 / 1920
    # cv2.resize maps pixel centres x -> (x + 0.5) s - 0.5
    np.testing.assert_allclose(small.project(X), (cam.project(X) + 0.5) * s - 0.5, atol=1e-9)
    assert small.size == (1280, 720) and np.allclose(small.dist, cam.dist)


def test_reconcile_the_real_pose2sim_calibration_with_its_videos():
    import cv2

    base = shared_path("sessions", "pose2sim_balancing")
    rig = CameraRig.load(base / "calibration.toml")
    sizes = {}
    for i, name in enumerate(rig.names):
        cap = cv2.VideoCapture(str(base / "videos" / f"cam0{i + 1}.mp4"))
        sizes[name] = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
    adapted, mismatches = reconcile_rig(rig, sizes)
    assert [(m.camera, m.action) for m in mismatches] == [("cam_01", "crop-pad"), ("cam_02", "crop-pad")]
    assert adapted["cam_01"].size == (1080, 1920) and np.array_equal(adapted["cam_01"].K, rig["cam_01"].K)
    assert "1080x1920 px but the calibration says 1088x1920" in mismatches[0].message
    d = mismatches[0].as_dict()
    assert d["calibrated"] == [1088, 1920] and d["actual"] == [1080, 1920] and d["action"] == "crop-pad"
    # Landscape frames for a portrait calibration: refused, naming the camera, both sizes and what to do.
    with pytest.raises(SizeMismatchError, match=r"cam_03.*1920x1080 px but the calibration says 1088x1920.*calibrate"):
        reconcile_rig(rig, {"cam_03": (1920, 1080)})
    kept, refused = reconcile_rig(rig, {"cam_03": (1920, 1080)}, refuse=False)
    assert refused[0].action == "refuse" and kept["cam_03"].size == rig["cam_03"].size


def test_reconcile_size_keeps_matching_cameras():
    cam = camera()
    assert reconcile_size(cam, (1920, 1080)) == (cam, None)
