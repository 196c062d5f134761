"""Rotations and point-set alignment (core/geometry/alignment.py) against OpenCV and known transforms."""

import cv2
import numpy as np
import pytest

from core.geometry.alignment import kabsch, rigid_transform, rodrigues_to_matrix, similarity_transform


def _rotations(n, seed=0):
    return rodrigues_to_matrix(np.random.default_rng(seed).normal(size=(n, 3)))


def test_rodrigues_matches_opencv_batched_and_single():
    rv = np.random.default_rng(0).normal(size=(6, 3))
    rv[0] = 0
    R = rodrigues_to_matrix(rv)
    assert R.shape == (6, 3, 3)
    for r, M in zip(rv, R):
        np.testing.assert_allclose(M, cv2.Rodrigues(r)[0], atol=1e-12)
        np.testing.assert_allclose(rodrigues_to_matrix(r), M, atol=1e-15)
    assert rodrigues_to_matrix(rv.reshape(2, 3, 3)).shape == (2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rodrigues_to_matrix(np.zeros(4))


def test_kabsch_recovers_rotations_and_never_reflects():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(8, 3))
    R = _rotations(4)
    dst = np.einsum("tij,kj->tki", R, src)
    np.testing.assert_allclose(kabsch(src, dst), R, atol=1e-9)  # shared src broadcast over 4 targets
    mirrored = src * np.array([1, 1, -1])  # the best orthogonal map is a reflection: kabsch stays a rotation
    assert np.linalg.det(kabsch(src, mirrored)) == pytest.approx(1.0)


def test_rigid_and_similarity_transforms_recover_known_motion():
    rng = np.random.default_rng(2)
    src = rng.normal(size=(10, 3))
    R, t = _rotations(1, seed=3)[0], np.array([0.3, -1.2, 2.0])
    R_est, t_est = rigid_transform(src, src @ R.T + t)
    np.testing.assert_allclose(R_est, R, atol=1e-9)
    np.testing.assert_allclose(t_est, t, atol=1e-9)
    s, R_sim, t_sim = similarity_transform(src, 2.5 * src @ R.T + t)
    assert s == pytest.approx(2.5)
    np.testing.assert_allclose(R_sim, R, atol=1e-9)
    np.testing.assert_allclose(t_sim, t, atol=1e-9)
