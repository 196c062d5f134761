"""Person-crop augmentation of single-view PPT training (PPT_SPEC 4.2), shared by every crop dataset.

Half body (prob 0.3 when more than 8 joints are labelled; upper body when ``randn() < 0.5``, box x1.5), scale
``clip(1 + 0.35 N, 0.65, 1.35)``, rotation ``clip(45 N, -90, 90)`` degrees with prob 0.6, horizontal flip with
prob 0.5 (left/right joints swapped). Joints ``(J, 2)`` are image pixels; ``center`` (2,) px and ``scale`` (2,)
in units of 200 px as :func:`core.inference.preprocess.box_to_center_scale` gives them.
"""

from __future__ import annotations

import numpy as np

from core.inference.preprocess import box_to_center_scale

#: COCO-17 indices of the upper body (nose .. wrists).
COCO_UPPER_BODY = np.arange(11)


def half_body(joints: np.ndarray, flags: np.ndarray, rng: np.random.Generator, aspect: float,
              center: np.ndarray, scale: np.ndarray, upper: np.ndarray = COCO_UPPER_BODY):
    """Centre and scale of a box around the upper or the lower body's labelled joints (or the inputs unchanged)."""
    idx = np.arange(len(joints))
    is_upper = np.isin(idx, upper)
    up = is_upper & (flags > 0)
    low = ~is_upper & (flags > 0)
    chosen = up if (rng.standard_normal() < 0.5 and up.sum() > 2) else low
    if chosen.sum() < 2:
        return center, scale
    pts = joints[chosen]
    lo, hi = pts.min(0), pts.max(0)
    if hi[0] - lo[0] < 2 or hi[1] - lo[1] < 2:
        return center, scale
    c, s = box_to_center_scale(np.array([[lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]]), aspect, padding=1.5)
    return c[0], s[0]


def augment_person(rng: np.random.Generator, image: np.ndarray, joints: np.ndarray, flags: np.ndarray,
                   center: np.ndarray, scale: np.ndarray, aspect: float, flip_permutation: np.ndarray,
                   per_joint: tuple[np.ndarray, ...] = ()):
    """Draw one augmentation and apply its flip.

    Returns ``(image, joints, flags, per_joint, center, scale, rotation_deg)``: the image and joints mirrored
    when flipped, ``flags`` and every ``per_joint`` array (J, ...) permuted left/right with the joints.
    """
    joints = joints.copy()
    if flags.sum() > 8 and rng.random() < 0.3:
        center, scale = half_body(joints, flags, rng, aspect, center, scale)
    scale = scale * np.clip(1 + 0.35 * rng.standard_normal(), 0.65, 1.35)
    rotation = float(np.clip(45 * rng.standard_normal(), -90, 90)) if rng.random() < 0.6 else 0.0
    if rng.random() < 0.5:
        image, joints, flags, per_joint, center = mirror_person(image, joints, flags, center, flip_permutation,
                                                                per_joint)
    return image, joints, flags, per_joint, center, scale, rotation


def mirror_person(image: np.ndarray, joints: np.ndarray, flags: np.ndarray, center: np.ndarray,
                  flip_permutation: np.ndarray, per_joint: tuple[np.ndarray, ...] = ()):
    """The horizontal mirror of one person's image: ``(image, joints, flags, per_joint, center)`` with the image
    a mirrored view (negative column stride), joint and centre x -> ``w - 1 - x`` (px), and ``flags`` and every
    ``per_joint`` array (J, ...) permuted left/right with the joints. :func:`mirror_affine` maps px the same way."""
    w = image.shape[1]
    joints = joints[flip_permutation]
    joints[:, 0] = w - 1 - joints[:, 0]
    center = np.array([w - 1 - center[0], center[1]], dtype=np.float64)
    return (image[:, ::-1], joints, flags[flip_permutation], tuple(a[flip_permutation] for a in per_joint),
            center)


def mirror_affine(width: int) -> np.ndarray:
    """``(2, 3)`` affine of the horizontal mirror of an image ``width`` px wide: x -> ``width - 1 - x``."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])
