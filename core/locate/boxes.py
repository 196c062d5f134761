"""Person boxes: ``(..., 4)`` arrays ``(x, y, w, h)`` in image pixels, NaN rows where there is no box.

Pure numpy helpers shared by the localisation stage, its evaluation and the tests: boxes around points,
intersection over union, and which points fall inside the crop a top-down model is fed for a box.
"""

from __future__ import annotations

import numpy as np


def check_boxes(boxes, count: int | None = None, what: str = "boxes") -> np.ndarray:
    """``boxes`` as a float ``(N, 4)`` array; ``ValueError`` naming the expected shape otherwise."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4 or (count is not None and b.shape[0] != count):
        want = f"({count}, 4)" if count is not None else "(N, 4)"
        raise ValueError(f"{what}: expected shape {want} (x, y, w, h per view, NaN row = no box), got {b.shape}")
    return b


def box_of_points(points: np.ndarray, min_points: int = 1) -> np.ndarray:
    """Tight boxes ``(..., 4)`` around points ``(..., N, 2)`` (NaN = missing); NaN where fewer than
    ``min_points`` are valid. Width and height are at least 1 px."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 2 or p.shape[-1] != 2:
        raise ValueError(f"expected points of shape (..., N, 2), got {p.shape}")
    good = np.isfinite(p).all(-1)
    lo = np.where(good[..., None], p, np.inf).min(-2)
    hi = np.where(good[..., None], p, -np.inf).max(-2)
    box = np.concatenate([lo, np.maximum(hi - lo, 1.0)], -1)
    box[good.sum(-1) < max(1, min_points)] = np.nan
    return box


def grow(boxes: np.ndarray, factor: float | np.ndarray = 1.0, pixels: float | np.ndarray = 0.0) -> np.ndarray:
    """Boxes scaled by ``factor`` about their centres, then widened by ``pixels`` on every side."""
    b = np.asarray(boxes, dtype=np.float64)
    factor = np.asarray(factor, dtype=np.float64)[..., None]
    pixels = np.asarray(pixels, dtype=np.float64)[..., None]
    centre = b[..., :2] + b[..., 2:] / 2
    size = b[..., 2:] * factor + 2 * pixels
    return np.concatenate([centre - size / 2, size], -1)


def centres(boxes: np.ndarray) -> np.ndarray:
    """Box centres ``(..., 2)``."""
    b = np.asarray(boxes, dtype=np.float64)
    return b[..., :2] + b[..., 2:] / 2


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``(..., 4)`` (broadcast); NaN when either box is missing."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x0 = np.maximum(a[..., 0], b[..., 0])
    y0 = np.maximum(a[..., 1], b[..., 1])
    x1 = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2])
    y1 = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def share_in_image(boxes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Share (N,) of each box ``(N, 4)`` that lies inside its image ``sizes (N, 2)`` (w, h) px; NaN for a missing
    box."""
    b = np.asarray(boxes, dtype=np.float64)
    w, h = np.asarray(sizes, dtype=np.float64).T
    x0, y0 = np.clip(b[:, 0], 0, w), np.clip(b[:, 1], 0, h)
    x1, y1 = np.clip(b[:, 0] + b[:, 2], 0, w), np.clip(b[:, 1] + b[:, 3], 0, h)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x1 - x0) * (y1 - y0) / (b[:, 2] * b[:, 3])


def crop_region(boxes: np.ndarray, aspect_ratio: float, padding: float = 1.25) -> np.ndarray:
    """The image region ``(..., 4)`` a top-down model sees for each box: the box grown to the model's aspect
    ratio ``W/H`` and scaled by ``padding`` (as :func:`core.inference.preprocess.box_to_center_scale`)."""
    b = np.asarray(boxes, dtype=np.float64)
    w, h = b[..., 2], b[..., 3]
    wide = w > aspect_ratio * h
    w2 = np.where(wide, w, h * aspect_ratio) * padding
    h2 = np.where(wide, w / aspect_ratio, h) * padding
    c = centres(b)
    return np.stack([c[..., 0] - w2 / 2, c[..., 1] - h2 / 2, w2, h2], -1)


def points_inside(boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which points ``(..., N, 2)`` lie inside the boxes ``(..., 4)`` (False for a missing box or point)."""
    b = np.asarray(boxes, dtype=np.float64)[..., None, :]
    p = np.asarray(points, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ((p[..., 0] >= b[..., 0]) & (p[..., 0] <= b[..., 0] + b[..., 2])
                & (p[..., 1] >= b[..., 1]) & (p[..., 1] <= b[..., 1] + b[..., 3]))
