"""A simple body-volume occlusion test: is a joint hidden from a camera by the person's own body?

The body is a set of capsules (segments with a radius) along the Human3.6M-17 bones, plus a thick torso (pelvis to
thorax and each hip to its shoulder) and a sphere for the head. A joint is *occluded* in a camera when the sight
line from the camera centre to the joint passes through a capsule that does not end at that joint, at a point at
least the capsule's radius in front of the joint. It is a coarse test (no clothes, no props, no other people), used
to say which projected labels show a visible joint (``docs/FINETUNE.md``).
"""

from __future__ import annotations

import numpy as np

from core.geometry.skeletons import H36M17

#: Capsule radii in metres: (joint a, joint b, radius).
BODY_CAPSULES_M = (
    ("pelvis", "thorax", 0.13), ("left_hip", "left_shoulder", 0.09), ("right_hip", "right_shoulder", 0.09),
    ("left_hip", "left_knee", 0.075), ("left_knee", "left_ankle", 0.055),
    ("right_hip", "right_knee", 0.075), ("right_knee", "right_ankle", 0.055),
    ("left_shoulder", "left_elbow", 0.05), ("left_elbow", "left_wrist", 0.04),
    ("right_shoulder", "right_elbow", 0.05), ("right_elbow", "right_wrist", 0.04),
    ("nose", "head_top", 0.10),
)
_UNIT_PER_M = {"m": 1.0, "mm": 1000.0}


def _segment_distance(p0, p1, q0, q1):
    """Closest distance between segments ``p0 p1`` and ``q0 q1`` (broadcast arrays (..., 3)) and the parameter
    ``s`` in [0, 1] of the closest point on the first segment."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.einsum("...i,...i", d1, d1)
    e = np.einsum("...i,...i", d2, d2)
    f = np.einsum("...i,...i", d2, r)
    c = np.einsum("...i,...i", d1, r)
    b = np.einsum("...i,...i", d1, d2)
    denom = a * e - b * b
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0, 1), 0.0)
        t = np.where(e > 1e-12, (b * s + f) / e, 0.0)
        # Clamp t, then recompute s for the clamped t.
        t_clamped = np.clip(t, 0, 1)
        s = np.where(t != t_clamped, np.clip((b * t_clamped - c) / np.where(a > 1e-12, a, 1.0), 0, 1), s)
    t = t_clamped
    closest = (p0 + s[..., None] * d1) - (q0 + t[..., None] * d2)
    return np.linalg.norm(closest, axis=-1), s


def body_occlusion(camera_centers: np.ndarray, joints: np.ndarray, units: str = "m",
                   capsules=BODY_CAPSULES_M) -> np.ndarray:
    """Which joints each camera sees through the person's own body.

    Args:
        camera_centers: (C, 3) world positions of the cameras (:attr:`CameraRig.centers`).
        joints: (17, 3) Human3.6M-17 world joints in ``units``; NaN joints are never occluded and occlude nothing.
        units: ``"m"`` or ``"mm"`` (the capsule radii are in metres).
        capsules: (joint a, joint b, radius in metres) triples.

    Returns:
        (C, 17) bool: True where the sight line to the joint passes through another body part first.
    """
    centers = np.asarray(camera_centers, dtype=np.float64)
    X = np.asarray(joints, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != 3:
        raise ValueError(f"camera_centers: expected shape (C, 3), got {centers.shape}")
    if X.shape != (H36M17.num_joints, 3):
        raise ValueError(f"joints: expected Human3.6M-17 points of shape (17, 3), got {X.shape}")
    if units not in _UNIT_PER_M:
        raise ValueError(f"units must be 'm' or 'mm', got {units!r}")
    a_idx = np.array([H36M17.index(a) for a, _, _ in capsules])
    b_idx = np.array([H36M17.index(b) for _, b, _ in capsules])
    radius = np.array([r for _, _, r in capsules]) * _UNIT_PER_M[units]
    C, J, B = len(centers), len(X), len(capsules)
    p0 = np.broadcast_to(centers[:, None, None, :], (C, J, B, 3))
    p1 = np.broadcast_to(X[None, :, None, :], (C, J, B, 3))
    q0 = np.broadcast_to(X[a_idx][None, None], (C, J, B, 3))
    q1 = np.broadcast_to(X[b_idx][None, None], (C, J, B, 3))
    dist, s = _segment_distance(p0, p1, q0, q1)
    length = np.linalg.norm(X[None, :, :] - centers[:, None, :], axis=-1)  # (C, J)
    in_front = (1.0 - s) * length[..., None] > radius  # the blocking point lies a radius before the joint
    own = (a_idx[None, :] == np.arange(J)[:, None]) | (b_idx[None, :] == np.arange(J)[:, None])  # (J, B)
    blocked = (dist < radius) & in_front & ~own[None] & np.isfinite(dist)
    return blocked.any(-1) & np.isfinite(X).all(-1)[None]
