"""Cross-view association of person detections with the calibration (pure functions, no state).

A person seen by two cameras puts the centres of their boxes on two rays that meet near the person's middle, and
the tops and the bottoms of the boxes likewise; so every pair of detections in two views is triangulated (top,
middle, bottom) into a 3D hypothesis, kept only if all three fit (rays of two different people may cross, their
tops and bottoms then do not) and if it projects back onto a detection of a plausible size (a person 0.4-2.6 m
tall at that depth) in each view that supports it. A detection whose ray misses the other views' person
therefore supports nothing and is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.geometry import CameraRig, triangulate
from core.geometry.camera import UNIT_SCALE_TO_M
from core.locate.boxes import centres
from core.locate.detectors import Detection

#: Metric heights (m) of a box a person can make: crouching child to tall adult with raised arms.
PERSON_HEIGHT_M = (0.4, 2.6)


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """A person found consistently in several views.

    Attributes:
        point: (3,) world point near the person's middle (rig units).
        boxes: (C, 4) the supporting detection per view, NaN where this view has none.
        scores: (C,) detection scores (0 where none).
        detectors: per view the detector of the supporting detection ("" where none).
        height: metric height of the person's box (rig units), median over the supporting views.
    """

    point: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    detectors: tuple[str, ...]
    height: float

    @property
    def support(self) -> int:
        return int(np.isfinite(self.boxes[:, 0]).sum())


def _depths(rig: CameraRig, points: np.ndarray) -> np.ndarray:
    """Depth (C, N) of world points (N, 3) in every camera."""
    return np.stack([cam.world_to_camera(points)[:, 2] for cam in rig.cameras])


def associate(rig: CameraRig, detections: list[list[Detection]], *, min_views: int = 2,
              tolerance: float = 0.25, max_residual: float = 0.3) -> list[Hypothesis]:
    """People consistent across views, best first (most supporting views, then the best geometric fit).

    Args:
        rig: the calibrated cameras; ``detections[c]`` are camera ``c``'s detections (rig order).
        min_views: views a hypothesis needs (1 for a one-camera rig: every detection is a hypothesis).
        tolerance: a view supports a 3D point when the point projects within ``tolerance`` x the box height of a
            detection's centre.
        max_residual: the tops, middles and bottoms of the boxes are triangulated separately; their mean
            reprojection errors, summed and divided by the mean box height, must stay below this, and among
            hypotheses with as many views the smallest wins. Rays of two different people often cross somewhere,
            but their tops and bottoms then fit worse (studio rigs: 0.01-0.03 for one person, 0.11-0.15 for two;
            close cameras with strong perspective, as the Pose2Sim recording, 0.19-0.22 for one person).
    """
    C = len(rig)
    if len(detections) != C:
        raise ValueError(f"detections: expected one list per camera ({C}), got {len(detections)}")
    unit = UNIT_SCALE_TO_M[rig.units]
    flat = [(c, d) for c in range(C) for d in detections[c]]
    if not flat:
        return []
    if C == 1:
        hyps = []
        for c, d in flat:
            boxes = np.full((C, 4), np.nan)
            boxes[c] = d.box
            scores = np.zeros(C)
            scores[c] = d.score
            hyps.append(Hypothesis(np.full(3, np.nan), boxes, scores, tuple(d.detector if i == c else ""
                                                                              for i in range(C)), float("nan")))
        return sorted(hyps, key=lambda h: -(h.scores.sum() * np.sqrt(np.nanmax(h.boxes[:, 2] * h.boxes[:, 3]))))
    # Every pair of detections in two different views -> top, middle and bottom points (one batched call).
    pairs = [(i, j) for i in range(len(flat)) for j in range(i + 1, len(flat)) if flat[i][0] != flat[j][0]]
    if not pairs:
        return []
    boxes = np.full((C, len(pairs), 4), np.nan)
    for n, (i, j) in enumerate(pairs):
        for k in (i, j):
            boxes[flat[k][0], n] = flat[k][1].box
    mids, residual = _fit(rig, boxes)
    hyps = _support(rig, mids[residual < max_residual], detections, tolerance, unit)
    # Refine each hypothesis on all its supporting views; keep the pair's fit if the extra views do not fit.
    refined = []
    for h in hyps:
        X, res = _fit(rig, h.boxes[:, None])
        if res[0] < max_residual:
            refined.extend((r, float(res[0])) for r in _support(rig, X, detections, tolerance, unit))
    out: list[Hypothesis] = []
    refined.sort(key=lambda hr: (-hr[0].support, hr[1], -hr[0].scores.sum()))
    for h, _ in refined:
        if h.support < min_views:
            continue
        if any(np.linalg.norm(h.point - o.point) < 0.4 / unit or _shares(h, o) for o in out):
            continue
        out.append(h)
    return out


def _fit(rig: CameraRig, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate the top, middle and bottom centres of boxes (C, N, 4) (NaN = not in that view): middle points
    (N, 3) and residuals (N,) = summed mean reprojection errors of the three points / mean box height."""
    x = boxes[..., 0] + boxes[..., 2] / 2
    pts = np.concatenate([np.stack([x, boxes[..., 1] + f * boxes[..., 3]], -1) for f in (0.0, 0.5, 1.0)], 1)
    res = triangulate(rig, pts, outliers=None)
    N = boxes.shape[1]
    err = np.nan_to_num(res.reprojection_error.reshape(3, N), nan=np.inf).sum(0)
    with np.errstate(invalid="ignore"):
        residual = err / np.nanmean(boxes[..., 3], axis=0)
    return res.points_3d[N:2 * N], np.where(np.isfinite(residual), residual, np.inf)


