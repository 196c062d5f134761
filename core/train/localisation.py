"""How well the localisation stage finds the person: box recall and joints inside the crop, on studio sessions and
real recordings. The stage runs on the frames in order, as live, with the 2D of each frame set fed back.

Figures:

* ``recall``: share of the (frame set, view) pairs where the subject is in view (at least 4 visible truth joints in
  the image) whose box has IoU >= 0.5 with the truth box; per view and over all views.
* ``joints_inside``: share of the subject's visible truth joints that lie inside the crop the model is fed (the
  box grown to the model's aspect ratio and padded by 1.25); a missing box counts as outside.
* ``false_boxes``: boxes in views where the subject is not in view (only counted, the person may be hidden by a
  prop: the box then still shows the model where it is).
* ``ms``: the stage's time per frame set (tracking frame sets and searching ones apart).

The truth box is the box of the subject's 17 Human3.6M truth joints, the crop ``ppt-mocap evaluate --boxes truth``
feeds the model. The 2D fed back to the stage comes from ``pose``: ``"model"`` (a
:class:`core.inference.PoseModelRunner` on the located crops, as live), or ``"truth"`` (the truth 2D of the joints
inside each located crop, plus Gaussian noise: the stage with a good 2D model, independent of the weights).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from core.geometry import CameraRig
from core.geometry.camera import Camera
from core.geometry.skeletons import BODY25B, H36M17, joint_order
from core.locate.boxes import box_of_points, crop_region, iou, points_inside
from core.locate.detectors import create_detectors
from core.locate.locator import PersonBoxes, PersonLocator
from core.processing import PipelineSettings, triangulate_poses
from core.records import Frame, FrameSet, Poses2D
from core.session.folder import SessionReader
from core.session.openpose_json import read_pose2sim_project

log = logging.getLogger(__name__)

IOU_MIN = 0.5
MIN_VISIBLE_JOINTS = 4

#: predict(frame_set, boxes (C, 4)) -> (keypoints (C, J, 2), confidence (C, J)) in the rig's camera order.
Predict = Callable[[FrameSet, np.ndarray], tuple[np.ndarray, np.ndarray]]


def run_located(locator: PersonLocator, rig: CameraRig, frame_sets: Iterable[FrameSet], predict: Predict,
                skeleton=H36M17, on_start: Callable[[FrameSet], None] | None = None):
    """Run the stage and a 2D predictor over frame sets in order, as the live pipeline does (locate, 2D on the
    boxes, triangulate, feed back). Yields ``(frame_set, PersonBoxes, keypoints (C, J, 2), confidence (C, J))``.
    ``on_start(first frame set)`` runs before the first one is located (e.g. to select the subject)."""

    settings = PipelineSettings(mode="offline")
    first = True
    for fs in frame_sets:
        if first and on_start is not None:
            on_start(fs)
        first = False
        person = locator.locate(fs)
        kp, conf = predict(fs, person.boxes)
        poses = Poses2D(list(rig.names), kp, conf, skeleton, frame_index=fs.index)
        pose = triangulate_poses(rig, poses, settings)
        locator.observe(poses, pose.raw_points, fs.t_ns)
        yield fs, person, kp, conf


def model_predict(estimator, rig: CameraRig, fuse: bool | None = None) -> Predict:
    """A predictor running a :class:`core.inference.PoseModelRunner` on the views that have a box and a frame;
    ``fuse``: default = the estimator's (weights whose fusion was never trained run each view alone)."""

    def predict(fs: FrameSet, boxes: np.ndarray):
        C = len(rig)
        J = estimator.config.num_keypoints
        kp, conf = np.full((C, J, 2), np.nan), np.zeros((C, J))
        views = [c for c, n in enumerate(rig.names) if n in fs.frames and np.isfinite(boxes[c]).all()]
        if views:
            res = estimator.estimate([fs.frames[rig.names[c]].image for c in views], boxes=boxes[views],
                                     cameras=[rig.cameras[c] for c in views] if fuse is not False else None,
                                     fuse=fuse)
            kp[views], conf[views] = res.keypoints, np.clip(res.confidence, 0, 1)
        return kp, conf

    return predict


