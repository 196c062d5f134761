"""Multi-view bootstrapped labels of a recorded session (Simon et al., CVPR 2017): ``ppt-mocap finetune label``.

A teacher gives 2D keypoints in every view: MediaPipe BlazePose (run here and stored as the result set
``results/mediapipe``) or a result set already in the session (``recorded``: e.g. OpenPose JSON, a PPT run, an
earlier MediaPipe run). Per frame set:

1. the teacher's joints are triangulated robustly (confidence-weighted DLT, outlier views rejected,
   :func:`core.geometry.triangulate`); thresholds are fractions of the person's height in the image, so they
   mean the same for a 480p webcam and a 4K camera;
2. a joint is kept when at least ``min_views`` views, and more than half of the views that saw it, agree within
   ``max_joint_error``; a frame is *reliable* when
   the person is seen in at least two views, at least ``min_joints`` of the 17 Human3.6M joints are kept, and the
   median reprojection error is at most ``max_frame_error``; other frames are rejected with their reason;
3. the kept joints are converted to the label joint set (:data:`LABEL_JOINTS`: Human3.6M-17, which the multi-view
   model predicts, plus eyes and ears for COCO-17 models) with the rule of
   :func:`core.geometry.skeletons.teacher_to_h36m`, and projected into every view, including views where the
   teacher failed or was rejected;
4. each view's persistent offset between the teacher and the projections (the median over ``offset_window_s``
   seconds of the teacher's inlier residuals, per camera and joint: calibration that is a few pixels off a view,
   view-dependent keypoint definitions) is added back, so a label moves off the teacher only by its per-frame
   noise and failures (0 s turns this off: pure projections);
5. visibility: inside the image, not hidden by the body (:func:`core.geometry.occlusion.body_occlusion`), and not
   marked low-confidence by the teacher in a view where it saw the person.

Stored in ``SESSION/labels/<name>/``: ``labels.npz`` (every frame set: labels, 3D, quality, the teacher's raw 2D),
``crops.npz`` (the reliable frame sets as square person crops, the shard layout of :mod:`core.train.corpus_render`, so
:class:`core.train.corpus.CorpusDataset` cuts training items from them) and ``labels.json`` (teacher, settings,
counts; written last, ``complete`` true).
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core.estimators.mediapipe_pose import MediaPipeEstimator
from core.geometry.calibration_io import load_rig
from core.geometry.camera import CameraRig
from core.geometry.occlusion import body_occlusion
from core.geometry.skeletons import H36M17, Skeleton, convert_joints, teacher_to_h36m
from core.geometry.triangulation import triangulate
from core.inference.preprocess import apply_affine, warp_crop
from core.processing import PipelineSettings, reprocess_session
from core.session.folder import CALIBRATION, MANIFEST
from core.session.replay import Session, load_results
from core.studio.body import STUDIO_JOINTS
from core.train.corpus_render import Corpus, CorpusSpec, subject_crop

log = logging.getLogger(__name__)

LABELS_DIR = "labels"
LABEL_FORMAT = "ppt-mocap labels"
LABEL_VERSION = 1
TEACHERS = ("mediapipe", "recorded")
#: The label joint set: Human3.6M-17 and the four face points COCO-17 models need. It is the first 21 joints of
#: the studio's set, so :class:`core.train.corpus.CorpusDataset` maps it to either model skeleton unchanged.
LABEL_JOINTS = H36M17.joints + ("left_eye", "right_eye", "left_ear", "right_ear")
assert LABEL_JOINTS == STUDIO_JOINTS[:len(LABEL_JOINTS)]
#: Why a frame set was rejected (``reason`` codes in ``labels.npz``).
REASONS = ("reliable", "no_person", "few_joints", "reprojection_error")
ProgressFn = Callable[[str, float], None]


class LabelError(ValueError):
    """A session that cannot be labelled (no calibration, one camera, nobody found, too few reliable frames)."""


@dataclass(frozen=True)
class LabelSettings:
    """How labels are made. Pixel thresholds are fractions of the person's height in each frame's views.

    Attributes:
        min_confidence: teacher observations at or below this confidence are ignored.
        outliers: outlier-view rejection of the triangulation (``"worst-view"`` or ``"ransac"``).
        outlier_threshold: reprojection error above which a view is an outlier (x person height).
        max_joint_error: largest mean reprojection error of a kept joint (x person height).
        max_frame_error: largest median reprojection error over a reliable frame's joints (x person height).
        min_views: views a kept joint needs.
        min_agreement: a kept joint needs more than this share of the views that observed it as inliers (two
            views always fit each other; a majority of agreeing views is what makes a 3D point trustworthy).
        min_joints: kept Human3.6M joints (of 17) a reliable frame needs.
        min_frames: fewer reliable frame sets stop labelling with an error.
        visibility_confidence: a view's teacher confidence below this marks the joint not visible there.
        offset_window_s: window of the per-view teacher offsets added to the projections (0: pure projections).
        crop_size: side of the stored square crops, px.
    """

    min_confidence: float = 0.3
    outliers: str = "worst-view"
    outlier_threshold: float = 0.05
    max_joint_error: float = 0.05
    max_frame_error: float = 0.03
    min_views: int = 2
    min_agreement: float = 0.5
    min_joints: int = 12
    min_frames: int = 10
    visibility_confidence: float = 0.5
    offset_window_s: float = 1.0
    crop_size: int = 256

    def __post_init__(self) -> None:
        if not 0 <= self.min_agreement < 1:
            raise ValueError(f"min_agreement is a share of the observing views in [0, 1), got {self.min_agreement}")
        if self.outliers not in ("worst-view", "ransac"):
            raise ValueError(f"outliers must be 'worst-view' or 'ransac', got {self.outliers!r}")
        if self.min_views < 2:
            raise ValueError(f"min_views must be at least 2, got {self.min_views}")
        if not 1 <= self.min_joints <= H36M17.num_joints:
            raise ValueError(f"min_joints must be in 1..{H36M17.num_joints}, got {self.min_joints}")
        for name in ("outlier_threshold", "max_joint_error", "max_frame_error"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} is a fraction of the person's height in (0, 1), got {getattr(self, name)}")
        if self.offset_window_s < 0 or self.min_frames < 1 or self.crop_size < 32:
            raise ValueError("offset_window_s >= 0, min_frames >= 1 and crop_size >= 32 are required")


@dataclass
class Bootstrap:
    """Labels of T frame sets in C views (J = ``len(LABEL_JOINTS)``; NaN = no label).

    ``joints_3d (T, J, 3)`` rig units; ``joints_2d (T, C, J, 2)`` px (projection + offset), ``projected`` and
    ``offsets`` the two parts; ``visible`` / ``occluded (T, C, J)``; ``teacher_error (T, Jt)`` mean reprojection
    error px of the teacher's joints, ``views_used (T, C, Jt)``; ``person_px (T,)`` person height (median over
    views); ``frame_error (T,)`` median reprojection error / person height; ``reliable (T,)``; ``reason (T,)``
    index into :data:`REASONS`.
    """

    joints_3d: np.ndarray
    joints_2d: np.ndarray
    projected: np.ndarray
    offsets: np.ndarray
    visible: np.ndarray
    occluded: np.ndarray
    teacher_error: np.ndarray
    views_used: np.ndarray
    person_px: np.ndarray
    frame_error: np.ndarray
    reliable: np.ndarray
    reason: np.ndarray
    stats: dict = field(default_factory=dict)

    def counts(self) -> dict:
        out = {"frames": int(len(self.reliable)), "reliable": int(self.reliable.sum())}
        out.update({f"rejected_{name}": int((self.reason == k).sum()) for k, name in enumerate(REASONS) if k})
        out.update(self.stats)
        return out


# ---------------------------------------------------------------------------------------------------------
def to_label_joints(points: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """A teacher's 3D joints (..., Jt, 3) -> :data:`LABEL_JOINTS` (..., 21, 3) (Human3.6M rule + face points)."""
    h36m = teacher_to_h36m(points, skeleton)
    face = np.full(points.shape[:-2] + (4, points.shape[-1]), np.nan)
    for k, name in enumerate(LABEL_JOINTS[H36M17.num_joints:]):
        if name in skeleton.joints:
            face[..., k, :] = points[..., skeleton.index(name), :]
    return np.concatenate([h36m, face], axis=-2)


