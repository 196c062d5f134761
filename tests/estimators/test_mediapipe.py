"""MediaPipe BlazePose backend on the real Pose2Sim frames (optional extra: skipped when not installed)."""

import importlib.util

import cv2
import numpy as np
import pytest

from core.capture.frame import Frame, FrameSet
from core.geometry import CameraRig, get_skeleton
from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.pipeline import PipelineSettings, triangulate_poses
from core.session.trc import read_trc
from tests.conftest import shared_path

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                reason="optional extra not installed: pip install 'ppt-mocap[mediapipe]'")


@pytest.fixture(scope="module")
def estimator():
    from core.estimators.mediapipe_pose import MediaPipeEstimator, bundle_path, setup_mediapipe

    if not bundle_path().exists():
        try:
            setup_mediapipe()
        except (RuntimeError, OSError) as exc:
            pytest.skip(f"BlazePose weights not available (run `ppt-mocap setup mediapipe`): {exc}")
    est = MediaPipeEstimator()
    yield est
    est.close()


def test_blazepose_on_the_real_pose2sim_frames_agrees_with_openpose_and_the_reference(estimator):
    from core.estimators.files import OpenPoseJSONEstimator

    base = shared_path("sessions", "pose2sim_balancing")
    rig = CameraRig.load(base / "calibration.toml")
    caps = [cv2.VideoCapture(str(base / "videos" / f"cam0{i}.mp4")) for i in range(1, 5)]
    openpose = OpenPoseJSONEstimator(base / "openpose_2d", rig.names)
    coco, b25 = get_skeleton("coco17"), get_skeleton("body25b")
    ref, names, _, _ = read_trc(next((base / "reference_3d").glob("*.trc")))
    common = [n for n in names if POSE2SIM_BODY25B_MARKERS[n] in coco.joints]
    d2, d3 = [], []
    for k in range(4):
        frames = {}
        for cam, cap in zip(rig.names, caps):
            ok, img = cap.read()
            assert ok
            frames[cam] = Frame(cam, k, int(k * 1e9 / 60), 0.0, img)
        fs = FrameSet.from_frames(k, frames, rig.names)
        poses = estimator.estimate(fs, rig)
        assert poses.keypoints.shape == (4, 17, 2) and poses.skeleton.name == "coco17"
        op = openpose.estimate(fs, rig).keypoints[:, [b25.index(n) for n in coco.joints]]
        d2.append(np.linalg.norm(poses.keypoints - op, axis=-1))
        pts = triangulate_poses(rig, poses, PipelineSettings()).points
        ours = pts[[coco.index(POSE2SIM_BODY25B_MARKERS[n]) for n in common]]
        d3.append(np.linalg.norm(ours - ref[k, [names.index(n) for n in common]], axis=-1) * 1000)
    for cap in caps:
        cap.release()
    assert np.nanmedian(d2) < 30.0  # px on 1088x1920 portrait frames (two different detectors)
    assert np.nanmedian(d3) < 80.0  # mm against Pose2Sim's OpenPose-based reference
    assert np.isfinite(np.array(d3)).mean() > 0.9


def test_missing_bundle_is_a_clear_error(tmp_path):
    from core.estimators.mediapipe_pose import MediaPipeEstimator

    with pytest.raises(FileNotFoundError, match="run `ppt-mocap setup mediapipe`"):
        MediaPipeEstimator(model_path=tmp_path / "none.task")
