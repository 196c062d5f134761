import cv2
import numpy as np
import pytest

from calibration.extrinsics import DisconnectedCamerasError, calibrate_extrinsics
from calibration.intrinsics import NotEnoughViewsError, calibrate_intrinsics
from calibration.synthetic import detect_scene
from tests.calibration.conftest import N_POSES


def relative_pose_errors(rig, truth):
    """Per camera i > 0: (rotation error deg, translation error mm) of the pose relative to camera 0."""
    out = []
    for i in range(1, len(rig)):
        Rg = truth[i].R @ truth[0].R.T
        tg = truth[i].t - Rg @ truth[0].t
        Re = rig[i].R @ rig[0].R.T
        te = rig[i].t - Re @ rig[0].t
        ang = np.degrees(np.arccos(np.clip((np.trace(Re @ Rg.T) - 1) / 2, -1, 1)))
        out.append((ang, np.linalg.norm(te - tg) * 1000))
    return np.array(out)


def random_poses_only(dets):
    return {n: [d for d in v if d.frame < N_POSES] for n, v in dets.items()}


@pytest.fixture(scope="module")
def noise_free(scene, scene_detections, scene_intrinsics):
    return calibrate_extrinsics(random_poses_only(scene_detections), scene_intrinsics, scene.board)


def test_synthetic_rig_noise_free(scene, noise_free):
    res = noise_free
    err = relative_pose_errors(res.rig, scene.rig)
    print(f"\nnoise-free: max rotation error {err[:, 0].max():.4f} deg, max translation error {err[:, 1].max():.3f} mm,"
          f" RMS {res.rms_px:.3f} px, scale error {res.metric.relative_error * 100:+.4f} %")
    assert err[:, 0].max() < 0.05 and err[:, 1].max() < 1.0
    assert res.rms_px < 0.15 and abs(res.metric.relative_error) < 2e-4
    assert set(res.per_camera) == set(scene.rig.names)
    assert all(v["observations"] > 0 for v in res.per_camera.values())
    assert res.rig.names == scene.rig.names and np.allclose(res.rig[0].R, np.eye(3))
    assert res.rig.metadata["board"]["square_m"] == 0.08 and res.rig.metadata["bundle_adjusted"]


def test_synthetic_rig_with_half_pixel_noise(scene, scene_intrinsics):
    dets = random_poses_only(detect_scene(scene, noise_px=0.5, seed=1))
    res = calibrate_extrinsics(dets, scene_intrinsics, scene.board)
    err = relative_pose_errors(res.rig, scene.rig)
    print(f"\n0.5 px noise: rotation error {np.round(err[:, 0], 4)} deg, translation error "
          f"{np.round(err[:, 1], 2)} mm, RMS {res.rms_px:.3f} px, metric |error| "
          f"{res.metric.mean_abs_error_mm:.2f} mm")
    assert err[:, 0].max() < 0.1 and err[:, 1].max() < 5.0


def test_deterministic(scene, scene_detections, scene_intrinsics, noise_free):
    a = noise_free
    b = calibrate_extrinsics(random_poses_only(scene_detections), scene_intrinsics, scene.board)
    assert all(np.array_equal(x.R, y.R) and np.array_equal(x.t, y.t) for x, y in zip(a.rig, b.rig))


def test_flipped_corner_orders_are_detected_and_fixed(scene, scene_detections, scene_intrinsics, noise_free):
    dets = random_poses_only(scene_detections)
    board = scene.board
    perms = board.symmetries()
    flipped = dict(dets)
    flipped["cam02"] = [d.with_corners(d.corners[perms[3]]) if d.frame % 3 == 0 else d for d in dets["cam02"]]
    flipped["cam03"] = [d.with_corners(d.corners[perms[1]]) if d.frame % 4 == 1 else d for d in dets["cam03"]]
    n_flipped = sum(d.frame % 3 == 0 for d in dets["cam02"]) + sum(d.frame % 4 == 1 for d in dets["cam03"])
    ref = noise_free
    res = calibrate_extrinsics(flipped, scene_intrinsics, board)
    assert len(res.flips) >= n_flipped - 2  # a flip in the frame's reference camera shows up on the others
    err = relative_pose_errors(res.rig, ref.rig)
    assert err[:, 0].max() < 1e-3 and err[:, 1].max() < 0.05
    assert res.rms_px == pytest.approx(ref.rms_px, rel=1e-3)


def test_camera_never_seen_with_others_is_named(scene, scene_detections, scene_intrinsics):
    dets = random_poses_only(scene_detections)
    lonely = {n: list(v) for n, v in dets.items()}
    lonely["cam04"] = [d for d in dets["cam04"] if d.frame >= 15]
    for n in ("cam01", "cam02", "cam03"):
        lonely[n] = [d for d in dets[n] if d.frame < 15]
    with pytest.raises(DisconnectedCamerasError, match="cam04") as err:
        calibrate_extrinsics(lonely, scene_intrinsics, scene.board)
    assert "same time" in str(err.value)
    lonely["cam04"] = []
    with pytest.raises(DisconnectedCamerasError, match=r"\['cam04'\] never saw the board"):
        calibrate_extrinsics(lonely, scene_intrinsics, scene.board)


