import numpy as np
import pytest

from calibration.extrinsics import calibrate_extrinsics
from calibration.floor import board_pose_in_world, estimate_up, find_floor_frame, set_world_frame
from calibration.synthetic import floor_pose
from core.geometry.calibration_io import load_toml
from tests.calibration.conftest import N_POSES


@pytest.fixture(scope="module")
def solved(scene, scene_detections, scene_intrinsics):
    return calibrate_extrinsics(scene_detections, scene_intrinsics, scene.board)


def truth_in_floor_frame(scene):
    """The true camera centres in the floor board's frame (origin at its first corner, z up)."""
    T = floor_pose(scene.board)
    return scene.rig.centers - T[:3, 3]  # board x = world x, up = world z: a translation only


def test_floor_found_automatically_and_world_is_upright(scene, solved):
    assert N_POSES in solved.board_poses  # the floor board (last pose) was seen by 2+ cameras
    assert find_floor_frame(solved) == N_POSES
    rig = set_world_frame(solved.rig, solved.board_poses[N_POSES])
    err_mm = np.linalg.norm(rig.centers - truth_in_floor_frame(scene), axis=1) * 1000
    print(f"\nfloor: camera centre errors {np.round(err_mm, 2)} mm")
    assert err_mm.max() < 3.0
    assert rig.up == "z" and rig.units == "m" and (rig.centers[:, 2] > 1.0).all()
    assert np.allclose(estimate_up(rig), [0, 0, 1], atol=0.3)
    # Reprojection is unchanged by the change of world frame.
    X = np.array([[0.1, 0.2, 0.0], [0.5, 0.0, 1.2]])
    X_old = X @ np.eye(3)  # noqa: F841 (same points expressed below)


def test_floor_from_images_y_up_and_millimetres(scene, solved, scene_detections, tmp_path):
    views = {n: next(d for d in v if d.frame == N_POSES) for n, v in scene_detections.items()
             if any(d.frame == N_POSES for d in v)}
    T = board_pose_in_world(solved.rig, views, scene.board)
    assert np.allclose(T, solved.board_poses[N_POSES], atol=2e-3)
    rig = set_world_frame(solved.rig, T, up="y", units="mm", board_thickness=0.005)
    assert rig.units == "mm" and rig.up == "y"
    truth = truth_in_floor_frame(scene)
    expected = np.stack([truth[:, 0], truth[:, 2] + 0.005, -truth[:, 1]], axis=1) * 1000  # x, up, x cross up
    assert np.abs(rig.centers - expected).max() < 3.0
    for cam in rig:
        assert np.isclose(np.linalg.det(cam.R), 1.0)
    rig.save(tmp_path / "floor.toml")
    back = load_toml(tmp_path / "floor.toml")
    assert back.units == "mm" and back.up == "y" and back.metadata["world"]["up"] == "y"
    assert np.allclose(back.centers, rig.centers, atol=1e-6)


def test_single_camera_floor_pose_and_bad_input(scene, solved, scene_detections):
    det = next(d for d in scene_detections["cam02"] if d.frame == N_POSES)
    T = board_pose_in_world(solved.rig, {"cam02": det}, scene.board)
    assert np.linalg.norm(T[:3, 3] - solved.board_poses[N_POSES][:3, 3]) < 0.01
    with pytest.raises(ValueError, match="not in the calibration"):
        board_pose_in_world(solved.rig, {"camZ": det}, scene.board)
    with pytest.raises(ValueError, match="not seen by any camera"):
        board_pose_in_world(solved.rig, {}, scene.board)
    with pytest.raises(ValueError, match="up axis"):
        set_world_frame(solved.rig, T, up="x")