def truth_predict(joints_2d: Callable[[int], np.ndarray], aspect: float, noise_px: float = 2.0,
                  seed: int = 0) -> Predict:
    """A stand-in for a good 2D model: the truth joints ``joints_2d(frame index) (C, J, 2)`` that lie inside each
    located crop, with Gaussian noise (px); views without a box get nothing."""
    rng = np.random.default_rng(seed)

    def predict(fs: FrameSet, boxes: np.ndarray):
        gt = joints_2d(fs.index)
        inside = points_inside(crop_region(boxes, aspect), gt)
        kp = np.where(inside[..., None], gt + rng.normal(0, noise_px, gt.shape), np.nan)
        return kp, inside.astype(np.float64)

    return predict


class BoxScore:
    """Accumulates the figures of the module docstring over frame sets."""

    def __init__(self, cameras: list[str], aspect: float) -> None:
        self.cameras = list(cameras)
        self.aspect = aspect
        C = len(cameras)
        self.in_view = np.zeros(C, int)
        self.hits = np.zeros(C, int)
        self.joints = np.zeros(C, int)
        self.joints_in = np.zeros(C, int)
        self.false_boxes = np.zeros(C, int)
        self.sources = {s: np.zeros(C, int) for s in ("tracked", "detected", "none")}
        self.ious: list[float] = []
        self.ms_track: list[float] = []
        self.ms_search: list[float] = []
        self.events: list[tuple[int, str]] = []
        self.frames = 0

    def add(self, index: int, person: PersonBoxes, truth_2d: np.ndarray, visible: np.ndarray,
            truth_boxes: np.ndarray | None = None) -> None:
        """``truth_2d (C, J, 2)`` and ``visible (C, J)`` of the subject; ``truth_boxes (C, 4)`` (default: the box
        of ``truth_2d``)."""
        self.frames += 1
        boxes = person.boxes
        tb = box_of_points(truth_2d, min_points=2) if truth_boxes is None else truth_boxes
        in_view = visible.sum(-1) >= MIN_VISIBLE_JOINTS
        have = np.isfinite(boxes).all(-1)
        overlap = np.nan_to_num(iou(boxes, tb), nan=0.0)
        self.in_view += in_view
        self.hits += in_view & (overlap >= IOU_MIN)
        self.ious.extend(overlap[in_view].tolist())
        self.false_boxes += have & ~in_view & ~visible.any(-1)
        crop = crop_region(boxes, self.aspect)
        inside = points_inside(crop, truth_2d) & have[:, None]
        self.joints += visible.sum(-1)
        self.joints_in += (inside & visible).sum(-1)
        for c, s in enumerate(person.source):
            self.sources[s][c] += 1
        (self.ms_search if "detect" in person.timings else self.ms_track).append(person.timings["locate"])
        if person.event:
            self.events.append((index, person.event))

    def figures(self) -> dict:
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = self.hits / self.in_view
            inside = self.joints_in / self.joints
        return {
            "frames": self.frames,
            "recall": float(self.hits.sum() / max(1, self.in_view.sum())),
            "recall_per_view": {c: float(r) for c, r in zip(self.cameras, recall)},
            "min_view_recall": float(np.nanmin(recall)) if np.isfinite(recall).any() else float("nan"),
            "joints_inside": float(self.joints_in.sum() / max(1, self.joints.sum())),
            "joints_inside_per_view": {c: float(r) for c, r in zip(self.cameras, inside)},
            "iou_median": float(np.median(self.ious)) if self.ious else float("nan"),
            "views_in_view": int(self.in_view.sum()),
            "false_boxes": int(self.false_boxes.sum()),
            "sources": {s: int(v.sum()) for s, v in self.sources.items()},
            "events": [f"{i}:{e}" for i, e in self.events],
            "ms_tracking_mean": float(np.mean(self.ms_track)) if self.ms_track else float("nan"),
            "ms_tracking_median": float(np.median(self.ms_track)) if self.ms_track else float("nan"),
            "ms_searching_mean": float(np.mean(self.ms_search)) if self.ms_search else float("nan"),
            "searching_frames": len(self.ms_search),
        }


