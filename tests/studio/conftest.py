"""Shared fixtures for the studio tests: small studios rendered once per session (fast on 2 cores)."""

from __future__ import annotations

import numpy as np
import pytest

from core.studio.studio import make_studio


@pytest.fixture(scope="session")
def small_studio():
    """ring4 at the default 640x480, two people doing the mixed motion, props and a room."""
    return make_studio("ring4", motion="mix", people=2, seed=3, backdrop_downscale=2)


@pytest.fixture(scope="session")
def small_frames(small_studio):
    """Eight rendered frames (with depth and labels) of ``small_studio``."""
    return [small_studio.render(i, keep_renders=True) for i in range(0, 160, 20)]


def all_inside(points: np.ndarray, prims, props) -> np.ndarray:
    """Reference inside test (N,) for world points (N, 3) against primitives and props, by implicit functions.

    Ellipsoids: |diag(1/r) M^T (p - c)| <= 1. Round cones (convex hull of two balls): inside some ball of the
    linear family between the end balls (33 samples along the axis). Props: their own inside test.
    """
    inside = np.zeros(len(points), bool)
    for i in range(len(prims)):
        if prims.kind[i] == 0:
            q = (points - prims.center[i]) @ prims.axes[i] / prims.radii[i]
            inside |= (q * q).sum(1) <= 1.0
        else:
            a, b = prims.center[i], prims.end[i]
            ra, rb = prims.radii[i, :2]
            s = np.linspace(0, 1, 33)
            c = a + s[:, None] * (b - a)
            r = ra + s * (rb - ra)
            d = np.linalg.norm(points[:, None, :] - c[None], axis=-1) - r[None]
            inside |= d.min(1) <= 0
    for prop in props:
        inside |= prop.inside(points)
    return inside


def lines_of_sight_clear(center: np.ndarray, targets: np.ndarray, z: np.ndarray, tol: np.ndarray, prims, props,
                         step: float = 0.002) -> np.ndarray:
    """Reference visibility (M,): nothing inside any primitive or prop on the segment from the camera centre to
    each target (M, 3) up to ``tol`` (M,) metres of camera depth before it (targets at camera depths ``z`` (M,)).

    Body primitives are sampled every ``step`` m of depth over the last 3 m (people are near their joints),
    props every 2 cm over the whole segment.
    """
    clear = np.ones(len(targets), bool)
    lo = np.array([np.minimum(prims.center[i], prims.end[i]) - prims.radii[i].max() for i in range(len(prims))])
    hi = np.array([np.maximum(prims.center[i], prims.end[i]) + prims.radii[i].max() for i in range(len(prims))])
    for m, (X, zz, tt) in enumerate(zip(targets, z, tol)):
        s_hi = 1.0 - (tt + step) / zz
        n = max(int((min(3.0, zz) - tt) / step), 2)
        s = np.linspace(max(s_hi - 3.0 / zz, 0.02), s_hi, n)
        seg = center + s[:, None] * (X - center)
        near = ((seg[:, None, :] >= lo[None] ) & (seg[:, None, :] <= hi[None])).all(-1)  # (n, N)
        for i in np.nonzero(near.any(0))[0]:
            pts = seg[near[:, i]]
            if prims.kind[i] == 0:
                q = (pts - prims.center[i]) @ prims.axes[i] / prims.radii[i]
                hit = ((q * q).sum(1) <= 1.0).any()
            else:
                a, b = prims.center[i], prims.end[i]
                ra, rb = prims.radii[i, :2]
                u = np.linspace(0, 1, 33)
                c = a + u[:, None] * (b - a)
                r = ra + u * (rb - ra)
                hit = ((np.linalg.norm(pts[:, None, :] - c[None], axis=-1) - r[None]).min(1) <= 0).any()
            if hit:
                clear[m] = False
                break
        if clear[m] and props:
            seg = center + np.linspace(0.0, s_hi, max(int(zz / 0.02), 2))[:, None] * (X - center)
            clear[m] = not any(prop.inside(seg).any() for prop in props)
    return clear