def _shares(a: Hypothesis, b: Hypothesis) -> bool:
    """True when two hypotheses use the same detection in some view."""
    same = np.isfinite(a.boxes[:, 0]) & np.isfinite(b.boxes[:, 0]) & (np.abs(a.boxes - b.boxes).max(1) < 1e-6)
    return bool(same.any())


def _support(rig: CameraRig, points: np.ndarray, detections: list[list[Detection]], tolerance: float,
             unit: float) -> list[Hypothesis]:
    """For each 3D point (N, 3), the detection per view it projects onto (nearest centre within tolerance, with a
    plausible metric height at that depth)."""
    C, N = len(rig), len(points)
    ok = np.isfinite(points).all(1)
    proj = rig.project(np.where(ok[:, None], points, 0.0))  # (C, N, 2)
    depth = _depths(rig, np.where(ok[:, None], points, 0.0))  # (C, N)
    fx = np.array([cam.K[1, 1] for cam in rig.cameras])
    boxes = np.full((N, C, 4), np.nan)
    scores = np.zeros((N, C))
    names = np.full((N, C), "", dtype=object)
    heights = np.full((N, C), np.nan)
    for c in range(C):
        if not detections[c]:
            continue
        b = np.stack([d.box for d in detections[c]])  # (K, 4)
        ctr = centres(b)
        dist = np.linalg.norm(proj[c][:, None, :] - ctr[None], axis=-1)  # (N, K)
        metric = b[None, :, 3] * depth[c][:, None] / fx[c] * unit  # (N, K) metres
        good = (dist < tolerance * b[None, :, 3]) & (depth[c][:, None] > 0) \
            & (metric > PERSON_HEIGHT_M[0]) & (metric < PERSON_HEIGHT_M[1])
        dist = np.where(good, dist, np.inf)
        k = dist.argmin(1)
        hit = np.isfinite(dist[np.arange(N), k]) & ok
        for n in np.nonzero(hit)[0]:
            boxes[n, c] = b[k[n]]
            scores[n, c] = detections[c][k[n]].score
            names[n, c] = detections[c][k[n]].detector
            heights[n, c] = metric[n, k[n]] / unit
    out = []
    for n in range(N):
        if np.isfinite(boxes[n, :, 0]).sum() == 0:
            continue
        out.append(Hypothesis(points[n], boxes[n], scores[n], tuple(names[n]), float(np.nanmedian(heights[n]))))
    return out
