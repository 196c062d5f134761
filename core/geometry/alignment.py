"""Rotations and point-set alignment shared by calibration, export and metrics (numpy, batched).

* :func:`rodrigues_to_matrix`: Rodrigues vectors ``(..., 3)`` (radians x unit axis) -> rotations ``(..., 3, 3)``.
* :func:`kabsch`: the proper rotation ``R`` minimising ``sum_k |R a_k - b_k|^2`` for vector sets ``(..., K, 3)``
  (not centred here: centre them first for point sets).
* :func:`rigid_transform`: ``(R, t)`` with ``dst ~ R src + t`` for point sets ``(N, 3)``.
* :func:`similarity_transform`: ``(s, R, t)`` with ``dst ~ s R src + t`` (Umeyama), e.g. for PA-MPJPE.
"""

from __future__ import annotations

import numpy as np


def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rodrigues vectors ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (a single ``(3,)`` gives ``(3, 3)``)."""
    rvec = np.asarray(rvec, dtype=np.float64)
    if rvec.shape[-1] != 3:
        raise ValueError(f"expected Rodrigues vectors of shape (..., 3), got {rvec.shape}")
    theta = np.linalg.norm(rvec, axis=-1)
    small = theta < 1e-12
    k = rvec / np.where(small, 1.0, theta)[..., None]
    K = np.zeros(rvec.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2] = -k[..., 2], k[..., 1]
    K[..., 1, 0], K[..., 1, 2] = k[..., 2], -k[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -k[..., 1], k[..., 0]
    s, c = np.sin(theta)[..., None, None], np.cos(theta)[..., None, None]
    R = np.eye(3) + s * K + (1 - c) * K @ K
    R[small] = np.eye(3)
    return R


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotations ``(..., 3, 3)`` best mapping vectors ``src (..., K, 3)`` onto ``dst (..., K, 3)`` (broadcast)."""
    H = np.swapaxes(src, -1, -2) @ dst  # (..., 3, 3)
    U, _, Vt = np.linalg.svd(H)
    V, Ut = np.swapaxes(Vt, -1, -2), np.swapaxes(U, -1, -2)
    D = np.broadcast_to(np.eye(3), H.shape).copy()
    D[..., 2, 2] = np.sign(np.linalg.det(V @ Ut))
    return V @ D @ Ut


def rigid_transform(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(R (3, 3), t (3,))`` with ``dst ~ R src + t`` for corresponding points ``(N, 3)``, N >= 3."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    R = kabsch(src - cs, dst - cd)
    return R, cd - R @ cs


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R (3, 3), t (3,))`` with ``dst ~ s R src + t`` (least squares, proper rotation), points ``(N, 3)``."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - cs, dst - cd
    U, S, Vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    scale = float((S * np.array([1.0, 1.0, d])).sum() / (a ** 2).sum())
    return scale, R, cd - scale * R @ cs