def test_bad_inputs(scene, scene_detections, scene_intrinsics):
    dets = random_poses_only(scene_detections)
    with pytest.raises(NotEnoughViewsError, match="at least 2 cameras"):
        calibrate_extrinsics({"cam01": dets["cam01"]}, scene_intrinsics, scene.board)
    with pytest.raises(ValueError, match="no intrinsics for camera"):
        calibrate_extrinsics({"cam01": dets["cam01"], "camX": dets["cam02"]}, scene_intrinsics, scene.board)
    small = dict(scene_intrinsics)
    small["cam02"] = small["cam02"].with_(size=(640, 360))
    with pytest.raises(ValueError, match="intrinsics are for 640x360"):
        calibrate_extrinsics(dets, small, scene.board)
    apart = {"cam01": [d for d in dets["cam01"] if d.frame % 2 == 0],
             "cam02": [d for d in dets["cam02"] if d.frame % 2 == 1]}
    with pytest.raises(DisconnectedCamerasError):
        calibrate_extrinsics(apart, scene_intrinsics, scene.board)


def test_refine_intrinsics_recovers_a_wrong_focal_length(scene, scene_detections, scene_intrinsics):
    # Two cameras and 15 frames keep this solve short (refining intrinsics is the slow mode).
    dets = {n: [d for d in scene_detections[n] if d.frame < 15] for n in ("cam02", "cam03")}
    wrong = {n: scene_intrinsics[n] for n in dets}
    K = wrong["cam03"].K.copy()
    K[0, 0] *= 1.01
    K[1, 1] *= 1.01
    wrong["cam03"] = wrong["cam03"].with_(K=K)
    res = calibrate_extrinsics(dets, wrong, scene.board, refine_intrinsics=True, fix_aspect=True)
    assert abs(res.rig["cam03"].K[0, 0] / 1000 - 1) < 0.002 and res.refined_intrinsics
    assert res.rms_px < 0.15


def test_stereo_matches_opencv_stereo_calibrate(opencv_stereo, opencv_board):
    intr = {n: calibrate_intrinsics(s, opencv_board).camera for n, s in opencv_stereo.items()}
    res = calibrate_extrinsics(opencv_stereo, intr, opencv_board)
    left = {d.frame: d for d in opencv_stereo["left"].detections}
    right = {d.frame: d for d in opencv_stereo["right"].detections}
    common = sorted(set(left) & set(right))
    obj = [opencv_board.object_points().astype(np.float32)] * len(common)
    rms, *_, R, T, _, _ = cv2.stereoCalibrate(
        obj, [left[f].corners.astype(np.float32) for f in common], [right[f].corners.astype(np.float32) for f in common],
        intr["left"].K.copy(), intr["left"].dist.copy(), intr["right"].K.copy(), intr["right"].dist.copy(), (640, 480),
        flags=cv2.CALIB_FIX_INTRINSIC, criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-12))
    ours = res.rig["right"]
    baseline_diff_mm = abs(np.linalg.norm(ours.t) - np.linalg.norm(T)) * 1000
    vec_diff_mm = np.linalg.norm(ours.t - T.ravel()) * 1000
    rot_diff = np.degrees(np.arccos(np.clip((np.trace(ours.R @ R.T) - 1) / 2, -1, 1)))
    print(f"\nstereo: baseline {np.linalg.norm(ours.t) * 1000:.3f} mm (OpenCV {np.linalg.norm(T) * 1000:.3f} mm), "
          f"translation difference {vec_diff_mm:.2e} mm, rotation difference {rot_diff:.2e} deg, "
          f"RMS ours {res.rms_px:.3f} px / OpenCV {rms:.3f} px")
    assert baseline_diff_mm < 0.5 and vec_diff_mm < 0.5 and rot_diff < 0.1
    assert res.metric.mean_abs_error_mm < 0.5


def test_charuco_rig_with_partial_views(scene):
    from calibration.boards import CharucoBoard
    from calibration.synthetic import render_scene

    board = CharucoBoard(7, 5, 0.1, 0.075, "4X4_50")
    rig = scene.rig.subset(["cam01", "cam02", "cam03"])
    charuco = render_scene(board, rig, n_poses=10, seed=3, px_per_square=60)
    dets = detect_scene(charuco)
    assert all(len(v) >= 6 for v in dets.values())
    intr = {c.name: c.with_(R=np.eye(3), t=np.zeros(3)) for c in rig}
    res = calibrate_extrinsics(dets, intr, board)
    err = relative_pose_errors(res.rig, rig)
    # OpenCV's ChArUco corners are less exact than chessboard corners on these oblique renders (0.13 px mean,
    # a few at 2-3 px, against 0.05 px), and 10 poses are few: a looser bound than the checkerboard's.
    print(f"\nChArUco: {np.round(err[:, 0], 3)} deg, {np.round(err[:, 1], 2)} mm")
    assert err[:, 0].max() < 0.1 and err[:, 1].max() < 10.0 and not res.flips
    assert abs(res.metric.relative_error) < 5e-4
