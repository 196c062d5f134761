"""Heatmap decoders against loop references written from PPT_SPEC.md 4.6 / 5.4, and sub-pixel accuracy."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from core.inference.decode import decode_argmax, decode_dark, decode_heatmaps, gaussian_blur_heatmaps


def _blob(h, w, x, y, sigma=2.0):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))


def _random_heatmaps(seed: int, n: int = 3, j: int = 5, h: int = 64, w: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hm = np.zeros((n, j, h, w))
    for a in range(n):
        for b in range(j):
            hm[a, b] = _blob(h, w, rng.uniform(-2, w + 1), rng.uniform(-2, h + 1), rng.uniform(1.5, 3))
            hm[a, b] += rng.normal(scale=0.01, size=(h, w))
    return hm.astype(np.float32)


def _ref_argmax(hm):
    h, w = hm.shape
    idx = int(hm.argmax())
    val = hm.flat[idx]
    x, y = (idx % w, idx // w) if val > 0 else (0, 0)
    return float(x), float(y), float(val)


def _ref_quarter(hm):
    x, y, val = _ref_argmax(hm)
    h, w = hm.shape
    px, py = int(math.floor(x + 0.5)), int(math.floor(y + 0.5))
    if 1 < px < w - 1 and 1 < py < h - 1:
        x += 0.25 * np.sign(hm[py][px + 1] - hm[py][px - 1])
        y += 0.25 * np.sign(hm[py + 1][px] - hm[py - 1][px])
    return x, y, val


def _ref_blur(hm, kernel=11):
    border = (kernel - 1) // 2
    h, w = hm.shape
    origin_max = hm.max()
    dr = np.zeros((h + 2 * border, w + 2 * border))
    dr[border:-border, border:-border] = hm
    dr = cv2.GaussianBlur(dr, (kernel, kernel), 0)
    out = dr[border:-border, border:-border].copy()
    return out * (origin_max / out.max())


def _ref_dark(hm):
    x, y, val = _ref_argmax(hm)
    lh = np.log(np.maximum(_ref_blur(hm.astype(np.float64)), 1e-10))
    h, w = hm.shape
    px, py = int(x), int(y)
    if 1 < px < w - 2 and 1 < py < h - 2:
        dx = 0.5 * (lh[py][px + 1] - lh[py][px - 1])
        dy = 0.5 * (lh[py + 1][px] - lh[py - 1][px])
        dxx = 0.25 * (lh[py][px + 2] - 2 * lh[py][px] + lh[py][px - 2])
        dxy = 0.25 * (lh[py + 1][px + 1] - lh[py - 1][px + 1] - lh[py + 1][px - 1] + lh[py - 1][px - 1])
        dyy = 0.25 * (lh[py + 2][px] - 2 * lh[py][px] + lh[py - 2][px])
        hessian = np.array([[dxx, dxy], [dxy, dyy]])
        if dxx * dyy - dxy**2 != 0:
            off = -np.linalg.inv(hessian) @ np.array([dx, dy])
            x, y = x + off[0], y + off[1]
    return x, y, val


def test_blur_matches_opencv_reference():
    hm = _random_heatmaps(0).astype(np.float64)
    ours = gaussian_blur_heatmaps(hm)
    for a in range(hm.shape[0]):
        for b in range(hm.shape[1]):
            np.testing.assert_allclose(ours[a, b], _ref_blur(hm[a, b]), atol=1e-12)


@pytest.mark.parametrize("method, ref", [("dark", _ref_dark), ("argmax", _ref_quarter)])
def test_decoders_match_loop_references(method, ref):
    hm = _random_heatmaps(1)
    coords, maxvals = decode_heatmaps(hm, method)
    assert coords.shape == (3, 5, 2) and maxvals.shape == (3, 5)
    for a in range(3):
        for b in range(5):
            x, y, val = ref(hm[a, b])
            np.testing.assert_allclose(coords[a, b], [x, y], atol=1e-9)
            assert maxvals[a, b] == pytest.approx(val)


@pytest.mark.parametrize("x, y", [(20.3, 30.7), (10.0, 40.25), (33.77, 5.5)])
def test_dark_recovers_subpixel_peak(x, y):
    hm = _blob(64, 48, x, y)[None, None]
    coords, maxvals = decode_dark(hm)
    np.testing.assert_allclose(coords[0, 0], [x, y], atol=0.02)
    coords, _ = decode_argmax(hm)
    np.testing.assert_allclose(coords[0, 0], [x, y], atol=0.5)


def test_non_positive_heatmaps_give_zero_coords():
    hm = -np.ones((1, 2, 16, 16))
    hm[0, 0, 5, 7] = -0.5
    coords, maxvals = decode_dark(hm)
    np.testing.assert_allclose(coords, 0.0)
    np.testing.assert_allclose(maxvals, [[-0.5, -1.0]])


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(\.\.\., J, H, W\)"):
        decode_dark(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="decoder"):
        decode_heatmaps(np.zeros((1, 4, 4)), "soft-argmax")
