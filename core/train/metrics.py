"""Pose metrics: JDR, PCK, MPJPE, PA-MPJPE (numpy) and COCO keypoint AP (pycocotools).

Shapes: 2D predictions and truth ``(N, J, 2)`` pixels; 3D ``(N, J, 3)`` in the caller's unit (mm in the
tables); visibility masks ``(N, J)`` bool. NaN predictions count as misses (2D) or are excluded with a
count (3D).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.geometry.alignment import similarity_transform


def _check(pred: np.ndarray, gt: np.ndarray, dim: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != dim:
        raise ValueError(f"{what}: expected prediction and truth of the same shape (N, J, {dim}), "
                         f"got {pred.shape} and {gt.shape}")
    return pred, gt


def joint_detection_rate(pred: np.ndarray, gt: np.ndarray, threshold_px: float = 12.8,
                         mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """JDR as in multi-view PPT (PPT_SPEC 5.4): a joint is detected when within ``threshold_px`` pixels.

    The official threshold is ``0.5 * headsize`` with ``headsize = image_size / 10`` (12.8 px for 256 px);
    the official rate has no visibility mask (pass ``mask`` to restrict). Returns (mean over joints of the
    per-joint rates, per-joint rates (J,)), both fractions in [0, 1].
    """
    pred, gt = _check(pred, gt, 2, "joint_detection_rate")
    dist = np.linalg.norm(pred - gt, axis=-1)
    hit = np.where(np.isfinite(dist), dist <= threshold_px, False)
    m = np.ones(hit.shape, bool) if mask is None else np.asarray(mask, bool)
    per_joint = (hit & m).sum(axis=0) / np.maximum(m.sum(axis=0), 1)
    return float(per_joint.mean()), per_joint


def pck(pred: np.ndarray, gt: np.ndarray, threshold: float | np.ndarray, mask: np.ndarray | None = None) -> float:
    """Percentage of correct keypoints: fraction of (masked) joints within ``threshold`` (scalar or (N,))."""
    pred, gt = _check(pred, gt, pred.shape[-1] if np.ndim(pred) else 2, "pck")
    dist = np.linalg.norm(pred - gt, axis=-1)
    thr = np.asarray(threshold, dtype=np.float64)
    thr = thr[:, None] if thr.ndim == 1 else thr
    hit = np.where(np.isfinite(dist), dist <= thr, False)
    m = np.ones(hit.shape, bool) if mask is None else np.asarray(mask, bool)
    return float(hit[m].mean()) if m.any() else float("nan")


def mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean per-joint position error (same unit as the inputs), no alignment.

    Returns (mean over valid joints, per-joint mean (J,)). Joints with NaN prediction or truth are skipped.
    """
    pred, gt = _check(pred, gt, 3, "mpjpe")
    err = np.linalg.norm(pred - gt, axis=-1)
    valid = np.isfinite(err) if mask is None else np.isfinite(err) & np.asarray(mask, bool)
    per_joint = np.array([err[valid[:, j], j].mean() if valid[:, j].any() else np.nan for j in range(err.shape[1])])
    return float(err[valid].mean()) if valid.any() else float("nan"), per_joint


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Similarity-align each pose (J, 3) of ``pred`` (N, J, 3) to ``gt``: rotation, scale, translation."""
    pred, gt = _check(pred, gt, 3, "procrustes_align")
    out = np.full_like(pred, np.nan)
    for i in range(len(pred)):
        ok = np.isfinite(pred[i]).all(1) & np.isfinite(gt[i]).all(1)
        if ok.sum() < 3:
            continue
        scale, R, t = similarity_transform(pred[i, ok], gt[i, ok])
        out[i] = scale * pred[i] @ R.T + t
    return out


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """MPJPE after per-pose Procrustes (similarity) alignment."""
    return mpjpe(procrustes_align(pred, gt), gt, mask)[0]


@dataclass(frozen=True)
class CocoKeypointResult:
    """COCO keypoint evaluation: AP (OKS 0.50:0.95), AP50, AP75, AR, all fractions in [0, 1]."""

    ap: float
    ap50: float
    ap75: float
    ar: float
    stats: tuple[float, ...]


def coco_keypoint_ap(annotation_file, results) -> CocoKeypointResult:
    """COCO OKS keypoint AP with pycocotools.

    Args:
        annotation_file: COCO keypoint annotations JSON.
        results: a results JSON path or a list of ``{"image_id", "category_id", "keypoints": [x, y, v] * 17,
            "score"}`` dicts.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    annotation_file = Path(annotation_file)
    if not annotation_file.exists():
        raise FileNotFoundError(f"COCO annotation file not found: {annotation_file}")
    if isinstance(results, (str, Path)):
        results = json.loads(Path(results).read_text())
    if not results:
        raise ValueError("no keypoint results to evaluate")
    gt = COCO(str(annotation_file))
    dt = gt.loadRes(results)
    ev = COCOeval(gt, dt, "keypoints")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    s = tuple(float(x) for x in ev.stats)
    return CocoKeypointResult(ap=s[0], ap50=s[1], ap75=s[2], ar=s[5], stats=s)
