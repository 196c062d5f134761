"""Single-view (and fused) figures of a Human3.6M-17 model on the real frames in ``../shared/data``.

Each function takes a :class:`core.inference.PoseModelRunner` on a multi-view model (its views run unfused,
i.e. as single-view PPT, unless stated) and the data folder, and returns a dict of figures. Crops come from
ground-truth boxes (as :mod:`core.train.evaluate`). Distances are in original-image pixels; PCK@a counts a
joint as correct within ``a`` times the longer side of the ground-truth box.

* :func:`eval_h36m_frames`: the 4 Human3.6M frames (``poses/h36m``, 1000x1002) against their 17-joint 2D:
  JDR at the official 12.8 px and PCK.
* :func:`eval_coco_people`: the 14 annotated people of ``poses/coco`` against their COCO keypoints, on the 13
  joints both sets share (nose, shoulders, elbows, wrists, hips, knees, ankles; labelled ones only).
* :func:`eval_pose2sim`: the 4-camera Pose2Sim recording against its OpenPose BODY_25B 2D (a detector, not
  ground truth) on the 14 shared joints, unfused and fused with the recording's calibration.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from core.geometry.skeletons import BODY25B, COCO17, H36M17
from core.session.openpose_json import read_pose2sim_project
from core.train.evaluate import JDR_THRESHOLD_PX, gt_boxes
from core.train.metrics import joint_detection_rate, pck

SHARED_COCO = [j for j in H36M17.joints if j in COCO17.joints]  # 13 joints
SHARED_BODY25B = [j for j in H36M17.joints if j in BODY25B.joints]  # 14 joints (with head_top)


def _summary(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> dict:
    """pred/gt (N, J, 2) px, mask (N, J) bool, boxes (N, 4) xywh -> error and PCK figures."""
    err = np.linalg.norm(pred - gt, axis=-1)[mask]
    size = np.maximum(boxes[:, 2], boxes[:, 3])
    return {"samples": int(len(pred)), "joints": int(mask.sum()), "error_px_mean": float(np.mean(err)),
            "error_px_median": float(np.median(err)),
            "pck@0.05": pck(pred, gt, 0.05 * size, mask), "pck@0.1": pck(pred, gt, 0.1 * size, mask),
            "pck@0.2": pck(pred, gt, 0.2 * size, mask)}


def eval_h36m_frames(estimator, root) -> dict:
    """Human3.6M frames: JDR (12.8 px, all 17 joints) and PCK, single view."""
    root = Path(root)
    data = np.load(root / "test_h36m_body3d.npz")
    preds, gts = [], []
    for name, part in zip(data["imgname"], data["part"]):
        image = cv2.imread(str(root / str(name)))
        if image is None:
            raise FileNotFoundError(f"cannot read Human3.6M frame {root / str(name)}")
        gt = part[:, :2]
        res = estimator.estimate([image], boxes=gt_boxes(gt)[None], fuse=False)
        preds.append(res.keypoints[0])
        gts.append(gt)
    pred, gt = np.stack(preds), np.stack(gts)
    out = _summary(pred, gt, np.ones(gt.shape[:2], bool), gt_boxes(gt))
    out["jdr"] = joint_detection_rate(pred, gt, JDR_THRESHOLD_PX)[0]
    return out


def eval_coco_people(estimator, root) -> dict:
    """COCO people with ground-truth boxes: error and PCK on the 13 shared joints, single view."""
    root = Path(root)
    ann = json.loads((root / "test_coco.json").read_text())
    files = {im["id"]: im["file_name"] for im in ann["images"]}
    h_idx = [H36M17.index(j) for j in SHARED_COCO]
    c_idx = [COCO17.index(j) for j in SHARED_COCO]
    preds, gts, masks, boxes = [], [], [], []
    cache: dict = {}
    for a in ann["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(17, 3)
        if (kp[c_idx, 2] > 0).sum() < 3:
            continue
        image = cache.setdefault(a["image_id"], cv2.imread(str(root / files[a["image_id"]])))
        box = np.asarray(a["bbox"], dtype=np.float64)
        res = estimator.estimate([image], boxes=box[None], fuse=False)
        preds.append(res.keypoints[0][h_idx])
        gts.append(kp[c_idx, :2])
        masks.append(kp[c_idx, 2] > 0)
        boxes.append(box)
    return _summary(np.stack(preds), np.stack(gts), np.stack(masks), np.stack(boxes))


def eval_pose2sim(estimator, root, stride: int = 10, min_confidence: float = 0.3) -> dict:
    """Pose2Sim balancing recording vs OpenPose BODY_25B: {"single_view": ..., "fused": ...} figures."""
    rig, op, videos = read_pose2sim_project(root)
    h_idx = [H36M17.index(j) for j in SHARED_BODY25B]
    b_idx = [BODY25B.index(j) for j in SHARED_BODY25B]
    caps = [cv2.VideoCapture(str(v)) for v in videos]
    results: dict = {"single_view": ([], [], [], []), "fused": ([], [], [], [])}
    try:
        T = min(op.shape[1], *(int(c.get(cv2.CAP_PROP_FRAME_COUNT)) for c in caps))
        for t in range(T):
            images = [c.read()[1] for c in caps]
            if t % stride or any(im is None for im in images):
                continue
            ref = op[:, t, :, :2].copy()
            ref[op[:, t, :, 2] <= min_confidence] = np.nan
            boxes = gt_boxes(ref)
            if not np.isfinite(boxes).all():
                continue
            for mode, fuse in (("single_view", False), ("fused", True)):
                res = estimator.estimate(images, boxes=boxes, cameras=list(rig) if fuse else None, fuse=fuse)
                gt = ref[:, b_idx]
                acc = results[mode]
                acc[0].append(res.keypoints[:, h_idx])
                acc[1].append(gt)
                acc[2].append(np.isfinite(gt).all(-1))
                acc[3].append(boxes)
    finally:
        for c in caps:
            c.release()
    return {mode: _summary(np.concatenate(p), np.nan_to_num(np.concatenate(g)), np.concatenate(m),
                           np.concatenate(b)) for mode, (p, g, m, b) in results.items() if p}
