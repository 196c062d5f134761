"""Heatmap targets (PPT_SPEC sections 4.3 and 5.3).

* :func:`unbiased_gaussian_targets`: DarkPose-style, Gaussian centred at the sub-pixel location, evaluated on
  the whole grid (single-view PPT / TokenPose).
* :func:`rounded_gaussian_targets`: HRNet-style, centred at the rounded location in a 13x13 window
  (multi-view PPT).

Both take joints in heatmap pixels ``(J, 2)`` and visibility ``(J,)``; both return ``heatmaps (J, h, w)``
float32 and ``weight (J,)`` float32 (0 for invisible joints and joints whose 3-sigma support lies outside).
"""

from __future__ import annotations

import numpy as np


def _support_inside(xy: np.ndarray, size: tuple[int, int], radius: float) -> np.ndarray:
    h, w = size
    x, y = xy[:, 0], xy[:, 1]
    return (x + radius >= 0) & (y + radius >= 0) & (x - radius < w) & (y - radius < h) & np.isfinite(xy).all(1)


def unbiased_gaussian_targets(joints: np.ndarray, visible: np.ndarray, size: tuple[int, int],
                              sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel Gaussians on an ``size = (h, w)`` grid."""
    joints = np.asarray(joints, dtype=np.float64)
    h, w = size
    weight = (np.asarray(visible) > 0) & _support_inside(joints, size, 3 * sigma)
    xs = np.arange(w)[None, None, :]
    ys = np.arange(h)[None, :, None]
    x0 = np.nan_to_num(joints[:, 0])[:, None, None]
    y0 = np.nan_to_num(joints[:, 1])[:, None, None]
    heat = np.exp(-((xs - x0) ** 2 + (ys - y0) ** 2) / (2 * sigma ** 2))
    heat[~weight] = 0.0
    return heat.astype(np.float32), weight.astype(np.float32)


def rounded_gaussian_targets(joints: np.ndarray, visible: np.ndarray, size: tuple[int, int],
                             sigma: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """HRNet Gaussians: centre ``int(x + 0.5)``, a ``(6 sigma + 1)``-wide window, peak 1."""
    joints = np.asarray(joints, dtype=np.float64)
    h, w = size
    radius = int(3 * sigma)
    heat = np.zeros((len(joints), h, w), dtype=np.float32)
    weight = np.asarray(visible, dtype=np.float32).copy() * np.isfinite(joints).all(1)
    g_size = 2 * radius + 1
    g = np.exp(-((np.arange(g_size)[None] - radius) ** 2 + (np.arange(g_size)[:, None] - radius) ** 2)
               / (2 * sigma ** 2)).astype(np.float32)
    for j, (x, y) in enumerate(joints):
        if weight[j] == 0:
            continue
        mx, my = int(x + 0.5), int(y + 0.5)
        ul = (mx - radius, my - radius)
        br = (mx + radius + 1, my + radius + 1)
        if ul[0] >= w or ul[1] >= h or br[0] <= 0 or br[1] <= 0:
            weight[j] = 0
            continue
        gx = max(0, -ul[0]), min(br[0], w) - ul[0]
        gy = max(0, -ul[1]), min(br[1], h) - ul[1]
        ix = max(0, ul[0]), min(br[0], w)
        iy = max(0, ul[1]), min(br[1], h)
        heat[j, iy[0]:iy[1], ix[0]:ix[1]] = g[gy[0]:gy[1], gx[0]:gx[1]]
    return heat, weight
