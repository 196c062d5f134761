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

from core.inference.decode import decode_argmax

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