def _subject_pick(truth, names: list[str]):
    """Select the truth subject like a user's click: the centre of its box in the first view that sees it."""

    def on_start(locator: PersonLocator, fs: FrameSet) -> None:
        row = int(np.nonzero(truth.frame_index == fs.index)[0][0])
        for c, n in enumerate(names):
            b = truth.boxes[row, c]
            if np.isfinite(b).all() and truth.visible[row, c].sum() >= MIN_VISIBLE_JOINTS:
                locator.select(n, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
                return

    return on_start


def locate_session(session, *, pose: str = "truth", estimator=None, detectors="auto", max_frames: int | None = None,
                   aspect: float | None = None, noise_px: float = 2.0, select_subject: bool = True,
                   fuse: bool | None = None, stride: int = 1) -> dict:
    """Box figures of the stage on a studio session (module docstring), run on every frame set in order.

    ``stride``: run on every ``stride``-th frame set only, as a live loop that keeps up with 1/stride of the camera
    rate (a loaded CPU: the background model, the track and the 2D see only those sets); every start offset
    ``0 .. stride-1`` is run with a fresh stage and the figures pooled.

    ``pose``: ``"truth"`` or ``"model"`` (needs ``estimator``, a :class:`core.inference.PoseModelRunner` on a
    Human3.6M-17 model). ``aspect``: the model input's W/H (default: the estimator's, else 1). With
    ``select_subject`` the truth subject (the session's first person) is selected on the first frame set as a
    user's click would; otherwise the stage follows whoever it finds first.
    """

    reader = session if isinstance(session, SessionReader) else SessionReader(session)
    truth = reader.ground_truth()
    if truth is None:
        raise ValueError(f"{reader.path} has no ground truth (ground_truth.npz): box figures need a studio session")
    if pose not in ("truth", "model"):
        raise ValueError(f"pose must be 'truth' or 'model', got {pose!r}")
    if pose == "model" and estimator is None:
        raise ValueError("pose='model' needs an estimator (core.inference.PoseModelRunner)")
    if aspect is None:
        aspect = 1.0 if estimator is None else estimator.config.image_size[1] / estimator.config.image_size[0]
    idx = joint_order(truth.joint_names, H36M17)
    row_of = {int(f): i for i, f in enumerate(truth.frame_index)}
    rig = reader.rig
    names = reader.camera_names
    gt2d = truth.joints_2d[:, :, idx]
    vis = truth.visible[:, :, idx].astype(bool)
    sizes = np.array([cam.size for cam in rig.cameras], dtype=np.float64)[:, None, :]
    predict = (model_predict(estimator, rig, fuse) if pose == "model"
               else truth_predict(lambda i: gt2d[row_of[i]], aspect, noise_px))
    if int(stride) < 1:
        raise ValueError(f"stride must be >= 1 (every stride-th frame set), got {stride}")
    pick = _subject_pick(truth, names) if select_subject else None
    score = BoxScore(names, aspect)
    stop = reader.num_frames if max_frames is None else min(max_frames, reader.num_frames)
    for offset in range(int(stride)):
        locator = PersonLocator(rig, detectors)
        try:
            sets = (fs for fs in reader.frame_sets(offset, stop)
                    if fs.index in row_of and (fs.index - offset) % stride == 0)
            for fs, person, _, _ in run_located(locator, rig, sets, predict,
                                                on_start=None if pick is None else (lambda f: pick(locator, f))):
                row = row_of[fs.index]
                in_image = ((gt2d[row] >= 0) & (gt2d[row] < sizes)).all(-1)
                score.add(fs.index, person, gt2d[row], vis[row] & in_image)
        finally:
            locator.close()
    out = score.figures()
    out.update(session=str(reader.path), pose=pose, detectors=locator.detector_names, aspect=aspect,
               stride=int(stride))
    return out


def locate_pose2sim(root, *, estimator=None, detectors="auto", min_confidence: float = 0.3,
                    aspect: float | None = None, detection: bool = True) -> dict:
    """Box figures on the real Pose2Sim recording (4 cameras, 100 frames) against boxes of its OpenPose
    keypoints (confidence > ``min_confidence``): the stage as live with the OpenPose 2D inside its crops fed back
    (``tracked_openpose_2d``, a good 2D model) or with ``estimator`` on its crops (``tracked_model_2d``), and
    (with ``detection``) a fresh search on every frame set (``detection``)."""
    import cv2

    rig, op, videos = read_pose2sim_project(root)
    ref = np.where((op[..., 2] > min_confidence)[..., None], op[..., :2], np.nan)  # (C, T, 25, 2)
    visible = np.isfinite(ref).all(-1)
    fps = 60.0
    sets = []
    caps = [cv2.VideoCapture(str(v)) for v in videos]
    try:
        T = min(op.shape[1], *(int(c.get(cv2.CAP_PROP_FRAME_COUNT)) for c in caps))
        for t in range(T):
            frames = {}
            for cam, cap in zip(rig.names, caps):
                ok, image = cap.read()
                if ok:
                    frames[cam] = Frame(cam, t, int(t * 1e9 / fps), 0.0, image)
            sets.append(FrameSet.from_frames(t, frames, rig.names))
    finally:
        for c in caps:
            c.release()
    if aspect is None:
        aspect = 1.0 if estimator is None else estimator.config.image_size[1] / estimator.config.image_size[0]

    out = {"frames": len(sets), "cameras": rig.names}
    openpose = truth_predict(lambda i: ref[:, i], aspect, noise_px=0.0)
    modes = {"tracked_openpose_2d": (openpose, BODY25B)}
    if estimator is not None:
        modes["tracked_model_2d"] = (model_predict(estimator, rig), H36M17)
    if detection:
        modes["detection"] = (None, None)
    for mode, (predict, skeleton) in modes.items():
        locator = PersonLocator(rig, detectors)
        score = BoxScore(rig.names, aspect)
        try:
            if predict is None:
                for fs in sets:
                    locator.reset()
                    score.add(fs.index, locator.locate(fs), ref[:, fs.index], visible[:, fs.index])
            else:
                for fs, person, _, _ in run_located(locator, rig, sets, predict, skeleton):
                    score.add(fs.index, person, ref[:, fs.index], visible[:, fs.index])
        finally:
            locator.close()
        out[mode] = score.figures()
        out["detectors"] = locator.detector_names
    return out


def locate_h36m_frames(root, detectors="mediapipe") -> dict:
    """Detection on the single Human3.6M frames (one camera each, no motion, so background subtraction cannot
    work): the stage's choice among the detections vs the box of the 17 truth joints."""
    import cv2

    root = Path(root)
    data = np.load(root / "test_h36m_body3d.npz")
    dets = create_detectors(detectors) if isinstance(detectors, str) else list(detectors)
    score = BoxScore(["view"], 1.0)
    try:
        for k, (name, part) in enumerate(zip(data["imgname"], data["part"])):
            image = cv2.imread(str(root / str(name)))
            if image is None:
                raise FileNotFoundError(f"cannot read Human3.6M frame {root / str(name)}")
            h, w = image.shape[:2]
            K = np.array([[1000.0, 0, w / 2], [0, 1000.0, h / 2], [0, 0, 1]])  # unused by a one-camera search
            locator = PersonLocator(CameraRig([Camera("view", (w, h), K)]), dets)
            person = locator.locate(FrameSet.from_frames(k, {"view": Frame("view", k, 0, 0.0, image)}, ["view"]))
            gt = part[None, :, :2]
            score.add(k, person, gt, np.ones((1, gt.shape[1]), bool))
    finally:
        for d in dets:
            d.close()
    out = score.figures()
    out["detectors"] = [d.name for d in dets]
    return out