def _per_joint_in_label_set(values: np.ndarray, skeleton: Skeleton, reduce: str = "mean") -> np.ndarray:
    """Per-joint values (..., Jt) of the teacher mapped to the label joints (..., 21): copied, derived joints take
    the mean (``"mean"``) or all-of (``"all"``, for masks) of their sources; NaN where there is none."""
    v = np.asarray(values, dtype=np.float64)[..., None]
    out = convert_joints(v, skeleton, H36M17)[..., 0]
    if "head_top" not in skeleton.joints and "left_ear" in skeleton.joints:
        ears = v[..., [skeleton.index("left_ear"), skeleton.index("right_ear")], 0]
        out[..., H36M17.index("head_top")] = ears.mean(-1)
    face = np.full(v.shape[:-2] + (4,), np.nan)
    for k, name in enumerate(LABEL_JOINTS[H36M17.num_joints:]):
        if name in skeleton.joints:
            face[..., k] = v[..., skeleton.index(name), 0]
    out = np.concatenate([out, face], axis=-1)
    return (out >= 1.0 - 1e-9) if reduce == "all" else out


def _person_heights(keypoints: np.ndarray, confidence: np.ndarray, min_confidence: float) -> np.ndarray:
    """(T, C) height in px of the teacher's confident joints per view; NaN with fewer than 4 of them."""
    ok = np.isfinite(keypoints).all(-1) & (confidence > min_confidence)
    y = np.where(ok, keypoints[..., 1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN views
        h = np.nanmax(y, -1) - np.nanmin(y, -1)
    h[ok.sum(-1) < 4] = np.nan
    return h


def _window_offsets(residual: np.ndarray, half: int, min_count: int = 3) -> np.ndarray:
    """Running median over ``t - half .. t + half`` of residuals (T, C, J, 2) (NaN ignored); 0 where fewer than
    ``min_count`` residuals fall in the window."""
    T = len(residual)
    out = np.zeros_like(residual)
    finite = np.isfinite(residual).all(-1)
    for t in range(T):
        lo, hi = max(0, t - half), min(T, t + half + 1)
        window = residual[lo:hi]
        count = finite[lo:hi].sum(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            med = np.nanmedian(window, axis=0)
        out[t] = np.where((count >= min_count)[..., None], np.nan_to_num(med), 0.0)
    return out


def bootstrap_labels(rig: CameraRig, keypoints: np.ndarray, confidence: np.ndarray, skeleton: Skeleton,
                     fps: float, settings: LabelSettings = LabelSettings()) -> Bootstrap:
    """Labels from a teacher's 2D: ``keypoints (T, C, Jt, 2)`` px and ``confidence (T, C, Jt)`` in ``skeleton``'s
    joints, for ``rig``'s cameras (the steps of the module docstring). Pure: no files."""
    kp = np.asarray(keypoints, dtype=np.float64)
    conf = np.nan_to_num(np.asarray(confidence, dtype=np.float64))
    T, C, Jt = kp.shape[:3]
    if kp.shape != (T, C, skeleton.num_joints, 2) or conf.shape != (T, C, Jt):
        raise ValueError(f"teacher 2D: expected keypoints (T, C, {skeleton.num_joints}, 2) and confidence (T, C, J) "
                         f"for the {skeleton.name} skeleton, got {kp.shape} and {conf.shape}")
    if C != len(rig):
        raise ValueError(f"teacher 2D has {C} views but the rig has {len(rig)} cameras ({rig.names})")
    s = settings
    J = len(LABEL_JOINTS)
    heights = _person_heights(kp, conf, s.min_confidence)  # (T, C)
    seen = np.isfinite(heights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without anybody
        person = np.nanmedian(heights, axis=1)  # (T,)
    X_teacher = np.full((T, Jt, 3), np.nan)
    err = np.full((T, Jt), np.nan)
    used = np.zeros((T, C, Jt), bool)
    reason = np.zeros(T, np.int8)
    frame_error = np.full(T, np.nan)
    for t in range(T):
        if seen[t].sum() < 2:
            reason[t] = REASONS.index("no_person")
            continue
        h = person[t]
        res = triangulate(rig, kp[t], conf[t], min_confidence=s.min_confidence, outliers=s.outliers,
                          threshold_px=s.outlier_threshold * h, min_views=s.min_views)
        observed = (np.isfinite(kp[t]).all(-1) & (conf[t] > s.min_confidence)).sum(0)
        ok = (np.isfinite(res.points_3d).all(-1) & (res.num_views >= s.min_views)
              & (res.num_views > s.min_agreement * observed) & (res.reprojection_error <= s.max_joint_error * h))
        X_teacher[t, ok] = res.points_3d[ok]
        err[t] = res.reprojection_error
        used[t] = res.views_used & ok[None]
        if ok.any():
            frame_error[t] = float(np.median(res.reprojection_error[ok])) / h
    X = to_label_joints(X_teacher, skeleton)  # (T, 21, 3); unkept teacher joints are NaN, so are their derivations
    kept_h36m = np.isfinite(X[:, :H36M17.num_joints]).all(-1).sum(-1)
    undecided = reason == 0
    reason[undecided & (kept_h36m < s.min_joints)] = REASONS.index("few_joints")
    reason[(reason == 0) & ~(frame_error <= s.max_frame_error)] = REASONS.index("reprojection_error")
    reliable = reason == 0
    X[~reliable] = np.nan

    projected = np.full((T, C, J, 2), np.nan)
    for t in np.nonzero(reliable)[0]:
        projected[t] = rig.project(X[t])
    # The teacher's persistent per-view offsets from the projections (inlier observations of reliable frames).
    teacher_2d = np.concatenate([convert_joints(kp, skeleton, H36M17),
                                 np.full((T, C, 4, 2), np.nan)], axis=2)
    for k, name in enumerate(LABEL_JOINTS[H36M17.num_joints:]):
        if name in skeleton.joints:
            teacher_2d[:, :, H36M17.num_joints + k] = kp[:, :, skeleton.index(name)]
    inlier = _per_joint_in_label_set(used, skeleton, reduce="all")  # (T, C, 21)
    residual = np.where(inlier[..., None] & reliable[:, None, None, None], teacher_2d - projected, np.nan)
    half = int(round(s.offset_window_s * fps / 2))
    offsets = _window_offsets(residual, half) if s.offset_window_s > 0 else np.zeros_like(projected)
    offsets = np.where(np.isfinite(projected), offsets, np.nan)
    labels_2d = projected + offsets

    sizes = np.array([c.size for c in rig.cameras], dtype=np.float64)  # (C, 2) W, H
    inside = ((labels_2d >= 0) & (labels_2d <= sizes[None, :, None, :] - 1)).all(-1)
    occluded = np.zeros((T, C, J), bool)
    centers = rig.centers
    for t in np.nonzero(reliable)[0]:
        occluded[t, :, :H36M17.num_joints] = body_occlusion(centers, X[t, :H36M17.num_joints], rig.units)
    teacher_conf = _per_joint_in_label_set(conf, skeleton)  # (T, C, 21)
    doubtful = seen[..., None] & (np.nan_to_num(teacher_conf, nan=1.0) < s.visibility_confidence)
    visible = inside & ~occluded & ~doubtful & np.isfinite(labels_2d).all(-1)

    had = seen[reliable]  # (R, C): the teacher saw the person in that view
    lab_ok = np.isfinite(labels_2d[reliable]).all(-1)  # (R, C, 21)
    obs = _per_joint_in_label_set((conf > s.min_confidence) & np.isfinite(kp).all(-1), skeleton, "all")[reliable]
    stats = {"views_filled": int((~had).sum()),  # views of reliable frames labelled where the teacher saw nobody
             "joints_filled": int((lab_ok & ~obs).sum()),  # labels where the teacher had no confident observation
             "joints_corrected": int((lab_ok & obs & ~inlier[reliable]).sum()),  # teacher observation rejected
             "labels": int(lab_ok.sum()), "visible": int(visible[reliable].sum())}
    return Bootstrap(X, labels_2d, projected, offsets, visible, occluded, err, used, person, frame_error, reliable,
                     reason, stats)


# ---------------------------------------------------------------------------------------------------------
def check_session(path) -> "Session":  # noqa: F821 (core.session.replay.Session)
    """Open a session for labelling; :class:`LabelError` when it has no calibration, one camera or no frames."""

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"session folder not found: {path}")
    if not (path / MANIFEST).exists():
        raise FileNotFoundError(f"{path} is not a session folder: {MANIFEST} is missing")
    if not (path / CALIBRATION).exists():
        raise LabelError(f"session {path.name} has no calibration ({CALIBRATION} is missing): multi-view labels "
                         "need calibrated cameras; calibrate the rig (ppt-mocap calibrate, or the app's wizard) and "
                         f"put the file in the session as {CALIBRATION}")
    session = Session(path)
    if len(session.rig) < 2:
        raise LabelError(f"session {path.name} has 1 camera ({session.rig.names[0]}): multi-view labels need at "
                         "least 2 calibrated cameras")
    if len(session) == 0:
        raise LabelError(f"session {path.name} has no frames")
    odd = [c.name for c in session.rig if c.distortion_model != "opencv"]
    if odd:
        raise LabelError(f"session {path.name}: cameras {odd} use a lens model other than OpenCV's; fine-tuning "
                         "crops support the OpenCV (pinhole + distortion) model only")
    return session


def _teacher_arrays(session, result: str) -> tuple[np.ndarray, np.ndarray, Skeleton, dict]:
    """The result set's 2D laid out per frame set: (T, C, J, 2), (T, C, J), skeleton, settings."""
    res = session.results(result)
    a = res.arrays
    if "keypoints" not in a or "confidence" not in a:
        raise LabelError(f"result set {result!r} of {session.path.name} has no 2D keypoints to learn from")
    try:
        skeleton = res.skeleton
    except (KeyError, ValueError) as exc:
        raise LabelError(f"result set {result!r}: unknown skeleton ({exc})") from exc
    cams = res.settings.get("cameras", session.cameras)
    if list(cams) != list(session.cameras):
        raise LabelError(f"result set {result!r} is for cameras {cams}, the session has {session.cameras}")
    T, C, J = len(session), len(session.cameras), skeleton.num_joints
    kp = np.full((T, C, J, 2), np.nan)
    conf = np.zeros((T, C, J))
    idx = a.get("frame_index", np.arange(len(a["keypoints"])))
    ok = (idx >= 0) & (idx < T)
    kp[idx[ok]] = a["keypoints"][ok]
    conf[idx[ok]] = a["confidence"][ok]
    return kp, np.nan_to_num(conf), skeleton, res.settings


def run_teacher(session, teacher: str, result: str | None = None, overwrite: bool = False,
                on_progress: ProgressFn | None = None, estimator=None) -> str:
    """Make sure the teacher's 2D is in the session; returns its result-set name.

    ``mediapipe``: run BlazePose over every frame set into ``results/<result or "mediapipe">`` (kept and reused when
    complete, unless ``overwrite``); ``estimator`` replaces BlazePose (tests). ``recorded``: the result set
    ``result`` (default: ``live`` or the session's only set).
    """
    names = session.result_names()
    if teacher == "recorded":
        if result is None:
            if "live" in names:
                result = "live"
            elif len(names) == 1:
                result = names[0]
            else:
                raise LabelError(f"session {session.path.name}: say which result set teaches (--result NAME); "
                                 f"it has {names or 'none'}")
        if result not in names:
            raise LabelError(f"session {session.path.name} has no result set {result!r} (it has {names or 'none'})")
        return result
    if teacher != "mediapipe":
        raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")
    result = result or "mediapipe"
    if result in names and not overwrite:

        if load_results(session.path, result).complete:
            log.info("reusing the teacher's 2D in results/%s (pass overwrite to run it again)", result)
            return result

    own = estimator is None
    if own:

        estimator = MediaPipeEstimator()
    total = len(session)
    try:
        reprocess_session(session, estimator, PipelineSettings(mode="offline", filter=None), name=result, overwrite=True,
                          progress=False, on_progress=(lambda done, n: on_progress(
                              f"teacher 2D {done}/{n}", 0.7 * done / max(1, n))) if on_progress else None)
    finally:
        if own:
            estimator.close()
    log.info("teacher %s ran on %d frame sets into results/%s", teacher, total, result)
    return result


def _crop_arrays(session, boot: Bootstrap, frames: np.ndarray, spec: CorpusSpec,
                 on_progress: ProgressFn | None = None) -> dict:
    """The reliable frame sets ``frames`` as square person crops, in :mod:`core.train.corpus_render`'s shard layout."""
    rig = session.rig
    C = len(rig)
    wanted = set(int(f) for f in frames)
    encode = [int(cv2.IMWRITE_JPEG_QUALITY), int(spec.quality)]
    jpeg, offsets = [], [0]
    arrays: dict[str, list] = {k: [] for k in ("joints", "visible", "affine", "image_size", "joints_3d", "index")}
    ndist = max(5, max(len(c.dist) for c in rig.cameras))
    K = np.stack([c.K for c in rig.cameras])
    R = np.stack([c.R for c in rig.cameras])
    t = np.stack([c.t for c in rig.cameras])
    dist = np.stack([np.pad(np.asarray(c.dist, dtype=np.float64), (0, ndist - len(c.dist))) for c in rig.cameras])
    size = np.stack([np.asarray(c.size) for c in rig.cameras])
    if not wanted:
        raise LabelError("no reliable frame set to crop")
    last = max(wanted)
    done = 0
    for fs in session.frame_sets(min(wanted), last + 1):
        if fs.index not in wanted:
            continue
        j2d = boot.joints_2d[fs.index]  # (C, 21, 2)
        vis = boot.visible[fs.index].copy()
        per = {"joints": [], "affine": []}
        for c, cam in enumerate(rig.cameras):
            frame = fs.frames.get(cam.name)
            joints = j2d[c].copy()
            if frame is None:  # a dropped frame: a black crop whose joints carry no label
                image = np.zeros((cam.size[1], cam.size[0], 3), np.uint8)
                joints[:] = np.nan
                vis[c] = False
            else:
                image = frame.image if frame.image.ndim == 3 else cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
            affine = subject_crop(j2d[c, :H36M17.num_joints], cam.size, spec)
            crop = warp_crop(image, affine, (spec.crop_size, spec.crop_size))
            ok, buf = cv2.imencode(".jpg", crop, encode)
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for frame set {fs.index}, camera {cam.name}")
            jpeg.append(buf.reshape(-1))
            offsets.append(offsets[-1] + buf.size)
            per["joints"].append(apply_affine(affine, joints).astype(np.float32))
            per["affine"].append(affine)
        arrays["joints"].append(np.stack(per["joints"]))
        arrays["affine"].append(np.stack(per["affine"]))
        arrays["visible"].append(vis)
        arrays["image_size"].append(size)
        arrays["joints_3d"].append(boot.joints_3d[fs.index].astype(np.float32))
        arrays["index"].append(fs.index)
        done += 1
        if on_progress:
            on_progress(f"crops {done}/{len(wanted)}", 0.75 + 0.25 * done / len(wanted))
    if done != len(wanted):
        raise LabelError(f"session {session.path.name}: only {done} of the {len(wanted)} reliable frame sets could "
                         "be read from the videos")
    S = len(arrays["index"])
    out = {k: np.stack(v) for k, v in arrays.items()}
    out.update(jpeg=np.concatenate(jpeg), offsets=np.asarray(offsets, dtype=np.int64),
               K=np.broadcast_to(K, (S, C, 3, 3)).copy(), R=np.broadcast_to(R, (S, C, 3, 3)).copy(),
               t=np.broadcast_to(t, (S, C, 3)).copy(), dist=np.broadcast_to(dist, (S, C, ndist)).copy())
    return out


def _save_npz(path: Path, arrays: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def make_labels(session_path, teacher: str = "mediapipe", result: str | None = None, name: str | None = None,
                settings: LabelSettings = LabelSettings(), overwrite: bool = False,
                on_progress: ProgressFn | None = None, estimator=None) -> "LabelSet":
    """Label a session (the module docstring): teacher 2D, bootstrap, crops, files. Returns the new label set.

    ``name``: folder under ``SESSION/labels/`` (default: the teacher's result-set name). Raises
    :class:`LabelError` naming what is missing: calibration, a second camera, a person, enough reliable frames.
    """
    started = time.monotonic()
    session = check_session(session_path)

    def refuse_existing(planned: str | None) -> None:  # before any work: the teacher can take minutes
        if planned and (session.path / LABELS_DIR / planned / "labels.json").exists() and not overwrite:
            raise FileExistsError(f"{session.path / LABELS_DIR / planned} already exists; choose another name or "
                                  "overwrite it")

    refuse_existing(name or result or ("mediapipe" if teacher == "mediapipe" else None))
    result = run_teacher(session, teacher, result, overwrite=overwrite, on_progress=on_progress,
                         estimator=estimator)
    refuse_existing(name or result)
    kp, conf, skeleton, res_settings = _teacher_arrays(session, result)
    if on_progress:
        on_progress("triangulating", 0.72)
    boot = bootstrap_labels(session.rig, kp, conf, skeleton, session.fps, settings)
    counts = boot.counts()
    T = counts["frames"]
    desc = res_settings.get("estimator", {}).get("description") or res_settings.get("backend") or result
    if counts["rejected_no_person"] == T:
        raise LabelError(f"session {session.path.name}: no person found: the teacher ({teacher}, results/{result}) "
                         f"saw a person in at least 2 views in 0 of {T} frame sets")
    if counts["reliable"] < settings.min_frames:
        raise LabelError(
            f"session {session.path.name}: too few reliable frames: {counts['reliable']} of {T} (need "
            f"{settings.min_frames}); rejected {counts['rejected_no_person']} with the person in fewer than 2 "
            f"views, {counts['rejected_few_joints']} with fewer than {settings.min_joints} of 17 joints on which most "
            f"views (at least {settings.min_views}) agree, {counts['rejected_reprojection_error']} with a median "
            "reprojection "
            f"error above {100 * settings.max_frame_error:g} % of the person's height")
    name = name or result
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"label set name must be a plain folder name, got {name!r}")
    folder = session.path / LABELS_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.json").unlink(missing_ok=True)  # incomplete until the new json is written last
    spec = CorpusSpec(samples=counts["reliable"], views=len(session.rig), crop_size=settings.crop_size,
                      shard_size=counts["reliable"])
    crops = _crop_arrays(session, boot, np.nonzero(boot.reliable)[0], spec, on_progress)
    _save_npz(folder / "crops.npz", crops)
    _save_npz(folder / "labels.npz", {
        "frame_index": np.arange(T), "joints_3d": boot.joints_3d, "joints_2d": boot.joints_2d,
        "projected": boot.projected, "offsets": boot.offsets, "visible": boot.visible, "occluded": boot.occluded,
        "teacher_keypoints": kp, "teacher_confidence": conf, "teacher_error": boot.teacher_error,
        "views_used": boot.views_used, "person_px": boot.person_px, "frame_error": boot.frame_error,
        "reliable": boot.reliable, "reason": boot.reason})
    info = {"format": LABEL_FORMAT, "version": LABEL_VERSION, "name": name, "session": session.path.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "cameras": session.cameras, "fps": session.fps,
            "units": session.rig.units, "joint_names": list(LABEL_JOINTS),
            "teacher": {"kind": teacher, "result": result, "skeleton": skeleton.name,
                        "joint_names": list(skeleton.joints), "description": desc},
            "settings": asdict(settings), "reasons": list(REASONS), "counts": counts, "crop_spec": asdict(spec),
            "minutes": round((time.monotonic() - started) / 60, 3), "complete": True}
    tmp = folder / "labels.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, folder / "labels.json")
    if on_progress:
        on_progress("labels written", 1.0)
    log.info("labels %s: %d of %d frame sets reliable (%s)", folder, counts["reliable"], T, counts)
    return LabelSet(session.path, name)


# ---------------------------------------------------------------------------------------------------------
def list_label_sets(session) -> list[str]:
    """Names of the complete label sets of a session."""
    root = Path(session) / LABELS_DIR
    return sorted(p.name for p in root.iterdir() if (p / "labels.json").exists()) if root.is_dir() else []


def holdout_start(num_frames: int, holdout: float) -> int:
    """First held-out frame set when the last ``holdout`` share of a session (by time) is held out."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout is the share of each session held out at its end, in [0, 1), got {holdout}")
    return int(round(num_frames * (1 - holdout)))


class LabelSet:
    """A stored label set: ``info`` (labels.json), ``arrays`` (labels.npz), crops as a :class:`Corpus`."""

    def __init__(self, session, name: str | None = None) -> None:
        self.session = Path(session)
        names = list_label_sets(self.session)
        if name is None:
            if len(names) != 1:
                raise FileNotFoundError(f"session {self.session.name}: say which label set to use; it has "
                                        f"{names or 'none (make them with: ppt-mocap finetune label SESSION)'}")
            name = names[0]
        self.name = name
        self.folder = self.session / LABELS_DIR / name
        if not (self.folder / "labels.json").exists():
            raise FileNotFoundError(f"session {self.session.name} has no complete label set {name!r} "
                                    f"(it has {names or 'none'}; make one with: ppt-mocap finetune label "
                                    f"{self.session})")
        self.info = json.loads((self.folder / "labels.json").read_text())
        if self.info.get("format") != LABEL_FORMAT or self.info.get("version") != LABEL_VERSION:
            raise ValueError(f"{self.folder}: not a {LABEL_FORMAT} set of version {LABEL_VERSION}")
        with np.load(self.folder / "labels.npz") as z:
            self.arrays = {k: z[k] for k in z.files}
        self._crops: dict | None = None

    @property
    def num_frames(self) -> int:
        return int(len(self.arrays["reliable"]))

    @property
    def rig(self) -> CameraRig:

        return load_rig(self.session / "calibration.toml")

    def frames(self, split: str = "all", holdout: float = 0.0) -> np.ndarray:
        """Reliable frame-set indices of ``split``: ``"train"`` (before the held-out tail), ``"held-out"`` (the last
        ``holdout`` share of the session by time) or ``"all"``."""
        reliable = np.nonzero(self.arrays["reliable"])[0]
        start = holdout_start(self.num_frames, holdout)
        if split == "train":
            return reliable[reliable < start]
        if split == "held-out":
            return reliable[reliable >= start]
        if split == "all":
            return reliable
        raise ValueError(f"split must be 'train', 'held-out' or 'all', got {split!r}")

    def crops(self) -> dict:
        if self._crops is None:
            with np.load(self.folder / "crops.npz") as z:
                self._crops = {k: z[k] for k in z.files}
        return self._crops

    def corpus(self, frames=None, visible_only: bool = False) -> Corpus:
        """The crops of ``frames`` (default: all reliable ones) as a :class:`Corpus` for the corpus dataset;
        ``visible_only`` drops the labels of joints not visible in a view."""
        crops = self.crops()
        index = crops["index"]
        sel = np.arange(len(index)) if frames is None else np.nonzero(np.isin(index, np.asarray(frames)))[0]
        V = crops["joints"].shape[1]
        spec = CorpusSpec(**{**self.info["crop_spec"], "samples": max(1, len(sel)), "shard_size": max(1, len(sel)),
                             "render_size": tuple(self.info["crop_spec"]["render_size"]),
                             "people": tuple(self.info["crop_spec"]["people"])})
        pieces, offsets = [], [0]
        for s in sel:
            for v in range(V):
                k = s * V + v
                buf = crops["jpeg"][crops["offsets"][k]:crops["offsets"][k + 1]]
                pieces.append(buf)
                offsets.append(offsets[-1] + buf.size)
        arrays = {k: crops[k][sel] for k in crops if k not in ("jpeg", "offsets")}
        if visible_only:
            arrays["joints"] = np.where(arrays["visible"][..., None], arrays["joints"], np.nan).astype(np.float32)
        jpeg = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
        return Corpus(self.folder, spec, jpeg, np.asarray(offsets, dtype=np.int64), arrays)

    def summary(self) -> dict:
        return {"session": str(self.session), "name": self.name, "teacher": self.info["teacher"],
                "counts": self.info["counts"], "minutes": self.info.get("minutes")}
