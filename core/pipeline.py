"""The live engine: sources -> sync -> one frame set at a time through the processor -> sinks.

Threads only move data; the logic is in pure or single-threaded parts tested without threads
(:class:`~core.capture.sync.FrameSynchronizer`, :class:`~core.processing.FrameSetProcessor`).

* one :class:`~core.capture.sources.CaptureThread` per camera writes a one-slot latest-frame buffer (and the
  recorder's bounded queue while recording);
* a sync thread drains the slots into the synchroniser and writes the newest frame set into a one-slot buffer;
* a processing thread runs the newest frame set through the :class:`~core.processing.FrameSetProcessor`
  (locate, 2D, triangulate, filter: the person track sees each set's 3D before the next set is located),
  publishes the result (:meth:`Pipeline.latest`) and calls the result sinks (recorder, streamers).

Latest-wins everywhere in live mode: a slow stage skips frames (counted) and no queue grows. With
``PipelineSettings(mode="offline")`` (files read as fast as possible) every slot blocks instead, so every frame
of every file is processed in order.

Timing: frames are stamped with ``time.perf_counter_ns()`` when the source delivers them; a result's
``glass_to_skeleton_ms`` runs from the frame set's capture time to the filtered 3D pose. For USB cameras the
driver's exposure/transfer delay before delivery is not included (unknown to software); for the virtual studio
the stamp is the virtual shutter time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from core.capture.slots import LatestSlot
from core.capture.sources import CaptureThread, Source
from core.capture.sync import FrameSynchronizer
from core.estimators.base import Estimator
from core.events import EventBus
from core.geometry import CameraRig
from core.geometry.image_size import reconcile_rig, reconcile_size
from core.processing import FrameSetProcessor, PipelineSettings, StageError
from core.records import PipelineResult
from core.session.recorder import Recorder, smooth_result_set

log = logging.getLogger(__name__)


def match_sources_to_rig(names: list[str], rig: CameraRig) -> CameraRig:
    """The rig restricted to the sources' cameras (in rig order); a clear error when a name is not calibrated."""
    unknown = [n for n in names if n not in rig.names]
    if unknown:
        raise ValueError(f"sources {unknown} have no camera of that name in the calibration (its cameras: "
                         f"{rig.names}); name each source after its calibrated camera, e.g. --source "
                         f"{rig.names[0]}=0")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"several sources are named {dupes}; each camera needs one source")
    return rig.subset([n for n in rig.names if n in names])


