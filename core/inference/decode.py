"""Heatmap decoding to sub-pixel keypoints (PPT_SPEC.md sections 4.6 and 5.4), vectorised over views and joints.

Both decoders take heatmaps ``(..., J, H, W)`` and return ``(coords (..., J, 2), maxvals (..., J))``; coords are
(x, y) in heatmap pixels and ``maxvals`` the heatmap maximum (the keypoint confidence).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import correlate1d


def _as_heatmaps(heatmaps: np.ndarray) -> np.ndarray:
    hm = np.asarray(heatmaps)
    if hm.ndim < 3:
        raise ValueError(f"expected heatmaps of shape (..., J, H, W), got {hm.shape}")
    return hm


def argmax_coords(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer argmax (x, y) per heatmap; coordinates of heatmaps whose maximum is <= 0 are set to 0 (HRNet)."""
    hm = _as_heatmaps(heatmaps)
    h, w = hm.shape[-2:]
    flat = hm.reshape(*hm.shape[:-2], h * w)
    idx = flat.argmax(axis=-1)
    maxvals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    coords = np.stack([idx % w, idx // w], axis=-1).astype(np.float64)
    coords *= (maxvals > 0)[..., None]
    return coords, maxvals.astype(np.float64)


def _at(hm: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gather ``hm[..., y, x]`` for per-heatmap indices ``y, x`` of shape ``hm.shape[:-2]``."""
    h, w = hm.shape[-2:]
    flat = hm.reshape(*hm.shape[:-2], h * w)
    return np.take_along_axis(flat, (np.clip(y, 0, h - 1) * w + np.clip(x, 0, w - 1))[..., None], axis=-1)[..., 0]


def decode_argmax(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HRNet decoding: argmax, then a quarter-pixel step toward the larger neighbour in x and y.

    The step applies when ``1 < px < W-1`` and ``1 < py < H-1`` with ``p = floor(coord + 0.5)``.
    """
    hm = _as_heatmaps(heatmaps).astype(np.float64)
    coords, maxvals = argmax_coords(hm)
    h, w = hm.shape[-2:]
    px = np.floor(coords[..., 0] + 0.5).astype(np.int64)
    py = np.floor(coords[..., 1] + 0.5).astype(np.int64)
    ok = (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
    dx = _at(hm, py, px + 1) - _at(hm, py, px - 1)
    dy = _at(hm, py + 1, px) - _at(hm, py - 1, px)
    coords = coords + 0.25 * np.stack([np.sign(dx), np.sign(dy)], axis=-1) * ok[..., None]
    return coords, maxvals


def gaussian_blur_heatmaps(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DarkPose's blur: each heatmap zero-padded by ``(kernel-1)/2``, Gaussian-blurred (OpenCV kernel, sigma from
    the size), cropped back and rescaled so its maximum equals the original maximum."""
    hm = _as_heatmaps(heatmaps).astype(np.float64)
    k = cv2.getGaussianKernel(kernel, 0, ktype=cv2.CV_64F)[:, 0]
    # Zero padding of (kernel-1)/2 then a blur whose taps never leave the padded image = constant-zero correlation.
    out = correlate1d(correlate1d(hm, k, axis=-1, mode="constant"), k, axis=-2, mode="constant")
    orig_max = hm.max(axis=(-2, -1), keepdims=True)
    new_max = out.max(axis=(-2, -1), keepdims=True)
    ratio = np.divide(orig_max, new_max, out=np.ones_like(orig_max), where=new_max != 0)
    return out * ratio


def decode_dark(heatmaps: np.ndarray, kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """DARK decoding: argmax, then one Newton step on the log of the blurred heatmap around it.

    Applied when ``1 < px < W-2`` and ``1 < py < H-2`` and the Hessian is invertible; no quarter offset.
    """
    hm = _as_heatmaps(heatmaps)
    coords, maxvals = argmax_coords(hm)
    logh = np.log(np.maximum(gaussian_blur_heatmaps(hm, kernel), 1e-10))
    h, w = hm.shape[-2:]
    px = coords[..., 0].astype(np.int64)
    py = coords[..., 1].astype(np.int64)
    c = _at(logh, py, px)
    dx = 0.5 * (_at(logh, py, px + 1) - _at(logh, py, px - 1))
    dy = 0.5 * (_at(logh, py + 1, px) - _at(logh, py - 1, px))
    dxx = 0.25 * (_at(logh, py, px + 2) - 2 * c + _at(logh, py, px - 2))
    dyy = 0.25 * (_at(logh, py + 2, px) - 2 * c + _at(logh, py - 2, px))
    dxy = 0.25 * (
        _at(logh, py + 1, px + 1) - _at(logh, py - 1, px + 1) - _at(logh, py + 1, px - 1) + _at(logh, py - 1, px - 1)
    )
    det = dxx * dyy - dxy**2
    ok = (px > 1) & (px < w - 2) & (py > 1) & (py < h - 2) & (det != 0)
    safe = np.where(ok, det, 1.0)
    off_x = -(dyy * dx - dxy * dy) / safe
    off_y = -(-dxy * dx + dxx * dy) / safe
    coords = coords + np.stack([off_x, off_y], axis=-1) * ok[..., None]
    return coords, maxvals


DECODERS = {"dark": decode_dark, "argmax": decode_argmax}


def decode_heatmaps(heatmaps: np.ndarray, method: str = "dark") -> tuple[np.ndarray, np.ndarray]:
    """Decode with ``"dark"`` or ``"argmax"`` (HRNet quarter offset)."""
    try:
        return DECODERS[method](heatmaps)
    except KeyError:
        raise ValueError(f"unknown decoder {method!r}; expected one of {sorted(DECODERS)}") from None
