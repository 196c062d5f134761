"""Held-out figures of a pose model against a session's bootstrapped labels (no ground truth needed).

For every held-out frame set (the last part of each session by time), all views are cut from the stored crops
as the training items are (:class:`core.train.corpus.CorpusDataset`, no augmentation), run through the model
(multi-view models: one forward of all views, fused with the session's rays or each view alone as the weights
will run, ``fuse``; single-view models: the views as a batch),
decoded (argmax + quarter offset) back to image pixels and triangulated with the session's calibration
(confidence-weighted DLT, worst-view rejection at 5 % of the person's height):

* ``median_px``: median 2D distance to the labels over labelled joints inside the image;
* ``mpjpe_mm`` / ``median_mm``: mean / median 3D distance to the labels' 3D (the teacher's robust triangulation)
  over the joints the model and the labels share (17 for Human3.6M models, 13 for COCO models), millimetres;
* ``baseline_*``: the same for the *training mean pose* (each camera's mean training label in crop pixels,
  placed in every held-out crop): a model must beat it to show it looks at the person.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from core.finetune.labels import LABEL_JOINTS
from core.geometry.skeletons import COCO17, H36M17
from core.geometry.triangulation import triangulate
from core.inference.decode import decode_argmax
from core.train.corpus import CorpusDataset

log = logging.getLogger(__name__)

_MM = {"m": 1000.0, "mm": 1.0}


def _eval_dataset(model, label_set, frames) -> CorpusDataset:
    cfg = model.config
    return CorpusDataset(label_set.folder, cfg.image_size, cfg.heatmap_size, cfg.token_stride,
                         views=len(label_set.info["cameras"]), multiview_layout=cfg.is_multiview, train=False,
                         corpus=label_set.corpus(frames))


@torch.inference_mode()
def _predict(model, item: dict, fuse: bool, keep_ratio: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (V, J, 2) in original-image px and confidences (V, J) for one multi-view item."""
    device = next(model.parameters()).device
    image = item["image"].to(device)
    if model.config.is_multiview:
        out = model(image[None], item["rays"][None].to(device), fuse=fuse and image.shape[0] > 1,
                    keep_ratio=keep_ratio)
        heat = out.heatmaps[0]
    else:
        heat = model(image, keep_ratio=keep_ratio).heatmaps
    coords, conf = decode_argmax(heat.float().cpu().numpy())
    (H, W), (h, w) = model.config.image_size, model.config.heatmap_size
    crop = coords * np.array([W / w, H / h])
    return _to_image(item["to_image"].numpy(), crop), conf


def _to_image(affines: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.einsum("vij,vkj->vki", affines[:, :, :2], points) + affines[:, None, :, 2]


def _triangulate(rig, kp: np.ndarray, conf: np.ndarray, person_px: float) -> np.ndarray:
    threshold = 0.05 * person_px if np.isfinite(person_px) else 20.0
    return triangulate(rig, kp, np.clip(conf, 1e-6, None), outliers="worst-view", threshold_px=threshold).points_3d


def evaluate_labels(model, label_sets, split: str = "held-out", holdout: float = 0.3, fuse: bool = True,
                    keep_ratio: float | None = None, baseline: bool = True) -> dict:
    """Figures of the module docstring for ``model`` on the ``split`` frames of ``label_sets`` (eval mode is set
    and restored). Returns ``{"frames", "median_px", "mpjpe_mm", "median_mm", "baseline_*"...}``."""
    was_training = model.training
    model.eval()
    skeleton = H36M17 if model.config.is_multiview else COCO17
    shared = [j for j, name in enumerate(skeleton.joints) if name in H36M17.joints]
    label_index = [LABEL_JOINTS.index(skeleton.joints[j]) for j in shared]
    err2, err3, base2, base3, frames = [], [], [], [], 0
    try:
        for ls in label_sets:
            rig = ls.rig
            scale = _MM[rig.units]
            held = ls.frames(split, holdout)
            if len(held) == 0:
                continue
            data = _eval_dataset(model, ls, held)
            mean_pose = None
            if baseline:
                train = ls.frames("train", holdout)
                if len(train):
                    tdata = _eval_dataset(model, ls, train)
                    crops = np.stack([tdata[k]["joints"].numpy() for k in range(len(tdata))])  # (N, V, J, 2)
                    lab = np.stack([tdata[k]["labelled"].numpy() for k in range(len(tdata))]) > 0
                    with np.errstate(invalid="ignore"):
                        mean_pose = (np.where(lab[..., None], crops, 0).sum(0) / lab.sum(0)[..., None])
            for k, f in enumerate(held):
                item = data[k]
                kp, conf = _predict(model, item, fuse, keep_ratio)
                truth, labelled = item["joints_image"].numpy(), item["labelled"].numpy() > 0
                err2.append(np.linalg.norm(kp - truth, axis=-1)[labelled])
                X = _triangulate(rig, kp, conf, float(ls.arrays["person_px"][f]))
                ref = ls.arrays["joints_3d"][f][label_index]
                err3.append(np.linalg.norm(X[shared] - ref, axis=-1) * scale)
                if mean_pose is not None:
                    mp = _to_image(item["to_image"].numpy(), np.nan_to_num(mean_pose))
                    base2.append(np.linalg.norm(mp - truth, axis=-1)[labelled])
                    Xb = _triangulate(rig, mp, np.ones(mp.shape[:2]), float(ls.arrays["person_px"][f]))
                    base3.append(np.linalg.norm(Xb[shared] - ref, axis=-1) * scale)
                frames += 1
    finally:
        model.train(was_training)
    if frames == 0:
        raise ValueError(f"no reliable frame set in the {split} part of {[ls.session.name for ls in label_sets]}")
    out = {"frames": frames}
    for prefix, e2, e3 in (("", err2, err3), ("baseline_", base2, base3)):
        if not e2:
            continue
        d2, d3 = np.concatenate(e2), np.concatenate(e3)
        d3 = d3[np.isfinite(d3)]
        out.update({f"{prefix}median_px": float(np.median(d2)),
                    f"{prefix}mpjpe_mm": float(np.mean(d3)) if d3.size else float("nan"),
                    f"{prefix}median_mm": float(np.median(d3)) if d3.size else float("nan")})
    return out