@dataclass
class MetricsSnapshot:
    """What the GUI plots: rates, drops and latencies (ms) over the recent window.

    Attributes:
        fps: processed frame sets per second (last ~2 s); results: processed in total.
        cameras: camera -> capture counters (frames, dropped, missed, fps, connected, reconnects...).
        sync: synchroniser statistics (sets, spread, skipped, missing); skipped_sets: sets the processor never
            took (latest-wins).
        latency_ms: stage -> {"mean", "p50", "p95", "last"} over the window.
        errors: processing errors so far.
    """

    fps: float
    results: int
    cameras: dict
    sync: dict
    skipped_sets: int
    latency_ms: dict
    errors: int
    recording: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class Pipeline:
    """Wires sources, synchronisation, a 2D estimator, triangulation, filtering and sinks with threads.

    Args:
        sources: one :class:`Source` per camera, named after the rig's cameras.
        rig: the calibration (extra cameras without a source are ignored).
        estimator: the 2D backend.
        settings: :class:`PipelineSettings`.
        events: event bus (a new one by default; read :attr:`events`).
        history: results kept for latency statistics.

    Thread-safe: :meth:`start`, :meth:`stop`, :meth:`latest`, :meth:`metrics`, :meth:`add_sink`,
    :meth:`start_recording`, :meth:`stop_recording` may be called from any thread.
    """

    def __init__(self, sources: list[Source], rig: CameraRig, estimator: Estimator,
                 settings: PipelineSettings | None = None, events: EventBus | None = None,
                 history: int = 600) -> None:
        if not sources:
            raise ValueError("a pipeline needs at least one source")
        self.settings = settings or PipelineSettings()
        self.rig = match_sources_to_rig([s.name for s in sources], rig)
        # One size policy (core.geometry.image_size): small crop/padding or another resolution of the same aspect
        # are adapted with a warning; anything else is refused here, before capture starts.
        self.rig, self.size_mismatches = reconcile_rig(
            self.rig, {s.name: size for s in sources if (size := s.frame_size()) is not None})
        self._size_checked = {s.name for s in sources if s.frame_size() is not None}
        self._size_refused: set[str] = set()
        self.sources = sorted(sources, key=lambda s: self.rig.names.index(s.name))
        self.estimator = estimator
        self.events = events or EventBus()
        self.processor = FrameSetProcessor(estimator, self.rig, self.settings)
        if self.settings.mode == "offline" and any(s.live for s in self.sources):
            raise ValueError("offline mode needs file or folder sources (live cameras cannot wait)")
        fps = self.settings.fps or next((s.fps for s in self.sources if s.fps), None) or 30.0
        self.fps = float(fps)
        self._frame_arrived = threading.Event()
        blocking = self.settings.mode == "offline"
        self._slots = {s.name: LatestSlot(blocking=blocking, notify=self._frame_arrived) for s in self.sources}
        self._captures = {s.name: CaptureThread(s, events=self.events) for s in self.sources}
        for name, cap in self._captures.items():
            cap.add_slot(self._slots[name])
        self._sync = FrameSynchronizer(
            self.rig.names, fps=self.fps, tolerance_ms=self.settings.sync_tolerance_ms,
            max_wait_ms=self.settings.max_wait_ms, policy="all" if blocking else "latest",
            min_cameras=self.settings.min_cameras, max_buffer=8)
        self._set_slot = LatestSlot(blocking=blocking)
        self._stop = threading.Event()
        self.finished = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._latest: PipelineResult | None = None
        self._history: deque = deque(maxlen=history)
        self._done_times: deque = deque(maxlen=history)
        self._results = 0
        self._errors = 0
        self._sinks: list[Callable[[PipelineResult], None]] = []
        self._recorder = None
        self._started = False

    # -- control --------------------------------------------------------------------------------------
    def start(self) -> "Pipeline":
        """Start every thread (returns self)."""
        with self._lock:
            if self._started:
                raise RuntimeError("pipeline already started")
            self._started = True
        if self.settings.torch_threads is not None:
            try:
                import torch  # only when a backend runs on PyTorch: the others never load it

                torch.set_num_threads(int(self.settings.torch_threads))
            except ImportError:
                pass
        known_mismatches = list(self.size_mismatches)  # found before capture (live cameras add theirs later)
        start_ns = time.perf_counter_ns() + 50_000_000  # files share one media-time origin
        for s in self.sources:
            if hasattr(s, "start_ns") and s.start_ns is None:
                s.start_ns = start_ns
        for cap in self._captures.values():
            cap.start()
        for target, name in ((self._sync_loop, "pipeline-sync"), (self._process_loop, "pipeline-process")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self.events.publish("pipeline_started", f"{len(self.sources)} cameras ({', '.join(self.rig.names)}), "
                            f"backend {self.estimator.name}, mode {self.settings.mode}")
        for m in known_mismatches:
            self.events.publish("warning", m.message, m.camera, size_mismatch=m.as_dict())
        return self

    def stop(self, timeout: float = 5.0, close_backend: bool = False) -> None:
        """Stop capture and processing, close the recording; waits up to ``timeout`` s per thread. With
        ``close_backend`` the 2D backend's native resources are released too (it cannot be reused)."""
        if self._stop.is_set():
            if close_backend:
                self.estimator.close()
            return
        self._stop.set()
        for cap in self._captures.values():
            cap.stop(timeout)
        for t in self._threads:
            t.join(timeout)
            if t.is_alive():
                log.warning("pipeline thread %s did not end within %.1f s", t.name, timeout)
        self.stop_recording()
        self.processor.close()
        if close_backend:
            self.estimator.close()
        self.events.publish("pipeline_stopped", f"stopped after {self._results} results")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every finite source is done and processed (offline); True if finished."""
        return self.finished.wait(timeout)

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- outputs --------------------------------------------------------------------------------------
    def backend_settings(self) -> dict:
        """The 2D backend as recorded in manifests: ``backend``, ``description``, and for PPT ``weights``,
        ``random_init``, ``pruning_layers``, ``fuse``, ... (:meth:`core.estimators.base.Estimator.settings`)."""
        return dict(self.estimator.settings())

    def latest(self) -> PipelineResult | None:
        """The newest result (frame set, 2D, 3D, timings), or None before the first."""
        with self._lock:
            return self._latest

    def add_sink(self, sink: Callable[[PipelineResult], None]) -> None:
        """Call ``sink(result)`` on the processing thread for every result (keep it quick)."""
        with self._lock:
            self._sinks = self._sinks + [sink]

    def capture_stats(self) -> dict:
        return {name: vars(cap.stats()) for name, cap in self._captures.items()}

    def latency_history(self) -> dict[str, np.ndarray]:
        """Stage -> (N,) ms of the recent results, oldest first (for plots); plus ``t`` (s, host clock)."""
        with self._lock:
            hist = list(self._history)
        if not hist:
            return {}
        rows = [h.durations_ms() for h in hist]
        out = {k: np.array([r[k] for r in rows]) for k in rows[0]}
        out["t"] = np.array([h.t_done_ns / 1e9 for h in hist])
        return out

    def metrics(self) -> MetricsSnapshot:
        """Rates, drops, sync and latency statistics now (thread-safe)."""
        with self._lock:
            hist = list(self._history)
            done = list(self._done_times)
            results, errors = self._results, self._errors
            sync = self._sync.stats.as_dict()
            recorder = self._recorder
        now = time.perf_counter_ns()
        recent = [t for t in done if now - t < 2e9]
        fps = (len(recent) - 1) / ((recent[-1] - recent[0]) / 1e9) if len(recent) > 2 else 0.0
        latency = {}
        if hist:
            rows = [h.durations_ms() for h in hist]
            for k in rows[0]:
                v = np.array([r[k] for r in rows])
                latency[k] = {"mean": float(v.mean()), "p50": float(np.median(v)),
                              "p95": float(np.percentile(v, 95)), "last": float(v[-1])}
        return MetricsSnapshot(fps=fps, results=results, cameras=self.capture_stats(), sync=sync,
                               skipped_sets=self._set_slot.dropped, latency_ms=latency, errors=errors,
                               recording=recorder.stats() if recorder is not None else None)

    # -- recording ------------------------------------------------------------------------------------
    def start_recording(self, folder, name: str = "live", overwrite: bool = False, **options):
        """Record every captured frame, the timestamps and this pipeline's results into a session folder."""
        with self._lock:
            if self._recorder is not None:
                raise RuntimeError(f"already recording into {self._recorder.folder}")
        recorder = Recorder(folder, self.rig, fps=self.fps, events=self.events, overwrite=overwrite,
                            size_mismatches=[m.as_dict() for m in self.size_mismatches],
                            settings={"pipeline": self.settings.as_dict(), "estimator": self.estimator.settings()},
                            result_name=name, skeleton=self.estimator.skeleton,
                            source={"kind": "live", "sources": {s.name: s.describe() for s in self.sources}},
                            **options)
        recorder.start()
        for cap in self._captures.values():
            cap.sinks = cap.sinks + [recorder.on_frame]
        with self._lock:
            self._recorder = recorder
        self.events.publish("recording_started", f"recording into {recorder.folder}", path=str(recorder.folder))
        return recorder

    def stop_recording(self):
        """Stop recording (flushes and closes every file); returns the recorder or None."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        for cap in self._captures.values():
            cap.sinks = [s for s in cap.sinks if s != recorder.on_frame]
        recorder.close(sync_stats=self._sync.stats.as_dict(), capture_stats=self.capture_stats())
        if self.settings.filter == "butterworth" and recorder.results is not None:  # offline: the whole take
            smooth_result_set(recorder.results.folder, self.fps, self.settings.butterworth_cutoff,
                              self.settings.butterworth_order)
        self.events.publish("recording_stopped", f"recorded {recorder.stats()['frames_written']} frames into "
                            f"{recorder.folder}", path=str(recorder.folder))
        return recorder

    @property
    def recorder(self):
        with self._lock:
            return self._recorder

    # -- threads --------------------------------------------------------------------------------------
    def _sync_loop(self) -> None:
        offline = self.settings.mode == "offline"
        try:
            while not self._stop.is_set():
                self._frame_arrived.wait(0.02)
                self._frame_arrived.clear()
                for name, slot in self._slots.items():
                    if offline and not self._sync.has_room(name):
                        continue  # this camera is ahead: leave its frame in the slot (the producer waits)
                    frame = slot.get()
                    if frame is not None and name not in self._size_checked:
                        self._check_frame_size(frame)
                    if frame is not None and name in self._size_refused:
                        continue  # the calibration does not describe its frames (the recorder still records them)
                    if frame is not None:
                        self._sync.push(frame, None if offline else time.perf_counter_ns())
                    elif not self._captures[name].running and not self._sync.is_finished(name):
                        self._sync.finish(name)
                sets = self._sync.pop_all(None if offline else time.perf_counter_ns())
                for fs in sets:
                    self._set_slot.put((fs, time.perf_counter_ns()), self._stop)
                if offline and all(not c.running for c in self._captures.values()) \
                        and all(s.peek() is None for s in self._slots.values()):
                    for fs in self._sync.flush():
                        self._set_slot.put((fs, time.perf_counter_ns()), self._stop)
                    self._set_slot.put(_END, self._stop)
                    return
                if not offline and self._captures and all(
                        not c.running and c.stats().finished for c in self._captures.values()):
                    for fs in self._sync.flush():
                        self._set_slot.put((fs, time.perf_counter_ns()), self._stop)
                    self._set_slot.put(_END, self._stop)
                    return
        except Exception as exc:
            log.exception("sync thread crashed")
            self.events.publish("error", f"synchronisation thread crashed: {exc!r}")
            self._set_slot.put(_END, self._stop)

    def _check_frame_size(self, frame) -> None:
        """First frame of a camera whose size was unknown before capture (a webcam, a stream): apply the size
        policy; a refused camera is left out of processing with an error event."""
        self._size_checked.add(frame.camera)
        h, w = frame.image.shape[:2]
        cam, mismatch = reconcile_size(self.rig[frame.camera], (w, h))
        if mismatch is None:
            return
        with self._lock:
            self.size_mismatches = self.size_mismatches + [mismatch]
        if mismatch.action == "refuse":
            self._size_refused.add(frame.camera)
            self._sync.finish(frame.camera)  # frame sets stop waiting for it
            self.events.publish("error", f"{mismatch.message}; this camera's frames are not processed",
                                frame.camera, size_mismatch=mismatch.as_dict())
            return
        self.rig = CameraRig([cam if c.name == frame.camera else c for c in self.rig.cameras], units=self.rig.units,
                             up=self.rig.up, metadata=dict(self.rig.metadata))
        self.events.publish("warning", mismatch.message, frame.camera, size_mismatch=mismatch.as_dict())

    def _report(self, what: str, exc: Exception, last: list[float]) -> None:
        """Count a processing error, log it with context, publish at most one error event per second."""
        with self._lock:
            self._errors += 1
        log.error("%s failed: %s", what, exc, exc_info=exc)
        now = time.monotonic()
        if now - last[0] > 1.0:
            self.events.publish("error", f"{what} failed: {exc}")
            last[0] = now

    def _process_loop(self) -> None:
        """Processing thread: each frame set through the :class:`FrameSetProcessor` (locate, 2D, 3D, filter),
        then published and handed to the sinks (recorder, streamers)."""
        last = [0.0]
        while not self._stop.is_set():
            item = self._set_slot.get(timeout=0.05)
            if item is None:
                continue
            if item is _END:
                self.finished.set()
                self.events.publish("pipeline_finished", f"all sources ended; {self._results} results")
                return
            fs, t_synced = item
            self.processor.rig = self.rig  # a live camera's size may have been adapted since the last set
            try:
                result = self.processor.process(fs, t_capture_ns=fs.t_ns, t_synced_ns=t_synced)
            except StageError as exc:  # report and keep going with the next set
                self._report(exc.what, exc.cause, last)
                continue
            except Exception as exc:
                self._report(f"processing frame set {fs.index}", exc, last)
                continue
            if result.person is not None and result.person.event:
                self._person_event(result.person)
            with self._lock:
                self._results += 1
                self._latest = result
                self._history.append(result.timings)
                self._done_times.append(result.timings.t_done_ns)
                sinks = list(self._sinks)
                recorder = self._recorder
            if recorder is not None:
                sinks.append(recorder.on_result)
            for sink in sinks:
                try:
                    sink(result)
                except Exception as exc:
                    log.exception("result sink %r failed", sink)
                    self.events.publish("error", f"result sink failed: {exc}")

    def _person_event(self, person) -> None:
        if person.event == "person_found":
            views = [c for c, s in zip(person.cameras, person.source) if s != "none"]
            how = f" by {'/'.join(person.detectors)}" if person.detectors else ""
            self.events.publish("person_found", f"person found{how}; boxes in {', '.join(views)}")
        else:
            self.events.publish("person_lost", "person lost in every view: searching "
                                f"({', '.join(self.processor.locator.detector_names)})")

    def select_subject(self, camera: str, xy) -> None:
        """Follow the person at image point ``xy`` (px) of ``camera`` (top-down backends; e.g. a GUI click)."""
        self.processor.select_subject(camera, xy)


class _EndMarker:
    def __repr__(self) -> str:
        return "<end of sources>"


_END = _EndMarker()
