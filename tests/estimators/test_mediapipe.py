"""MediaPipe BlazePose backend on the real Pose2Sim frames (optional extra: skipped when not installed)."""

import importlib.util

import cv2
import numpy as np
import pytest

from core.geometry import CameraRig, get_skeleton
from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.processing import PipelineSettings, triangulate_poses
from core.records import Frame, FrameSet
from core.session.trc import read_trc
from tests.conftest import shared_path

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                reason="optional extra not installed: pip install 'ppt-mocap[mediapipe]'")


@pytest.fixture(scope="module")
def estimator():
    from core.estimators.mediapipe_pose import MediaPipeEstimator
    from core.mediapipe_models import bundle_path, setup_mediapipe

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


def test_setup_offers_only_the_model_the_wheel_holds_and_says_why(monkeypatch, capsys):
    """The mediapipe 0.10.21 wheel holds pose_landmark_full.tflite (and the detector) only: lite and heavy are
    refused before anything is downloaded, with the reason."""
    import subprocess

    from app.cli import main
    from core.mediapipe_models import VARIANTS

    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded for a variant that cannot be set up")

    monkeypatch.setattr(subprocess, "run", no_download)
    assert VARIANTS == ("full",)
    for variant in ("lite", "heavy"):
        assert main(["setup", "mediapipe", "--variant", variant]) == 2
        err = capsys.readouterr().err
        assert "holds only pose_landmark_full.tflite" in err and "use --variant full" in err
        assert "use mediapipe==0.10.21" not in err


def test_setup_names_what_a_wrong_wheel_holds(tmp_path):
    import zipfile

    from core.mediapipe_models import setup_mediapipe

    wheel = tmp_path / "mediapipe-0.10.9-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mediapipe/modules/pose_detection/pose_detection.tflite", b"x")
    with pytest.raises(ValueError, match=r"its pose models: \['pose_detection.tflite'\].*expected the "
                                         r"mediapipe==0.10.21 wheel"):
        setup_mediapipe("full", wheel=wheel, root=tmp_path, force=True)
    (tmp_path / "not.whl").write_text("hello")
    with pytest.raises(ValueError, match="not a wheel"):
        setup_mediapipe("full", wheel=tmp_path / "not.whl", root=tmp_path, force=True)


def test_no_traceback_at_exit_when_the_estimator_is_never_closed():
    """mediapipe's PoseLandmarker.__del__ printed "'NoneType' object is not callable" at interpreter exit."""
    import subprocess
    import sys
    import textwrap

    from core.mediapipe_models import bundle_path
    from tests.conftest import PROJECT_ROOT

    if not bundle_path().exists():
        pytest.skip("BlazePose weights not set up (`ppt-mocap setup mediapipe`)")
    video = shared_path("sessions", "pose2sim_balancing", "videos", "cam01.mp4")
    script = textwrap.dedent(f"""
        import cv2
        from core.records import Frame, FrameSet
        from core.estimators.mediapipe_pose import MediaPipeEstimator
        from core.geometry import CameraRig
        rig = CameraRig.load({str(video.parents[1] / "calibration.toml")!r}).subset(["cam_01"])
        ok, img = cv2.VideoCapture({str(video)!r}).read()
        est = MediaPipeEstimator()
        poses = est.estimate(FrameSet.from_frames(0, {{"cam_01": Frame("cam_01", 0, 0, 0.0, img)}}, rig.names), rig)
        print("JOINTS", int((poses.confidence > 0.5).sum()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "JOINTS" in done.stdout and int(done.stdout.split("JOINTS")[1]) > 5
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]
