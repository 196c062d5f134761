import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.geometry import Camera, CameraRig, matrix_to_rodrigues, rodrigues_to_matrix
from tests.conftest import shared_path

K = np.array([[900.0, 0, 640], [0, 910.0, 360], [0, 0, 1]])


def make_camera(dist=(-0.2, 0.05, 0.001, -0.002, 0.01), model="opencv"):
    return Camera.look_at("cam", (1280, 720), K, [3.0, 1.0, 1.5], [0, 0, 1], dist=np.asarray(dist),
                          distortion_model=model)


def points(n=200, seed=0):
    return np.random.default_rng(seed).uniform([-0.8, -0.8, 0.2], [0.8, 0.8, 1.8], size=(n, 3))


def test_project_matches_opencv():
    cam = make_camera()
    X = points()
    ours = cam.project(X)
    ref, _ = cv2.projectPoints(X, cam.rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(ours, ref[:, 0], atol=1e-9)


def test_fisheye_project_matches_opencv():
    cam = make_camera(dist=(0.05, -0.02, 0.003, -0.001), model="fisheye")
    X = points()
    ref, _ = cv2.fisheye.projectPoints(X[:, None], cam.rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(cam.project(X), ref[:, 0], atol=1e-9)


@pytest.mark.parametrize("model,dist", [("opencv", (-0.2, 0.05, 0.001, -0.002, 0.01)),
                                        ("fisheye", (0.05, -0.02, 0.003, -0.001)),
                                        ("h36m", (-0.2, 0.2, -0.001, -0.0007, -0.001))])
def test_undistort_inverts_distort(model, dist):
    cam = make_camera(dist, model)
    X = points()
    cam_pts = cam.world_to_camera(X)
    ideal = cam_pts[:, :2] / cam_pts[:, 2:]
    np.testing.assert_allclose(cam.undistort_normalized(cam.project(X)), ideal, atol=1e-10)


def test_undistort_matches_opencv():
    cam = make_camera()
    px = cam.project(points())
    ref = cv2.undistortPoints(px[:, None], cam.K, cam.dist, R=None, P=cam.K,
                              criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-14))[:, 0]
    np.testing.assert_allclose(cam.undistort_points(px), ref, atol=1e-6)


def test_center_projection_matrix_and_rays():
    cam = make_camera(dist=(0, 0, 0, 0, 0))
    np.testing.assert_allclose(cam.center, [3.0, 1.0, 1.5], atol=1e-12)
    X = points(10)
    Xh = np.c_[X, np.ones(10)]
    proj = Xh @ cam.projection_matrix.T
    np.testing.assert_allclose(proj[:, :2] / proj[:, 2:], cam.project(X), atol=1e-9)
    rays = cam.rays(cam.project(X))
    expected = (X - cam.center) / np.linalg.norm(X - cam.center, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, expected, atol=1e-12)


def test_points_behind_camera_are_nan():
    cam = make_camera()
    behind = cam.center + (cam.center - np.array([0, 0, 1.0]))
    assert np.isnan(cam.project(behind[None])).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_rodrigues_round_trip(rvec):
    rvec = np.asarray(rvec)
    R = rodrigues_to_matrix(rvec)
    np.testing.assert_allclose(R, cv2.Rodrigues(rvec)[0], atol=1e-9)
    np.testing.assert_allclose(rodrigues_to_matrix(matrix_to_rodrigues(R)), R, atol=1e-9)


def test_bad_camera_inputs_name_the_problem():
    with pytest.raises(ValueError, match="K must be 3x3"):
        Camera("a", (10, 10), np.eye(2))
    with pytest.raises(ValueError, match="not a rotation"):
        Camera("a", (10, 10), K, R=np.ones((3, 3)))
    with pytest.raises(ValueError, match="coefficients"):
        Camera("a", (10, 10), K, dist=np.zeros(3))
    with pytest.raises(ValueError, match="unknown distortion model"):
        Camera("a", (10, 10), K, distortion_model="weird")
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        make_camera().project(np.zeros((4, 2)))


def test_rig_project_shapes_names_and_units():
    cams = [make_camera().with_(name=f"c{i}") for i in range(3)]
    rig = CameraRig(cams)
    assert rig.project(points(7)).shape == (3, 7, 2)
    assert rig["c1"].name == "c1" and rig.names == ["c0", "c1", "c2"]
    with pytest.raises(KeyError, match="no camera named"):
        rig["zz"]
    with pytest.raises(ValueError, match="unique"):
        CameraRig([cams[0], cams[0]])
    mm = rig.to_units("mm")
    np.testing.assert_allclose(mm[0].center, rig[0].center * 1000)
    with pytest.raises(ValueError, match="has 2 cameras but the rig has 3"):
        rig.check_points_2d(np.zeros((2, 5, 2)))


def test_h36m_cameras_reproduce_dataset_2d():
    """Human3.6M's own distortion model: camera-frame 3D through K reproduces the dataset's 2D."""
    rig = CameraRig.load(shared_path("poses", "h36m", "cameras.pkl"), subject="S1")
    assert rig.units == "m" and len(rig) == 4
    assert all(c.distortion_model == "h36m" for c in rig)
    data = np.load(shared_path("poses", "h36m", "test_h36m_body3d.npz"), allow_pickle=True)
    names = [str(n) for n in data["imgname"]]
    S, part = data["S"], data["part"]
    import pickle
    with open(shared_path("poses", "h36m", "cameras.pkl"), "rb") as f:
        table = pickle.load(f)
    checked = 0
    for i, name in enumerate(names):
        subject = name.split("/")[0]
        cam_id = name.split("/")[1].split(".")[1]
        entry = table[(subject, cam_id)]
        cam = CameraRig.load(shared_path("poses", "h36m", "cameras.pkl"), subject=subject)[cam_id]
        X_cam = S[i][:, :3]
        # Camera-frame points: identity extrinsics.
        local = cam.with_(R=np.eye(3), t=np.zeros(3))
        np.testing.assert_allclose(local.project(X_cam), part[i][:, :2], atol=1e-3)
        np.testing.assert_allclose(cam.K[0, 0], float(entry["f"][0, 0]))
        checked += 1
    assert checked == len(names) > 0
