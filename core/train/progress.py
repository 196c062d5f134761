"""Learning progress in image pixels, beside the mean-pose baseline (the escape measure of a training run).

A from-scratch pose transformer first predicts one mean pose for every crop. :func:`pose_progress` decodes the
model's heat maps on held-out items (corpus items carry ``to_image`` and ``joints_image``), maps them to
original-image pixels and reports, beside the same figures for the **mean-pose baseline** (every item predicted
as the mean of the held-out joints in crop pixels, mapped through its own crop):

* ``median_px``: median 2D error over labelled joints, original-image pixels;
* ``jdr``: share of joints within 12.8 px (PPT_SPEC 5.4's threshold);
* ``spread_px``: standard deviation of the predictions across items (crop pixels, mean over joints and axes);
  0 for the mean pose, about 20 px for the truth.

A run has *escaped* the mean pose when ``median_px <= baseline_px / 2``.
"""

from __future__ import annotations

import numpy as np
import torch

from core.geometry.skeletons import H36M17, joint_order
from core.inference.decode import decode_argmax
from core.inference.preprocess import box_to_center_scale, crop_affine, invert_affine
from core.session.folder import SessionReader
from core.train.evaluate import gt_boxes

JDR_THRESHOLD_PX = 12.8


def _to_image(affines: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``affines (N, 2, 3)`` applied to ``points (N, J, 2)``."""
    return np.einsum("nij,nkj->nki", affines[:, :, :2], points) + affines[:, None, :, 2]


@torch.inference_mode()
def predict_crops(model, batches, keep_ratio: float, fuse: bool) -> tuple[np.ndarray, dict]:
    """Decoded joints in model-crop pixels ``(N, J, 2)`` (views flattened) and the batches' truth arrays."""
    preds, keys = [], {k: [] for k in ("joints", "to_image", "joints_image", "labelled")}
    multiview = model.config.is_multiview
    device = next(model.parameters()).device
    h, w = model.config.heatmap_size
    H, W = model.config.image_size
    for batch in batches:
        image = batch["image"].to(device)
        if multiview:
            views = image.shape[1]
            rays = batch["rays"].to(device) if "rays" in batch else None
            out = model(image, rays, fuse=fuse and views > 1, keep_ratio=keep_ratio)
        else:
            out = model(image, keep_ratio=keep_ratio)
        hm = out.heatmaps.float().cpu().numpy()
        coords, _ = decode_argmax(hm.reshape(-1, *hm.shape[-3:]))
        preds.append(coords * np.array([W / w, H / h]))
        for k in keys:
            trailing = 1 if k == "labelled" else 2  # (..., J) or (..., J, 2) / (..., 2, 3)
            keys[k].append(batch[k].numpy().reshape(-1, *batch[k].shape[-trailing:]))
    return np.concatenate(preds), {k: np.concatenate(v) for k, v in keys.items()}


def pose_progress(model, batches, keep_ratio: float = 1.0, fuse: bool = True) -> dict:
    """Figures above for ``model`` (eval mode is set and restored) on ``batches`` of held-out corpus items."""
    was_training = model.training
    model.eval()
    try:
        pred, truth = predict_crops(model, batches, keep_ratio, fuse)
    finally:
        model.train(was_training)
    mask = truth["labelled"] > 0
    gt_crop = truth["joints"]
    mean_pose = np.where(mask[..., None], gt_crop, np.nan)
    mean_pose = np.nanmean(mean_pose, axis=0)  # (J, 2) crop px
    mean_pose = np.nan_to_num(mean_pose, nan=float(np.mean(gt_crop)))
    err = np.linalg.norm(_to_image(truth["to_image"], pred) - truth["joints_image"], axis=-1)[mask]
    base = np.linalg.norm(_to_image(truth["to_image"], np.broadcast_to(mean_pose, pred.shape))
                          - truth["joints_image"], axis=-1)[mask]
    return {
        "median_px": float(np.median(err)), "baseline_px": float(np.median(base)),
        "jdr": float(np.mean(err <= JDR_THRESHOLD_PX)), "baseline_jdr": float(np.mean(base <= JDR_THRESHOLD_PX)),
        "spread_px": float(pred.std(axis=0).mean()),
        "truth_spread_px": float(np.nanstd(np.where(mask[..., None], gt_crop, np.nan), axis=0).mean()),
        "joints": int(mask.sum()),
    }


def escaped(progress: dict) -> bool:
    """Whether a progress record is at or below half the mean-pose baseline's median error."""
    return progress["median_px"] <= 0.5 * progress["baseline_px"]


def plot_progress(curves: dict[str, list[dict]], out, title: str = "held-out median 2D error vs training crops",
                  size: tuple[int, int] = (900, 420)) -> None:
    """Learning curves as a PNG: median error (px) of each run (``progress.csv`` rows) against crops seen, with
    the mean-pose baseline (dashed), half of it (the escape line) and a third (issue 12's target), dotted.
    ``curves``: label -> rows. The error axis stops at 3x the baseline; larger errors are drawn at the top."""
    import cv2

    W, H = size
    left, right, top, bottom = 70, 170, 40, 50
    image = np.full((H, W, 3), 255, np.uint8)
    rows = [r for rs in curves.values() for r in rs]
    if not rows:
        raise ValueError("plot_progress needs at least one progress row")
    x_max = max(float(r["crops"]) for r in rows)
    baseline = float(rows[0]["baseline_px"])
    y_max = min(max(float(r["median_px"]) for r in rows) * 1.05, 3 * baseline)

    def xy(crops: float, px: float) -> tuple[int, int]:
        px = min(px, y_max)
        return (int(left + (W - left - right) * crops / x_max), int(H - bottom - (H - top - bottom) * px / y_max))

    black, grey = (0, 0, 0), (150, 150, 150)
    cv2.rectangle(image, (left, top), (W - right, H - bottom), black, 1)
    for k in range(6):
        y = y_max * k / 5
        cv2.putText(image, f"{y:.0f}", (8, xy(0, y)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, black, 1)
        x = x_max * k / 5
        cv2.putText(image, f"{x / 1000:.0f}k", (xy(x, 0)[0] - 10, H - bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    black, 1)
    cv2.putText(image, "training crops", (W // 2 - 60, H - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, black, 1)
    cv2.putText(image, "px", (8, top - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, black, 1)
    cv2.putText(image, title, (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, black, 1)
    for level, gap in ((baseline, 12), (baseline / 2, 4), (baseline / 3, 2)):
        for x0 in range(left, W - right, 2 * gap):
            y = xy(0, level)[1]
            cv2.line(image, (x0, y), (min(x0 + gap, W - right), y), grey, 1)
    cv2.putText(image, "mean pose", (W - right + 5, xy(0, baseline)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, grey, 1)
    cv2.putText(image, "half of it", (W - right + 5, xy(0, baseline / 2)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                grey, 1)
    cv2.putText(image, "a third", (W - right + 5, xy(0, baseline / 3)[1] + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, grey, 1)
    colours = [(200, 80, 0), (0, 140, 255), (0, 160, 0), (180, 0, 180), (0, 0, 220), (120, 120, 0), (90, 60, 30)]
    for k, (label, rs) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        pts = [xy(float(r["crops"]), float(r["median_px"])) for r in rs]
        for a, b in zip(pts, pts[1:]):
            cv2.line(image, a, b, colour, 2, cv2.LINE_AA)
        cv2.putText(image, label, (W - right + 5, top + 15 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    if not cv2.imwrite(str(out), image):
        raise ValueError(f"could not write the plot {out} (use a .png path)")


def _session_crops(session, stride: int, max_frames: int | None = None):
    """Ground-truth 2D ``(N, 17, 2)`` of every (frame, view) of a studio session with a box (every ``stride``-th
    frame, at most ``max_frames``, as ``ppt-mocap evaluate`` picks them), and the evaluation crops' affines
    ``(N, 2, 3)`` (square HRNet crops, padding 1.25, of a nominal 256 px side)."""

    reader = session if isinstance(session, SessionReader) else SessionReader(session)
    truth = reader.ground_truth()
    if truth is None:
        raise ValueError(f"{reader.path} has no ground truth (ground_truth.npz)")
    h36m = joint_order(truth.joint_names, H36M17)
    gt = truth.joints_2d[:: max(1, stride)][:max_frames or None][:, :, h36m].reshape(-1, 17, 2)
    boxes = gt_boxes(gt)
    ok = np.isfinite(boxes).all(1)
    return gt[ok], crop_affines(boxes[ok])


def crop_affines(boxes: np.ndarray) -> np.ndarray:
    """Evaluation crop affines ``(N, 2, 3)`` (original -> 256 px square HRNet crop) of xywh boxes ``(N, 4)``."""

    center, scale = box_to_center_scale(boxes, 1.0, padding=1.25, convention="hrnet")
    return np.stack([crop_affine(c, s, (256, 256), convention="hrnet") for c, s in zip(center, scale)])


def session_mean_pose(session, stride: int = 1, max_frames: int | None = None) -> np.ndarray:
    """The mean of a session's ground-truth joints in evaluation-crop coordinates ``(17, 2)`` (256 px crops)."""
    gt, affines = _session_crops(session, stride, max_frames)
    in_crop = _to_image(affines, np.nan_to_num(gt))
    return np.nanmean(np.where(np.isfinite(gt), in_crop, np.nan), axis=0)


def session_mean_pose_baseline(session, stride: int = 1, threshold_px: float = JDR_THRESHOLD_PX,
                               max_frames: int | None = None) -> dict:
    """The mean-pose baseline on a studio session under ``ppt-mocap evaluate``'s protocol.

    Every (frame, view) is cropped as the evaluation crops it (square HRNet crop around the ground-truth
    Human3.6M joints, padding 1.25); the prediction is :func:`session_mean_pose` mapped back through each crop.
    Returns ``median_px`` and ``jdr`` over every (frame, view, joint) with finite truth: the figures a model's
    ``error_2d_px_median`` and ``jdr`` compare with.
    """

    gt, affines = _session_crops(session, stride, max_frames)
    mean_pose = session_mean_pose(session, stride, max_frames)
    pred = _to_image(invert_affine(affines), np.broadcast_to(mean_pose, gt.shape))
    err = np.linalg.norm(pred - gt, axis=-1)[np.isfinite(gt).all(-1)]
    return {"median_px": float(np.median(err)), "jdr": float(np.mean(err <= threshold_px)), "crops": int(len(gt))}
