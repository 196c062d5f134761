import json

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bench.triangulation import dlt_per_point_reference, make_problem, ring_rig
from core.geometry import CameraRig, load_rig, triangulate, triangulate_sequence
from core.geometry.skeletons import BODY25B, POSE2SIM_BODY25B_MARKERS
from core.session.openpose_json import read_openpose_session
from core.session.trc import read_trc
from tests.conftest import shared_path


def test_noise_free_ring_is_exact_and_shapes():
    rig = ring_rig(4)
    X, _, _ = make_problem(rig, 20)
    res = triangulate(rig, rig.project(X))
    assert res.points_3d.shape == (340, 3) and res.reprojection_error.shape == (340,)
    assert res.views_used.shape == (4, 340) and res.views_used.all()
    np.testing.assert_allclose(res.points_3d, X, atol=1e-9)
    assert np.nanmax(res.reprojection_error) < 1e-6


def test_vectorised_equals_per_point_reference_with_noise_and_weights():
    rig = ring_rig(5)
    X, pts, conf = make_problem(rig, 40, noise_px=3.0, seed=3)
    pts[1, ::7] = np.nan  # some missing observations
    conf[2, ::5] = 0.0
    ref = dlt_per_point_reference(rig, pts, np.where(np.isnan(pts).any(-1), 0, conf))
    fast = triangulate(rig, pts, conf, outliers=None).points_3d
    np.testing.assert_allclose(fast, ref, atol=1e-8)


def test_missing_views_give_nan_and_two_views_suffice():
    rig = ring_rig(4)
    X, _, _ = make_problem(rig, 5)
    pts = rig.project(X)
    one_view = pts.copy()
    one_view[1:] = np.nan
    assert np.isnan(triangulate(rig, one_view).points_3d).all()
    conf = np.zeros((4, len(X)))
    conf[:2] = 1
    res = triangulate(rig, pts, conf)
    np.testing.assert_allclose(res.points_3d, X, atol=1e-9)
    assert (res.views_used.sum(axis=0) == 2).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 2)), min_size=1, max_size=20),
       st.integers(0, 3))
def test_property_project_then_triangulate_is_identity(points, nan_view):
    rig = ring_rig(4)
    X = np.asarray(points, dtype=float)
    pts = rig.project(X)
    np.testing.assert_allclose(triangulate(rig, pts).points_3d, X, atol=1e-7)
    pts[nan_view] = np.nan  # NaN in one view: still exact from the others
    np.testing.assert_allclose(triangulate(rig, pts).points_3d, X, atol=1e-7)
    pts[:] = np.nan  # NaN everywhere: NaN out
    assert np.isnan(triangulate(rig, pts).points_3d).all()


@pytest.mark.parametrize("method", ["worst-view", "ransac"])
def test_robust_methods_reject_a_wrong_view(method):
    rig = ring_rig(6)
    X, _, _ = make_problem(rig, 50, seed=1)
    rng = np.random.default_rng(1)
    pts = rig.project(X) + rng.normal(0, 1.0, (6, len(X), 2))
    bad = rng.random(len(X)) < 0.2
    pts[2, bad] += rng.uniform(100, 300, (bad.sum(), 1)) * rng.choice([-1, 1], (bad.sum(), 2))
    plain = np.linalg.norm(triangulate(rig, pts, outliers=None).points_3d - X, axis=1)
    robust_res = triangulate(rig, pts, outliers=method, threshold_px=10)
    robust = np.linalg.norm(robust_res.points_3d - X, axis=1)
    assert np.median(robust[bad]) < 0.2 * np.median(plain[bad])
    assert not robust_res.views_used[2, bad].any()


def test_refinement_does_not_increase_reprojection_error():
    rig = ring_rig(4)
    X, pts, conf = make_problem(rig, 30, noise_px=2.0, seed=5)
    dlt = triangulate(rig, pts, outliers=None)
    refined = triangulate(rig, pts, outliers=None, refine=True)
    assert np.mean(refined.reprojection_error) <= np.mean(dlt.reprojection_error) + 1e-9


def test_bad_inputs_name_the_problem():
    rig = ring_rig(4)
    with pytest.raises(ValueError, match=r"expected shape \(C, N, 2\)"):
        triangulate(rig, np.zeros((4, 10)))
    with pytest.raises(ValueError, match="has 3 cameras but the rig has 4"):
        triangulate(rig, np.zeros((3, 10, 2)))
    with pytest.raises(ValueError, match="confidence"):
        triangulate(rig, np.zeros((4, 10, 2)), np.ones((4, 9)))
    with pytest.raises(ValueError, match="outliers must be"):
        triangulate(rig, np.zeros((4, 10, 2)), outliers="magic")
    with pytest.raises(ValueError, match=r"\(T, C, J, 2\)"):
        triangulate_sequence(rig, np.zeros((4, 10, 2)))


