"""Evaluate a multi-view pose model on a studio session: 2D JDR/PCK per joint, 3D MPJPE/PA-MPJPE after
triangulation, and the same split by the ground-truth occlusion flags.

Protocol (as the official multi-view PPT evaluation, PPT_SPEC 5.4, adapted to our sessions):

* Crops come from the ground truth: per frame and camera, the box spanning the 17 Human3.6M joints' 2D
  ground truth (the official H36M evaluation also crops with ground-truth-derived boxes), grown by the
  pipeline's padding (1.25) to a square HRNet-convention crop - exactly as the training samples are made.
* 2D: heatmaps decoded with argmax + quarter offset (the ``hrnet`` pipeline), mapped back to original pixels.
  **JDR**: a joint is detected when within ``threshold_px`` of the ground truth; the official threshold is
  ``0.5 * 256 / 10 = 12.8`` px and we keep that number of pixels for our 640x480 frames (people there are
  about 150-350 px tall, so it is stricter relative to body size than on the 1000x1000 H36M frames). Every
  (frame, view, joint) counts, visible or not, like the official rate. **PCK@a**: distance <= a * the longer
  side of the ground-truth joints' box of that view.
* 3D: the 2D of all views of a frame triangulated with the session's calibration
  (:func:`core.geometry.triangulation.triangulate_sequence`, confidence-weighted DLT with worst-view outlier
  rejection at 20 px), MPJPE in mm against the ground truth without alignment, and PA-MPJPE (similarity
  Procrustes per frame).
* ``views="all"``: one forward over all views with human-area fusion (``fuse=True``). ``views="1"``: every
  view alone through the same weights without fusion (single-view PPT with the same backbone); its 2D is then
  triangulated the same way, so both modes have 2D and 3D figures.
* Occlusion: a (frame, view, joint) is *occluded* when the ground truth ``visible`` flag is false (hidden by
  the body itself, another person or a prop, or outside the image); a 3D joint of a frame is *occluded* when it
  is hidden in at least one camera.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from core.geometry.skeletons import H36M17, joint_order
from core.geometry.triangulation import triangulate_sequence
from core.locate import PersonLocator
from core.session.folder import SessionReader
from core.train.localisation import _subject_pick, model_predict, run_located
from core.train.metrics import joint_detection_rate, mpjpe, pa_mpjpe, pck

log = logging.getLogger(__name__)

#: Official JDR threshold (PPT_SPEC 5.4): 0.5 * headsize, headsize = 256 / 10.
JDR_THRESHOLD_PX = 12.8
PCK_ALPHAS = (0.05, 0.1)


@dataclass
class SessionEvaluation:
    """Metrics of one model on one session. Rates are fractions in [0, 1]; 3D errors in mm.

    ``per_joint`` maps a metric name to a (J,) list in ``joint_names`` order. ``frames`` frame sets were used
    (``views`` cameras each); ``forward_ms`` is the mean model time per frame set.
    """

    session: str
    mode: str
    keep_ratio: float
    frames: int
    views: int
    threshold_px: float
    joint_names: tuple[str, ...]
    overall: dict = field(default_factory=dict)
    per_joint: dict = field(default_factory=dict)
    forward_ms: float = float("nan")
    boxes: str = "truth"

    def as_dict(self) -> dict:
        return {"session": self.session, "mode": self.mode, "keep_ratio": self.keep_ratio, "frames": self.frames,
                "views": self.views, "jdr_threshold_px": self.threshold_px, "joint_names": list(self.joint_names),
                "overall": self.overall, "per_joint": self.per_joint, "forward_ms": self.forward_ms,
                "boxes": self.boxes}


def gt_boxes(joints_2d: np.ndarray) -> np.ndarray:
    """xywh boxes (..., 4) px spanning the finite joints (..., J, 2) (width/height at least 2 px; NaN if none)."""
    pts = np.asarray(joints_2d, dtype=np.float64)
    good = np.isfinite(pts).all(-1)
    lo = np.where(good[..., None], pts, np.inf).min(-2)
    hi = np.where(good[..., None], pts, -np.inf).max(-2)
    box = np.concatenate([lo, np.maximum(hi - lo, 2.0)], -1)
    box[~good.any(-1)] = np.nan
    return box


def predict_session(estimator, session, views: str = "all", stride: int = 1, max_frames: int | None = None,
                    boxes: str = "truth", detectors="auto"):
    """Run ``estimator`` over a session's frames with crops from ``boxes``: ``"truth"`` (the ground-truth 2D, as
    the official evaluation) or ``"locate"`` (:class:`core.locate.PersonLocator` run on every frame set in order,
    as live, fed back with the model's own triangulated result; the session's first person is selected on the
    first frame set as a user's click would). A view without a located box has no 2D (NaN, a miss).

    Returns (frame indices (T,), keypoints (T, C, J, 2) px, confidence (T, C, J), mean forward ms per frame set).
    Frame sets with a dropped camera are skipped.
    """
    if boxes not in ("truth", "locate"):
        raise ValueError(f"boxes must be 'truth' or 'locate', got {boxes!r}")
    if boxes == "locate":
        return _predict_located(estimator, session, views, stride, max_frames, detectors)

    reader = session if isinstance(session, SessionReader) else SessionReader(session)
    truth = reader.ground_truth()
    if truth is None:
        raise ValueError(f"{reader.path} has no ground truth (ground_truth.npz): evaluation needs a studio session")
    if views not in ("all", "1"):
        raise ValueError(f"views must be 'all' or '1', got {views!r}")
    idx = joint_order(truth.joint_names, H36M17)
    gt2d = truth.joints_2d[:, :, idx]
    row_of = {int(f): i for i, f in enumerate(truth.frame_index)}
    cams = list(reader.rig)
    names = reader.camera_names
    wanted = list(range(0, reader.num_frames, max(1, stride)))
    if max_frames:
        wanted = wanted[:max_frames]
    wanted_set = set(wanted)
    frames, kps, confs, times = [], [], [], []
    for fs in reader.frame_sets(0, (wanted[-1] + 1) if wanted else 0):
        if fs.index not in wanted_set or fs.index not in row_of:
            continue
        if any(n not in fs.frames for n in names):
            log.debug("frame set %d misses cameras %s: skipped", fs.index, fs.missing)
            continue
        row = row_of[fs.index]
        images = [fs.frames[n].image for n in names]
        boxes = gt_boxes(gt2d[row])
        res = estimator.estimate(images, boxes=boxes, cameras=cams, fuse=(views == "all"))
        frames.append(fs.index)
        kps.append(res.keypoints)
        confs.append(res.confidence)
        times.append(res.timings["forward_ms"])
    if not frames:
        raise ValueError(f"{reader.path}: no complete frame set to evaluate")
    return np.array(frames), np.stack(kps), np.stack(confs), float(np.mean(times[1:] if len(times) > 1 else times))


def _predict_located(estimator, session, views: str, stride: int, max_frames: int | None, detectors):
    """:func:`predict_session` with ``boxes="locate"``: every frame set goes through the stage and the model in
    order; the figures use every ``stride``-th one."""

    reader = session if isinstance(session, SessionReader) else SessionReader(session)
    truth = reader.ground_truth()
    if truth is None:
        raise ValueError(f"{reader.path} has no ground truth (ground_truth.npz): evaluation needs a studio session")
    row_of = {int(f): i for i, f in enumerate(truth.frame_index)}
    names = reader.camera_names
    wanted = list(range(0, reader.num_frames, max(1, stride)))
    if max_frames:
        wanted = wanted[:max_frames]
    wanted_set = set(wanted)
    stop = (wanted[-1] + 1) if wanted else 0
    forward = model_predict(estimator, reader.rig, fuse=(views == "all"))
    times: list[float] = []

    def predict(fs, boxes):
        t0 = time.perf_counter()
        out = forward(fs, boxes)
        times.append((time.perf_counter() - t0) * 1e3)
        return out

    locator = PersonLocator(reader.rig, detectors)
    pick = _subject_pick(truth, names)
    frames, kps, confs = [], [], []
    try:
        sets = (fs for fs in reader.frame_sets(0, stop) if fs.index in row_of)
        for fs, _, kp, conf in run_located(locator, reader.rig, sets, predict, on_start=lambda f: pick(locator, f)):
            if fs.index in wanted_set and all(n in fs.frames for n in names):
                frames.append(fs.index)
                kps.append(kp)
                confs.append(conf)
    finally:
        locator.close()
    if not frames:
        raise ValueError(f"{reader.path}: no complete frame set to evaluate")
    return np.array(frames), np.stack(kps), np.stack(confs), float(np.mean(times[1:] if len(times) > 1 else times))


def evaluate_session(estimator, session, views: str = "all", *, stride: int = 1, max_frames: int | None = None,
                     threshold_px: float = JDR_THRESHOLD_PX, boxes: str = "truth",
                     detectors="auto") -> SessionEvaluation:
    """Evaluate a :class:`core.inference.PoseModelRunner` (multi-view model) on a studio session folder, with crops
    from the ground truth (``boxes="truth"``) or from the localisation stage (``"locate"``, see
    :func:`predict_session`)."""

    reader = SessionReader(session)
    frames, kp, conf, fwd_ms = predict_session(estimator, reader, views, stride, max_frames, boxes, detectors)
    truth = reader.ground_truth()
    idx = joint_order(truth.joint_names, H36M17)
    rows = np.array([int(np.nonzero(truth.frame_index == f)[0][0]) for f in frames])
    gt2d = truth.joints_2d[rows][:, :, idx]  # (T, C, J, 2)
    vis = truth.visible[rows][:, :, idx].astype(bool)  # (T, C, J)
    gt3d = truth.joints_3d[rows][:, idx] * 1000.0  # (T, J, 3) mm
    T, C, J, _ = kp.shape
    flat_pred, flat_gt, flat_vis = kp.reshape(T * C, J, 2), gt2d.reshape(T * C, J, 2), vis.reshape(T * C, J)
    box = gt_boxes(flat_gt)
    size = np.nanmax(box[:, 2:], axis=1)

    overall: dict = {}
    per_joint: dict = {}
    jdr, jdr_j = joint_detection_rate(flat_pred, flat_gt, threshold_px)
    overall["jdr"], per_joint["jdr"] = jdr, jdr_j.tolist()
    for name, mask in (("visible", flat_vis), ("occluded", ~flat_vis)):
        if mask.any():
            hits = np.linalg.norm(flat_pred - flat_gt, axis=-1) <= threshold_px
            overall[f"jdr_{name}"] = float(hits[mask].mean())
            overall[f"n_{name}_2d"] = int(mask.sum())
            per_joint[f"jdr_{name}"] = [float(hits[mask[:, j], j].mean()) if mask[:, j].any() else None
                                        for j in range(J)]
    for a in PCK_ALPHAS:
        overall[f"pck@{a}"] = pck(flat_pred, flat_gt, a * size)
    err2d = np.linalg.norm(flat_pred - flat_gt, axis=-1)
    overall["error_2d_px_mean"] = float(np.nanmean(err2d))
    overall["error_2d_px_median"] = float(np.nanmedian(err2d))
    per_joint["error_2d_px"] = np.nanmean(err2d, axis=0).tolist()

    if C >= 2:
        tri = triangulate_sequence(reader.rig, kp, conf)
        pred3d = tri.points_3d * 1000.0
        overall["mpjpe_mm"], mp_j = mpjpe(pred3d, gt3d)
        per_joint["mpjpe_mm"] = mp_j.tolist()
        overall["pa_mpjpe_mm"] = pa_mpjpe(pred3d, gt3d)
        occluded3d = ~vis.all(axis=1)  # hidden in at least one camera, (T, J)
        for name, mask in (("visible", ~occluded3d), ("occluded", occluded3d)):
            if mask.any():
                overall[f"mpjpe_{name}_mm"] = mpjpe(pred3d, gt3d, mask)[0]
                overall[f"n_{name}_3d"] = int(mask.sum())
    keep = estimator.keep_ratio if estimator.keep_ratio is not None else estimator.config.keep_ratio
    return SessionEvaluation(session=str(reader.path), mode="multi-view fused" if views == "all" else "single-view",
                             boxes=boxes,
                             keep_ratio=float(keep), frames=T, views=C, threshold_px=threshold_px,
                             joint_names=H36M17.joints, overall=overall, per_joint=per_joint, forward_ms=fwd_ms)


def format_table(result: SessionEvaluation) -> str:
    """A plain-text table: overall figures, then one row per joint."""
    o = result.overall
    pct = lambda v: "-" if v is None or not np.isfinite(v) else f"{100 * v:5.1f}"  # noqa: E731
    mm = lambda v: "-" if v is None or not np.isfinite(v) else f"{v:6.1f}"  # noqa: E731
    lines = [f"session {result.session}: {result.mode}, keep ratio {result.keep_ratio}, {result.boxes} boxes, "
             f"{result.frames} frame sets "
             f"x {result.views} views, model {result.forward_ms:.0f} ms per frame set",
             f"JDR (<= {result.threshold_px} px) {pct(o['jdr'])} %  visible {pct(o.get('jdr_visible'))} %  "
             f"occluded {pct(o.get('jdr_occluded'))} % ({o.get('n_occluded_2d', 0)} of "
             f"{o.get('n_occluded_2d', 0) + o.get('n_visible_2d', 0)})",
             "  ".join(f"PCK@{a} {pct(o[f'pck@{a}'])} %" for a in PCK_ALPHAS)
             + f"  2D error mean {o['error_2d_px_mean']:.1f} px, median {o['error_2d_px_median']:.1f} px"]
    if "mpjpe_mm" in o:
        lines.append(f"3D MPJPE {mm(o['mpjpe_mm'])} mm  PA-MPJPE {mm(o['pa_mpjpe_mm'])} mm  "
                     f"visible in all views {mm(o.get('mpjpe_visible_mm'))} mm  "
                     f"occluded in some view {mm(o.get('mpjpe_occluded_mm'))} mm")
    pj = result.per_joint
    lines.append(f"{'joint':<16}{'JDR %':>7}{'vis %':>7}{'occ %':>7}{'err px':>8}{'MPJPE mm':>10}")
    for j, name in enumerate(result.joint_names):
        lines.append(f"{name:<16}{pct(pj['jdr'][j]):>7}{pct((pj.get('jdr_visible') or [None] * 99)[j]):>7}"
                     f"{pct((pj.get('jdr_occluded') or [None] * 99)[j]):>7}{pj['error_2d_px'][j]:8.1f}"
                     f"{mm(pj['mpjpe_mm'][j]) if 'mpjpe_mm' in pj else '-':>10}")
    return "\n".join(lines)

