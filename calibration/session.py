"""Incremental calibration for the GUI wizard: feed frames, get detections to draw, coverage and "ready?".

``CalibrationSession.add_frame(camera, image, frame_index)`` runs detection (tens of milliseconds, no lock
held) and returns a :class:`FrameFeedback` at once; it is safe to call from several capture threads.
``solve()`` blocks (intrinsics of cameras without them, then extrinsics) with a progress callback and a
cancel event; ``solve_async()`` runs it on a worker thread and returns a ``concurrent.futures.Future`` whose
exception (if any) carries the explanatory message for the GUI to show.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from calibration.boards import Board
from calibration.detection import Detection, detect_board
from calibration.extrinsics import ExtrinsicsResult, calibrate_extrinsics
from calibration.floor import find_floor_frame, set_world_frame
from calibration.intrinsics import IntrinsicsResult, calibrate_intrinsics, compute_coverage
from core.geometry.camera import Camera, CameraRig

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


class CalibrationCancelled(RuntimeError):
    """The solve was cancelled through its cancel event."""


@dataclass(frozen=True)
class FrameFeedback:
    """What the wizard draws after one frame.

    Attributes:
        camera, frame: which frame this was.
        found: the board was detected.
        corners: (N, 2) px in board order (NaN where not seen), or None; draw them.
        accepted: kept as a new intrinsics view (False when too close to a view already kept).
        views: views kept for this camera so far.
        coverage: share of the image covered by corners of kept views, 0..1.
        message: one line for the user.
    """

    camera: str
    frame: int
    found: bool
    corners: np.ndarray | None
    accepted: bool
    views: int
    coverage: float
    message: str


@dataclass
class SessionStatus:
    """Progress of the whole session.

    Attributes:
        per_camera: name -> ``views``, ``coverage`` (0..1), ``missing`` (image regions without corners),
            ``ready`` (intrinsics can be solved well).
        shared_frames: (camera a, camera b) -> frames in which both saw the board.
        ready_intrinsics, ready_extrinsics: whether ``solve`` can give a good result now.
        message: what to do next, in words.
    """

    per_camera: dict
    shared_frames: dict
    ready_intrinsics: bool
    ready_extrinsics: bool
    message: str


@dataclass
class SessionResult:
    """Output of :meth:`CalibrationSession.solve`: per-camera intrinsics, extrinsics (2+ cameras) and the rig."""

    intrinsics: dict[str, IntrinsicsResult]
    extrinsics: ExtrinsicsResult | None
    rig: CameraRig
    floor_frame: int | None = None
    warnings: list = field(default_factory=list)


class CalibrationSession:
    """Collects board views from live cameras and solves when there are enough.

    Args:
        board: the board being waved.
        cameras: camera names, in rig order.
        image_sizes: optional (width, height) per camera (otherwise taken from the first frame).
        intrinsics: cameras already calibrated (only extrinsics are then solved for them).
        min_views: views per camera for intrinsics to count as ready.
        min_coverage: share of the image corners must cover for intrinsics to count as ready.
        min_shared: frames a camera must share with the others for extrinsics to count as ready.
        min_motion: a new intrinsics view is kept only if its corners moved by more than this fraction of the
            image diagonal (mean) from every view already kept, so holding the board still adds nothing.
    """

    def __init__(self, board: Board, cameras: list[str], *, image_sizes: Mapping[str, tuple[int, int]] | None = None,
                 intrinsics: Mapping[str, Camera] | CameraRig | None = None, min_views: int = 12,
                 min_coverage: float = 0.6, min_shared: int = 8, min_motion: float = 0.03,
                 max_frames: int = 200):
        if not cameras:
            raise ValueError("a calibration session needs at least one camera name")
        self.board = board
        self.cameras = list(cameras)
        self.image_sizes = dict(image_sizes or {})
        known = {c.name: c for c in intrinsics} if isinstance(intrinsics, CameraRig) else dict(intrinsics or {})
        self.known_intrinsics = {n: c for n, c in known.items() if n in self.cameras}
        self.min_views, self.min_coverage, self.min_shared = min_views, min_coverage, min_shared
        self.min_motion, self.max_frames = min_motion, max_frames
        self._lock = threading.Lock()
        self._views: dict[str, list[Detection]] = {n: [] for n in self.cameras}
        self._synced: dict[str, dict[int, Detection]] = {n: {} for n in self.cameras}
        self._counter = {n: 0 for n in self.cameras}
        self._executor: ThreadPoolExecutor | None = None

    # -- feeding ----------------------------------------------------------------------------------
    def add_frame(self, camera: str, image: np.ndarray, frame_index: int | None = None) -> FrameFeedback:
        """Detect the board in ``image`` of ``camera``; ``frame_index`` marks simultaneous frames across cameras."""
        self._check_camera(camera)
        with self._lock:
            if frame_index is None:
                frame_index = self._counter[camera]
            self._counter[camera] = max(self._counter[camera], frame_index) + 1
        det = detect_board(image, self.board, frame=frame_index, source=f"{camera}#{frame_index}", camera=camera)
        if det is None:
            h, w = np.asarray(image).shape[:2]
            with self._lock:
                self.image_sizes.setdefault(camera, (w, h))
                views = len(self._views[camera])
                cov = self._coverage(camera)
            return FrameFeedback(camera, frame_index, False, None, False, views, cov, "no board found")
        return self.add_detection(det, synchronized=True)

    def add_detection(self, det: Detection, synchronized: bool = True) -> FrameFeedback:
        """Add an already detected view (``det.camera`` names the camera)."""
        camera = det.camera or ""
        self._check_camera(camera)
        with self._lock:
            self.image_sizes.setdefault(camera, tuple(det.image_size))
            if tuple(det.image_size) != tuple(self.image_sizes[camera]):
                raise ValueError(f"camera {camera}: frame is {det.image_size} px but earlier frames were "
                                 f"{self.image_sizes[camera]}")
            if synchronized:
                self._synced[camera][det.frame] = det
            accepted = self._is_new_view(camera, det)
            if accepted:
                self._views[camera].append(det)
            views = len(self._views[camera])
            cov = self._coverage(camera)
            missing = compute_coverage(self._views[camera], self.image_sizes[camera]).missing_regions()
        msg = f"board found ({det.num_found} corners); {views} views"
        if not accepted:
            msg += "; move or tilt the board to add a new view"
        elif missing:
            msg += f"; now show it near the {missing[0]}"
        return FrameFeedback(camera, det.frame, True, det.corners, accepted, views, cov, msg)

    def _check_camera(self, camera: str) -> None:
        if camera not in self._views:
            raise ValueError(f"unknown camera {camera!r}; this session has {self.cameras}")

    def _is_new_view(self, camera: str, det: Detection) -> bool:
        kept = self._views[camera]
        if not kept:
            return True
        w, h = self.image_sizes[camera]
        limit = self.min_motion * float(np.hypot(w, h))
        stack = np.stack([k.corners for k in kept])  # (V, N, 2)
        d = np.linalg.norm(stack - det.corners[None], axis=-1)  # NaN where either missed a corner
        with np.errstate(invalid="ignore"):
            moved = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=1)
        moved = np.where(np.isfinite(moved), moved, np.inf)
        return bool(moved.min() > limit)

    def _coverage(self, camera: str) -> float:
        size = self.image_sizes.get(camera)
        if size is None or not self._views[camera]:
            return 0.0
        return compute_coverage(self._views[camera], size).cell_fraction

    def reset(self, camera: str | None = None) -> None:
        """Forget the views of one camera (or of all)."""
        with self._lock:
            for n in [camera] if camera else self.cameras:
                self._check_camera(n)
                self._views[n].clear()
                self._synced[n].clear()

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> SessionStatus:
        """Views, coverage and shared frames so far, and what to do next."""
        with self._lock:
            per, todo = {}, []
            for n in self.cameras:
                size = self.image_sizes.get(n)
                cov = compute_coverage(self._views[n], size) if size and self._views[n] else None
                views = len(self._views[n])
                ready = n in self.known_intrinsics or (
                    views >= self.min_views and cov is not None and cov.cell_fraction >= self.min_coverage)
                per[n] = {"views": views, "coverage": cov.cell_fraction if cov else 0.0,
                          "missing": cov.missing_regions() if cov else ["whole image"], "ready": ready}
                if not ready:
                    need = max(0, self.min_views - views)
                    todo.append(f"{n}: " + (f"{need} more views" if need else "")
                                + ("" if not cov or cov.cell_fraction >= self.min_coverage
                                   else f"{' and ' if need else ''}corners near the {', '.join(cov.missing_regions()[:2])}"))
            shared = {}
            for i, a in enumerate(self.cameras):
                for b in self.cameras[i + 1:]:
                    shared[(a, b)] = len(set(self._synced[a]) & set(self._synced[b]))
        ready_i = all(p["ready"] for p in per.values())
        ready_e = len(self.cameras) >= 2 and ready_i and _connected(self.cameras, shared, self.min_shared)
        if len(self.cameras) >= 2 and not _connected(self.cameras, shared, self.min_shared):
            weak = [n for n in self.cameras
                    if max([s for (a, b), s in shared.items() if n in (a, b)] or [0]) < self.min_shared]
            todo.append("show the board to several cameras at once" + (f" (including {', '.join(weak)})" if weak else ""))
        message = "ready to calibrate" if not todo else "; ".join(todo)
        return SessionStatus(per, shared, ready_i, ready_e, message)

    def enough_views(self) -> bool:
        """True when ``solve`` can give a good result (intrinsics everywhere; extrinsics for 2+ cameras)."""
        s = self.status()
        return s.ready_extrinsics if len(self.cameras) >= 2 else s.ready_intrinsics

    # -- solving ----------------------------------------------------------------------------------
    def solve(self, progress: Progress | None = None, cancel: threading.Event | None = None, *,
              fix_aspect: bool = False, refine_intrinsics: bool = False, set_floor: bool = True) -> SessionResult:
        """Solve with the views collected so far (blocking). Errors explain themselves (``ValueError``)."""
        report = progress or (lambda stage, frac: None)
        with self._lock:
            views = {n: list(v) for n, v in self._views.items()}
            synced = {n: dict(v) for n, v in self._synced.items()}
        intr: dict[str, IntrinsicsResult] = {}
        cams: dict[str, Camera] = dict(self.known_intrinsics)
        todo = [n for n in self.cameras if n not in cams]
        for k, n in enumerate(todo):
            _check_cancel(cancel)
            report(f"intrinsics {n}", k / max(1, len(todo)) * 0.5)
            intr[n] = calibrate_intrinsics(views[n], self.board, image_size=self.image_sizes.get(n), camera_name=n,
                                           fix_aspect=fix_aspect)
            cams[n] = intr[n].camera
        _check_cancel(cancel)
        if len(self.cameras) < 2:
            report("done", 1.0)
            return SessionResult(intr, None, CameraRig([cams[n] for n in self.cameras]))
        frames = sorted({f for n in self.cameras for f in synced[n]})
        if len(frames) > self.max_frames:
            keep = set(np.asarray(frames)[np.linspace(0, len(frames) - 1, self.max_frames).round().astype(int)].tolist())
            synced = {n: {f: d for f, d in v.items() if f in keep} for n, v in synced.items()}

        def sub(stage: str, frac: float) -> None:
            _check_cancel(cancel)
            report(f"extrinsics: {stage}", 0.5 + 0.5 * frac)

        ext = calibrate_extrinsics({n: list(synced[n].values()) for n in self.cameras}, cams, self.board,
                                   refine_intrinsics=refine_intrinsics, fix_aspect=fix_aspect, progress=sub)
        rig, floor = ext.rig, None
        if set_floor:
            floor = find_floor_frame(ext)
            if floor is not None:
                rig = set_world_frame(rig, ext.board_poses[floor], source=f"calibration frame {floor}")
        report("done", 1.0)
        return SessionResult(intr, ext, rig, floor, list(ext.warnings))

    def solve_async(self, progress: Progress | None = None, cancel: threading.Event | None = None,
                    **kwargs) -> Future:
        """Run :meth:`solve` on a worker thread; returns its Future (errors are logged and re-raised there)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calibration-solve")

        def run() -> SessionResult:
            try:
                return self.solve(progress, cancel, **kwargs)
            except Exception:
                log.exception("calibration solve failed")
                raise

        return self._executor.submit(run)

    def close(self) -> None:
        """Stop the worker thread (waits for a running solve)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CalibrationCancelled("calibration cancelled")


def _connected(names: list[str], shared: dict, min_shared: int) -> bool:
    comp = {names[0]}
    changed = True
    while changed:
        changed = False
        for (a, b), s in shared.items():
            if s >= min_shared and (a in comp) != (b in comp):
                comp |= {a, b}
                changed = True
    return len(comp) == len(names)