# --------------------------------------------------------------------------------------------------
# Real data
def test_pose2sim_session_reproduces_reference_trc():
    """Triangulating the real session's OpenPose 2D reproduces Pose2Sim's TRC within 1 mm median
    on frames where all four cameras see the joint."""
    base = shared_path("sessions", "pose2sim_balancing")
    rig = CameraRig.load(base / "calibration.toml")
    pts, conf = read_openpose_session(sorted((base / "openpose_2d").glob("cam*_json")))
    ref, names, fps, units = read_trc(next((base / "reference_3d").glob("*.trc")))
    assert fps == 60 and units == "m" and len(names) == 21
    idx = [BODY25B.index(POSE2SIM_BODY25B_MARKERS[n]) for n in names]
    res = triangulate_sequence(rig, pts[:, :, idx], conf[:, :, idx], min_confidence=0.3, outliers=None)
    all_four = res.views_used.all(axis=1)  # (T, J)
    err_mm = np.linalg.norm(res.points_3d - ref, axis=-1) * 1000
    assert all_four.sum() > 1000
    assert np.median(err_mm[all_four]) < 1.0


def _panoptic(band: str):
    folder = shared_path("multiview_gt", "panoptic", band)
    rig = load_rig(folder / f"calibration_{band}.json")
    joints = []
    for f in sorted((folder / "hdPose3d_stage1_coco19").glob("*.json")):
        for body in json.loads(f.read_text())["bodies"]:
            j = np.asarray(body["joints19"]).reshape(-1, 4)
            joints.append(j[j[:, 3] > 0.1, :3] / 100.0)  # cm -> m, confident joints only
    return rig, np.concatenate(joints)


def _campus():
    folder = shared_path("multiview_gt", "campus")
    rig = load_rig(folder / "calibration_campus.json")
    mat = scipy.io.loadmat(folder / "actorsGT.mat")
    X = [mat["actor3D"][0, a][f, 0] for a in range(mat["actor3D"].shape[1])
         for f in range(mat["actor3D"][0, a].shape[0]) if mat["actor3D"][0, a][f, 0].size]
    return rig, mat, np.concatenate(X)


@pytest.mark.parametrize("band", ["160906_band1", "160906_band2"])
def test_panoptic_noise_free_under_0_1_mm(band):
    rig, X = _panoptic(band)
    res = triangulate(rig, rig.project(X))
    assert np.max(np.linalg.norm(res.points_3d - X, axis=1)) * 1000 < 0.1


def test_campus_noise_free_under_0_1_mm_and_matches_dataset_2d():
    rig, mat, X = _campus()
    res = triangulate(rig, rig.project(X))
    assert np.max(np.linalg.norm(res.points_3d - X, axis=1)) * 1000 < 0.1
    # The dataset's own 2D: our projection of its 3D agrees (0.7 px mean per the data's README).
    errors = []
    for a in range(mat["actor3D"].shape[1]):
        for f in range(mat["actor3D"][0, a].shape[0]):
            X0 = mat["actor3D"][0, a][f, 0]
            if X0.size:
                for c in range(len(rig)):
                    d2 = mat["actor2D"][0, a][f, 0][0, c].astype(float)
                    errors.append(np.linalg.norm(rig[c].project(X0) - d2, axis=1))
    assert np.mean(np.concatenate(errors)) < 1.0


@pytest.mark.parametrize("cameras", [4, 8, 31])
@pytest.mark.parametrize("noise_px", [1.0, 2.0])
def test_panoptic_robust_to_one_wrong_view(cameras, noise_px):
    """One view of 20% of the joints replaced by a wrong detection 100-300 px off: the robust median
    error stays within 1.5x of the clean case's at the same noise."""
    rig, X = _panoptic("160906_band1")
    rig = rig.subset(np.linspace(0, len(rig) - 1, cameras).round().astype(int))
    rng = np.random.default_rng(cameras)
    pts = rig.project(X) + rng.normal(0, noise_px, (len(rig), len(X), 2))
    clean = np.linalg.norm(triangulate(rig, pts).points_3d - X, axis=1)
    corrupted = pts.copy()
    bad = rng.random(len(X)) < 0.2
    view = rng.integers(0, len(rig), len(X))
    offset = rng.uniform(100, 300, len(X))[:, None] * np.stack(
        [np.cos(a := rng.uniform(0, 2 * np.pi, len(X))), np.sin(a)], axis=1)
    corrupted[view[bad], np.nonzero(bad)[0]] += offset[bad]
    robust = np.linalg.norm(triangulate(rig, corrupted).points_3d - X, axis=1)
    assert np.median(robust) <= 1.5 * np.median(clean)
    plain = np.linalg.norm(triangulate(rig, corrupted, outliers=None).points_3d - X, axis=1)
    assert np.median(plain[bad]) > np.median(robust[bad])
