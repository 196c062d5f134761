"""2D backends behind one interface and one factory: PPT (random init, labelled), OpenPose JSON, bad input."""

import numpy as np
import pytest

from core.estimators import build_backend
from core.geometry import get_skeleton
from core.records import Frame, FrameSet, Poses2D
from core.studio.sources import make_virtual_rig
from tests.conftest import shared_path


def test_ppt_backend_batches_views_and_returns_kept_tokens():
    vrig = make_virtual_rig("ring4", fps=30, seed=2, realtime=False)
    rig = vrig.studio.rig.subset(["cam01", "cam02", "cam03"])
    fs_full, _ = vrig.read_set(0)
    frames = {c: fs_full.frames[c] for c in ("cam01", "cam03")}  # cam02 missing
    fs = FrameSet.from_frames(0, frames, rig.names)
    est = build_backend("ppt", preset="multiview_ppt_s", num_threads=1)
    assert "RANDOM INITIALISATION" in est.description and est.settings()["random_init"]
    truth = vrig.truth(0).boxes[[0, 1, 2], 0]  # the person's box per view (x0, y0, x1, y1)
    boxes = np.concatenate([truth[:, :2], truth[:, 2:] - truth[:, :2]], 1)
    poses = est.estimate(fs, rig, boxes=boxes)
    assert poses.keypoints.shape == (3, 17, 2) and poses.confidence.shape == (3, 17)
    assert np.isnan(poses.keypoints[1]).all() and (poses.confidence[1] == 0).all()
    assert np.isfinite(poses.keypoints[[0, 2]]).all()
    assert len(poses.kept_tokens) == 3 and poses.token_grid == (16, 16)
    assert [k.shape[0] for k in poses.kept_tokens] == [3, 3, 3]
    assert (poses.kept_tokens[0][1] == -1).all() and (poses.kept_tokens[0][0] >= 0).all()
    assert poses.kept_tokens[0].shape[1] > poses.kept_tokens[-1].shape[1]  # pruned stage by stage
    assert poses.token_to_image.shape == (3, 2, 3)
    assert {"forward", "preprocess"} <= set(poses.timings)
    # keypoints lie inside the crop that was fed to the model (mapped back to image pixels)
    corners = np.array([[0, 0], [255, 255]], float) @ poses.token_to_image[0][:, :2].T + poses.token_to_image[0][:, 2]
    lo, hi = corners.min(axis=0) - 1, corners.max(axis=0) + 1
    assert ((poses.keypoints[0] >= lo) & (poses.keypoints[0] <= hi)).all()


def test_ppt_backend_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        build_backend("ppt", weights=tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="crop"):  # crops come from the localisation stage (core.locate) only
        build_backend("ppt", crop="full")
    with pytest.raises(ValueError, match="unknown 2D backend 'yolo'"):
        build_backend("yolo")
    with pytest.raises(ValueError, match="re-processing a session"):
        build_backend("recorded")


def test_openpose_json_backend_looks_up_frames_by_index():
    base = shared_path("sessions", "pose2sim_balancing")
    from core.geometry import CameraRig

    rig = CameraRig.load(base / "calibration.toml")
    est = build_backend("openpose-json", rig, keypoints=base / "openpose_2d")
    assert est.skeleton.name == "body25b" and est.num_frames == 100
    img = np.zeros((4, 4, 3), np.uint8)
    fs = FrameSet.from_frames(0, {c: Frame(c, 42, 0, 0.0, img) for c in rig.names}, rig.names)
    poses = est.estimate(fs, rig)
    assert poses.frame_index == 42 and np.allclose(poses.keypoints[0], est.keypoints_at("cam_01", 42)[:, :2],
                                                   equal_nan=True)
    late = FrameSet.from_frames(1, {c: Frame(c, 500, 0, 0.0, img) for c in rig.names}, rig.names)
    assert np.isnan(est.estimate(late, rig).keypoints).all()
    with pytest.raises(ValueError, match="needs a keypoint folder"):
        build_backend("openpose-json", rig)


def test_poses2d_checks_shapes():
    sk = get_skeleton("coco17")
    with pytest.raises(ValueError, match=r"expected \(C, J, 2\)"):
        Poses2D(["a"], np.zeros((1, 5, 2)), np.zeros((1, 17)), sk)
    assert Poses2D.empty(["a", "b"], sk).keypoints.shape == (2, 17, 2)
