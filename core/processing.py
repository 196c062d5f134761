"""One frame set, start to finish: locate the person -> 2D -> robust triangulation -> filter.

:class:`FrameSetProcessor` is the one place these steps run, in this order, for the live
:class:`core.pipeline.Pipeline` (its processing thread) and for re-processing a recorded session
(:func:`reprocess_session`). Its state is the person track of top-down backends (which follows the previous
frame set's 3D, so the track has seen frame set k's skeleton before k + 1 is located) and the causal filter's
history: feed it frame sets in time order.

The steps themselves are pure functions tested on their own: :func:`estimate_2d`, :func:`triangulate_poses`,
:func:`apply_filter`, and :func:`smooth_take` for the zero-phase filter over a whole take.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from core.estimators.base import Estimator
from core.geometry import CameraRig, triangulate
from core.geometry.filters import (BUTTERWORTH_CUTOFF_HZ, BUTTERWORTH_ORDER, ONE_EURO_BETA_S_PER_M,
                                   ONE_EURO_D_CUTOFF_HZ, ONE_EURO_MIN_CUTOFF_HZ, OneEuroFilter, butterworth_filter)
from core.locate import PersonLocator, make_locator
from core.records import FrameSet, PipelineResult, Pose3D, Poses2D, StageTimings
from core.session.recorder import ResultWriter, smooth_result_set
from core.session.replay import ResultSet, Session

log = logging.getLogger(__name__)


@dataclass
class PipelineSettings:
    """How the pipeline runs.

    Attributes:
        mode: ``"live"`` (latest-wins, real time) or ``"offline"`` (every frame, in order; for files).
        fps: nominal frame rate (Hz) for sync tolerance (default: the sources' own rate, else 30).
        sync_tolerance_ms: frame-matching tolerance (default half a frame period).
        max_wait_ms: wait for a silent camera before emitting a set without it (default 3 frame periods).
        min_cameras: sets with fewer cameras are skipped.
        min_confidence, outliers, threshold_px, min_views, refine: passed to :func:`core.geometry.triangulate`.
        filter: ``"auto"`` (default: ``"one-euro"`` live, ``"butterworth"`` offline), ``"one-euro"`` (causal, per
            result), ``"butterworth"`` (zero-phase over the whole take: offline only; each result carries the raw
            3D and the take is filtered at the end: :func:`smooth_take`, the recording's result set, ``run --export``)
            or ``None``. The parameters are unit-aware (stated per metre and per second, converted from the rig's
            units): one_euro_min_cutoff (Hz), one_euro_beta (Hz per m/s), one_euro_d_cutoff (Hz);
            butterworth_cutoff (Hz) and butterworth_order (of the zero-phase filter, as Pose2Sim). Defaults and how
            they were chosen: :mod:`core.geometry.filters`, ``ppt-mocap bench filters``.
        torch_threads: ``torch.set_num_threads`` for inference (``None`` leaves it).
        detectors: person detectors of the localisation stage for top-down backends (PPT): ``"auto"``, or
            names among ``mog2``, ``knn``, ``mediapipe`` (:func:`core.locate.create_detectors`).
    """

    mode: str = "live"
    fps: float | None = None
    sync_tolerance_ms: float | None = None
    max_wait_ms: float | None = None
    min_cameras: int = 1
    min_confidence: float = 0.3
    outliers: str | None = "worst-view"
    threshold_px: float = 20.0
    min_views: int = 2
    refine: bool = False
    filter: str | None = "auto"
    one_euro_min_cutoff: float = ONE_EURO_MIN_CUTOFF_HZ
    one_euro_beta: float = ONE_EURO_BETA_S_PER_M
    one_euro_d_cutoff: float = ONE_EURO_D_CUTOFF_HZ
    butterworth_cutoff: float = BUTTERWORTH_CUTOFF_HZ
    butterworth_order: int = BUTTERWORTH_ORDER
    torch_threads: int | None = None
    detectors: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in ("live", "offline"):
            raise ValueError(f"pipeline mode must be 'live' or 'offline', got {self.mode!r}")
        if self.filter == "none":
            self.filter = None
        if self.filter == "auto":
            self.filter = "one-euro" if self.mode == "live" else "butterworth"
        if self.filter not in (None, "one-euro", "butterworth"):
            raise ValueError(f"filter must be 'auto', 'one-euro', 'butterworth' or None, got {self.filter!r}")
        if self.filter == "butterworth" and self.mode != "offline":
            raise ValueError("the Butterworth filter is zero-phase and needs the whole take: use it offline (run "
                             "--offline, replay, export); live processing uses 'one-euro' (causal)")
        if self.outliers == "none":
            self.outliers = None

    def as_dict(self) -> dict:
        return asdict(self)


def triangulate_poses(rig: CameraRig, poses: Poses2D, settings: PipelineSettings) -> Pose3D:
    """Robust triangulation of one frame set's 2D keypoints (pure): ``poses.keypoints (C, J, 2)`` -> (J, 3)."""
    if poses.cameras != rig.names:
        raise ValueError(f"2D poses are for cameras {poses.cameras}, the rig has {rig.names}")
    J = poses.skeleton.num_joints
    if len(rig) < 2:
        nan = np.full((J, 3), np.nan)
        return Pose3D(nan, nan.copy(), np.full(J, np.nan), np.zeros((len(rig), J), bool), poses.skeleton,
                      rig.units, rig.up)
    res = triangulate(rig, poses.keypoints, poses.confidence, min_confidence=settings.min_confidence,
                      outliers=settings.outliers, threshold_px=settings.threshold_px,
                      min_views=settings.min_views, refine=settings.refine)
    return Pose3D(res.points_3d, res.points_3d, res.reprojection_error, res.views_used, poses.skeleton,
                  rig.units, rig.up)


def make_live_filter(settings: PipelineSettings, units: str) -> OneEuroFilter | None:
    """The per-result (causal) filter of ``settings`` for data in ``units``; None unless it is One-Euro."""
    if settings.filter != "one-euro":
        return None
    return OneEuroFilter(settings.one_euro_min_cutoff, settings.one_euro_beta, settings.one_euro_d_cutoff,
                         units=units)


def smooth_take(points: np.ndarray, fps: float, settings: PipelineSettings) -> np.ndarray:
    """The whole take's 3D (T, J, 3) after the offline filter of ``settings`` (zero-phase Butterworth); other
    filters were applied per result, so ``points`` is returned unchanged for them. Frames are consecutive (NaN
    rows where a frame set is missing)."""
    if settings.filter != "butterworth":
        return points
    return butterworth_filter(points, fps, cutoff=settings.butterworth_cutoff, order=settings.butterworth_order)


def apply_filter(pose: Pose3D, flt: OneEuroFilter | None, t_s: float) -> Pose3D:
    """Filtered copy of ``pose`` at time ``t_s`` (seconds); unchanged when ``flt`` is None."""
    if flt is None:
        return pose
    return Pose3D(flt(pose.raw_points, t_s), pose.raw_points, pose.reprojection_error, pose.views_used,
                  pose.skeleton, pose.units, pose.up)


def estimate_2d(estimator: Estimator, locator: PersonLocator | None, frame_set: FrameSet, rig: CameraRig):
    """(Poses2D, PersonBoxes or None) of one frame set: the locator's boxes feed a top-down estimator, and the
    2D result carries them (``boxes``, ``box_source``) with the stage's time in ``timings["locate"]``."""
    if locator is None:
        return estimator.estimate(frame_set, rig), None
    person = locator.locate(frame_set)
    poses = estimator.estimate(frame_set, rig, boxes=person.boxes)
    timings = {**poses.timings, **person.timings}
    poses = dataclasses.replace(poses, boxes=person.boxes, box_source=person.source, timings=timings)
    return poses, person


class StageError(RuntimeError):
    """A step of :meth:`FrameSetProcessor.process` failed: ``what`` names the step and the frame set, the cause
    is chained (``__cause__``)."""

    def __init__(self, what: str, cause: Exception) -> None:
        super().__init__(f"{what} failed: {cause}")
        self.what = what
        self.cause = cause


class FrameSetProcessor:
    """locate -> estimate -> triangulate -> (the track sees the 3D) -> filter, one frame set at a time.

    Args:
        estimator: the 2D backend (:mod:`core.estimators`); top-down ones (PPT) get a person locator.
        rig: the calibration, rig camera order = the ``C`` axis. May be replaced between frame sets (a live
            camera whose image size was adapted).
        settings: triangulation and filter (:class:`PipelineSettings`).
        fps: frame rate (Hz) for filter time when a frame set has no capture stamp (``t_ns <= 0``).
    """

    def __init__(self, estimator: Estimator, rig: CameraRig, settings: PipelineSettings | None = None,
                 fps: float = 30.0) -> None:
        self.estimator = estimator
        self.rig = rig
        self.settings = settings or PipelineSettings()
        self.fps = float(fps)
        self.locator = make_locator(estimator, rig, self.settings.detectors)
        self.filter = make_live_filter(self.settings, rig.units)
        self.count = 0

    def process(self, frame_set: FrameSet, t_capture_ns: int | None = None,
                t_synced_ns: int | None = None) -> PipelineResult:
        """The result of ``frame_set``; ``t_capture_ns``/``t_synced_ns`` (host clock) start its latency stamps
        (default: when processing began, for recorded frames whose capture was long ago). Raises
        :class:`StageError` naming the step that failed."""
        t0 = time.perf_counter_ns()
        try:
            poses, person = estimate_2d(self.estimator, self.locator, frame_set, self.rig)
        except Exception as exc:
            raise StageError(f"2D estimation of frame set {frame_set.index}", exc) from exc
        t1 = time.perf_counter_ns()
        try:
            pose = triangulate_poses(self.rig, poses, self.settings)
        except Exception as exc:
            raise StageError(f"triangulating frame set {frame_set.index}", exc) from exc
        if self.locator is not None:  # before the next frame set is located: the track follows this skeleton
            self.locator.observe(poses, pose.raw_points, frame_set.t_ns)
        t2 = time.perf_counter_ns()
        t_s = frame_set.t_ns / 1e9 if frame_set.t_ns > 0 else frame_set.index / self.fps
        pose = apply_filter(pose, self.filter, t_s)
        t3 = time.perf_counter_ns()
        t_capture = t0 if t_capture_ns is None else t_capture_ns
        timings = StageTimings(t_capture, t0 if t_synced_ns is None else t_synced_ns, t0, t1, t2, t3)
        result = PipelineResult(self.count, frame_set, poses, pose, timings, person)
        self.count += 1
        return result

    def select_subject(self, camera: str, xy) -> None:
        """Follow the person at image point ``xy`` (px) of ``camera`` (top-down backends; e.g. a GUI click)."""
        if self.locator is None:
            raise ValueError(f"the {self.estimator.name} backend does not track a person (not top-down)")
        self.locator.select(camera, xy)

    def close(self) -> None:
        """Release the locator's detectors (the estimator belongs to the caller)."""
        if self.locator is not None:
            self.locator.close()


def reprocess_session(session: Session, estimator: Estimator, settings: PipelineSettings | None = None,
                      name: str = "reprocessed", overwrite: bool = False, start: int = 0, stop: int | None = None,
                      progress: bool = True, smoothing_hz: float | None = None,
                      on_progress: Callable[[int, int], None] | None = None) -> ResultSet:
    """Run every frame set of a recorded ``session`` through a :class:`FrameSetProcessor` into
    ``results/<name>/``.

    Args:
        session: :class:`core.session.replay.Session` (or its folder).
        estimator: a 2D backend (:mod:`core.estimators`).
        settings: triangulation and filter (mode ignored: re-processing is offline, so the default filter is the
            zero-phase Butterworth over the whole take).
        smoothing_hz: zero-phase Butterworth low-pass at this cutoff (Hz) of the stored ``points_3d`` after
            processing, whatever the filter setting (default: only with ``filter="butterworth"``, at its
            ``butterworth_cutoff``).
        progress: show a tqdm progress bar; ``on_progress(done, total)`` is called after each set.
    """
    from tqdm import tqdm  # only for the progress bar

    session = session if isinstance(session, Session) else Session(session)
    settings = settings or PipelineSettings(mode="offline")
    processor = FrameSetProcessor(estimator, session.rig, settings, fps=session.fps)
    writer = ResultWriter(session.path, name, session.rig.names, estimator.skeleton, overwrite=overwrite,
                          settings={"pipeline": settings.as_dict(), "estimator": estimator.settings(),
                                    "source": {"kind": "replay", "session": str(session.path)},
                                    "smoothing_hz": smoothing_hz})
    stop = len(session) if stop is None else min(stop, len(session))
    total = max(0, stop - start)
    bar = tqdm(total=total, desc=f"re-processing {session.path.name}", unit="set", disable=not progress)
    try:
        for k, fs in enumerate(session.frame_sets(start, stop)):
            writer.add(processor.process(fs), fs.index)
            bar.update(1)
            if on_progress is not None:
                on_progress(k + 1, total)
    finally:
        bar.close()
        writer.close()
        processor.close()
    if smoothing_hz or settings.filter == "butterworth":
        smooth_result_set(writer.folder, session.fps, smoothing_hz or settings.butterworth_cutoff,
                          settings.butterworth_order)
    return session.results(name)
