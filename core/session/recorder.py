"""Record live capture and pipeline results into a session folder (:mod:`core.session.folder` format).

* Frames: every frame a camera delivers goes into a bounded queue (never blocking capture); a writer thread
  groups them into frame sets with the synchroniser (``policy="all"``: nothing skipped, a camera without a frame
  for a set is written as dropped) and appends them with :class:`~core.session.folder.SessionWriter` (MJPEG videos,
  ``timestamps.csv``, manifest, flushed every second). Frames the queue could not take are counted
  (``frames_dropped_by_writer``) and reported.
* Results: :class:`ResultWriter` appends 2D keypoints with confidences and kept-token indices, and 3D joints, to
  ``results/<name>/`` as ``poses_2d.partNNNN.npz`` / ``poses_3d.partNNNN.npz`` chunks, one per second, merged into
  ``poses_2d.npz`` / ``poses_3d.npz`` on close; ``settings.json`` is written first. A killed process leaves the
  chunks, which the reader (:mod:`core.session.replay`) merges.

Result arrays (T results, C cameras, J joints): ``frame_index (T,)`` (the recorded frame set, -1 if unknown),
``t_ns (T,)``, ``frame_t_capture_ns (T, C)`` (-1 for a missing camera), ``keypoints (T, C, J, 2)`` px,
``confidence (T, C, J)``, ``kept_tokens_<s> (T, C, K_s)`` (-1 = missing camera) with, to draw them,
``token_to_image (T, C, 2, 3)`` (model-input px -> image px), ``token_grid (T, 2)`` and ``token_stride (T, 2)``
(rows, cols), ``boxes (T, C, 4)`` (the person box each view was cropped to, xywh px, NaN = none; top-down backends)
with ``box_source (T, C)`` (:data:`BOX_SOURCE_CODES`), ``points_3d (T, J, 3)``
(filtered), ``raw_points_3d (T, J, 3)``, ``reprojection_error (T, J)`` px, ``views_used (T, C, J)``,
``latency_ms (T, 6)`` (columns ``LATENCY_COLUMNS``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import numpy as np

from core.capture.sync import FrameSynchronizer
from core.events import EventBus
from core.geometry import CameraRig
from core.geometry.filters import butterworth_filter
from core.geometry.skeletons import Skeleton
from core.records import Frame
from core.session.folder import SessionWriter, read_json, write_json_atomic

log = logging.getLogger(__name__)

RESULTS_DIR = "results"
LATENCY_COLUMNS = ("sync", "queue", "estimate_2d", "triangulate_3d", "filter", "glass_to_skeleton")
#: ``box_source`` codes in result sets (:data:`core.locate.BOX_SOURCES` order).
BOX_SOURCE_CODES = {"none": 0, "tracked": 1, "detected": 2}
_END = object()


def _save_npz(path: Path, arrays: dict) -> None:
    """Write an .npz atomically (a killed process never leaves half a chunk under the final name)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)


def _more_versions() -> dict:
    """Versions of the inference libraries in use (the session writer records Python, numpy and OpenCV)."""
    import sys

    out = {}
    for name in ("torch", "mediapipe", "scipy"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "unknown")
    return out


class ResultWriter:
    """Append pipeline results to ``SESSION/results/<name>/`` in one-second chunks.

    Args:
        session: the session folder (must exist).
        name: result-set name (``live``, ``reprocessed``, ...).
        cameras: rig camera names (the ``C`` axis).
        skeleton: the joint set of the keypoints.
        settings: stored in ``settings.json`` (backend, weights hash, triangulation, filter...).
        flush_s: chunk period (seconds).
        overwrite: replace an existing result set of that name.
    """

    def __init__(self, session, name: str, cameras: list[str], skeleton: Skeleton, settings: dict | None = None,
                 flush_s: float = 1.0, overwrite: bool = False) -> None:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"result set name must be a plain folder name, got {name!r}")
        self.folder = Path(session) / RESULTS_DIR / name
        if self.folder.exists():
            if not overwrite:
                raise FileExistsError(f"result set {self.folder} already exists; choose another name or overwrite")
            for p in self.folder.iterdir():
                p.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cameras = list(cameras)
        self.skeleton = skeleton
        self.flush_s = flush_s
        self._rows: list[dict] = []
        self._parts = 0
        self._last_flush = time.monotonic()
        self.count = 0
        self._lock = threading.Lock()
        self._closed = False
        write_json_atomic(self.folder / "settings.json", {
            "cameras": self.cameras, "skeleton": skeleton.name, "joints": list(skeleton.joints), "complete": False,
            "latency_columns": list(LATENCY_COLUMNS), **(settings or {})}, lenient=True)

    def add(self, result, frame_index: int = -1) -> None:
        """Append one :class:`core.records.PipelineResult`."""
        p2, p3 = result.poses_2d, result.pose_3d
        C = len(self.cameras)
        stamps = np.full(C, -1, dtype=np.int64)
        for c, cam in enumerate(self.cameras):
            f = result.frame_set.frames.get(cam)
            if f is not None:
                stamps[c] = f.t_capture_ns
        d = result.timings.durations_ms()
        row = {
            "frame_index": int(frame_index), "t_ns": int(result.frame_set.t_ns), "frame_t_capture_ns": stamps,
            "keypoints": p2.keypoints.astype(np.float32), "confidence": p2.confidence.astype(np.float32),
            "points_3d": p3.points.astype(np.float64), "raw_points_3d": p3.raw_points.astype(np.float64),
            "reprojection_error": p3.reprojection_error.astype(np.float32),
            "views_used": p3.views_used.astype(bool),
            "latency_ms": np.array([d[k] for k in LATENCY_COLUMNS], dtype=np.float32),
        }
        for s, k in enumerate(p2.kept_tokens):
            row[f"kept_tokens_{s}"] = np.asarray(k, dtype=np.int16)
        if p2.boxes is not None:  # the person box each view was cropped to, and where it came from
            row["boxes"] = np.asarray(p2.boxes, dtype=np.float32)
            if p2.box_source is not None:
                row["box_source"] = np.array([BOX_SOURCE_CODES[s] for s in p2.box_source], dtype=np.int8)
        if p2.kept_tokens and p2.token_to_image is not None:  # what replay needs to draw the token maps
            row["token_to_image"] = np.asarray(p2.token_to_image, dtype=np.float32)
            row["token_grid"] = np.asarray(p2.token_grid, dtype=np.int16)
            row["token_stride"] = np.asarray(p2.token_stride, dtype=np.int16)
        with self._lock:
            if self._closed:
                return
            self._rows.append(row)
            self.count += 1
            if time.monotonic() - self._last_flush >= self.flush_s:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        arrays = _stack_rows(rows)
        _save_npz(self.folder / f"results.part{self._parts:05d}.npz", arrays)
        self._parts += 1

    def close(self) -> Path:
        """Flush, merge the chunks into ``poses_2d.npz`` and ``poses_3d.npz`` and mark the set complete."""
        with self._lock:
            if self._closed:
                return self.folder
            self._flush_locked()
            self._closed = True
        merge_result_chunks(self.folder)
        settings = read_json(self.folder / "settings.json")
        settings["complete"] = True
        settings["results"] = self.count
        write_json_atomic(self.folder / "settings.json", settings, lenient=True)
        return self.folder


def _missing_like(value: np.ndarray) -> np.ndarray:
    """What a row holds where it has no value of this kind: -1 for integers (token ids, codes), NaN for floats,
    False for flags (a frame set where the person was not found has no kept tokens and no crop affine)."""
    value = np.asarray(value)
    if value.dtype == bool:
        return np.zeros_like(value)
    if np.issubdtype(value.dtype, np.integer):
        return np.full_like(value, -1)
    return np.full_like(value, np.nan)


def _stack_rows(rows: list[dict]) -> dict[str, np.ndarray]:
    """Stack result rows into arrays; a key some rows lack is kept, filled with :func:`_missing_like` there (one
    frame set without a person must not drop the other rows' kept tokens)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    arrays = {}
    for k in keys:
        template = next(np.asarray(r[k]) for r in rows if k in r)
        values = [np.asarray(r[k]) if k in r else _missing_like(template) for r in rows]
        if any(v.shape != template.shape for v in values):  # kept-token counts changed mid-chunk: not stackable
            log.warning("%s has different shapes across rows; not stored", k)
            continue
        arrays[k] = np.stack(values)
    return arrays


_2D_KEYS = ("frame_index", "t_ns", "frame_t_capture_ns", "keypoints", "confidence", "token_to_image", "token_grid",
            "token_stride", "boxes", "box_source")
_3D_KEYS = ("frame_index", "t_ns", "points_3d", "raw_points_3d", "reprojection_error", "views_used", "latency_ms")


def load_result_chunks(folder: Path) -> dict[str, np.ndarray]:
    """Concatenate the ``results.partNNNNN.npz`` chunks of a result folder (skipping unreadable ones)."""
    parts = sorted(folder.glob("results.part*.npz"))
    chunks = []
    for p in parts:
        try:
            with np.load(p, allow_pickle=False) as z:
                chunks.append({k: z[k] for k in z.files})
        except Exception as exc:  # a chunk cut by a crash: keep what is readable
            log.warning("%s: unreadable result chunk skipped (%s)", p, exc)
    if not chunks:
        return {}
    keys = list(dict.fromkeys(k for c in chunks for k in c))
    out = {}
    for k in keys:
        template = next(c[k] for c in chunks if k in c)
        try:  # a chunk whose frame sets all lacked this key (no person found) is filled as missing
            out[k] = np.concatenate([c[k] if k in c else np.repeat(_missing_like(template[:1]), len(c["frame_index"]),
                                                                   axis=0) for c in chunks])
        except (ValueError, KeyError):  # kept-token counts changed between chunks (another keep ratio): drop it
            log.warning("%s: %s has different shapes across chunks; not merged", folder, k)
    return out


def merge_result_chunks(folder: Path) -> None:
    """Merge chunks into ``poses_2d.npz`` (2D + kept tokens) and ``poses_3d.npz``, then remove the chunks."""
    data = load_result_chunks(folder)
    if not data:
        return
    two_d = {k: v for k, v in data.items() if k in _2D_KEYS or k.startswith("kept_tokens_")}
    three_d = {k: v for k, v in data.items() if k in _3D_KEYS}
    _save_npz(folder / "poses_2d.npz", two_d)
    _save_npz(folder / "poses_3d.npz", three_d)
    for p in folder.glob("results.part*.npz"):
        p.unlink()


def smooth_result_set(folder, fps: float, cutoff: float, order: int = 4) -> bool:
    """Offline filtering of a closed result set: ``points_3d`` becomes the zero-phase Butterworth low-pass
    (:func:`core.geometry.filters.butterworth_filter`, ``order`` of the whole filter, ``cutoff`` Hz) of its
    ``raw_points_3d``, laid out on consecutive frames by ``frame_index`` (gaps stay gaps). Returns False when the
    set has no 3D to filter."""

    path = Path(folder) / "poses_3d.npz"
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    raw = arrays.get("raw_points_3d")
    if raw is None or not len(raw):
        return False
    idx = np.asarray(arrays.get("frame_index", np.arange(len(raw))), dtype=np.int64)
    if len(idx) == len(raw) and (idx >= 0).all() and len(np.unique(idx)) == len(idx):
        rows = idx - idx.min()
        dense = np.full((int(rows.max()) + 1,) + raw.shape[1:], np.nan)
        dense[rows] = raw
        arrays["points_3d"] = butterworth_filter(dense, fps, cutoff=cutoff, order=order)[rows]
    else:  # rows without a recorded frame index: take them as consecutive
        arrays["points_3d"] = butterworth_filter(raw, fps, cutoff=cutoff, order=order)
    _save_npz(path, arrays)
    return True


class Recorder:
    """Records frames and results of a live pipeline into a new session folder.

    Args:
        folder: the session folder to create.
        rig: the cameras being recorded (names and image sizes).
        fps: nominal frame rate (Hz).
        events: where ``error`` events go.
        settings: stored in the manifest (pipeline settings, estimator description and weights hash).
        result_name: result-set name for the live results (``results/<result_name>/``).
        skeleton: joint set of the results.
        source: description of the sources (manifest).
        queue_seconds: capacity of the frame queue in seconds of video (bounded memory).
        overwrite: replace an existing folder.
        size_mismatches: the pipeline's image-size mismatches (stored in the manifest).

    Every frame given is recorded, whatever its size (:class:`core.session.folder.SessionWriter`); a size that
    differs from the calibration is stored in the manifest and published as a ``warning`` event.
    """

    def __init__(self, folder, rig: CameraRig, fps: float, events: EventBus | None = None,
                 settings: dict | None = None, result_name: str = "live", skeleton: Skeleton | None = None,
                 source: dict | None = None, queue_seconds: float = 4.0, overwrite: bool = False,
                 record_results: bool = True, size_mismatches: list | None = None) -> None:

        self.folder = Path(folder)
        self.rig = rig
        self.fps = float(fps)
        self.events = events or EventBus()
        all_settings = {"recording": {"source": source or {}, "software": _more_versions()}, **(settings or {})}
        self.writer = SessionWriter(self.folder, rig, fps=self.fps, source="cameras", settings=all_settings,
                                    overwrite=overwrite, size_mismatches=size_mismatches,
                                    on_size_mismatch=lambda m: self.events.publish(
                                        "warning", f"recording: {m.message}", m.camera, size_mismatch=m.as_dict()))
        est = (settings or {}).get("estimator", {})
        if est.get("weights_sha256"):
            self.writer.manifest.weights = {"ppt": est["weights_sha256"]}
        self.results = (ResultWriter(self.folder, result_name, rig.names, skeleton, settings=settings)
                        if record_results and skeleton is not None else None)
        self._queue: queue.Queue = queue.Queue(maxsize=max(8, int(queue_seconds * self.fps * len(rig))))
        # Latency does not matter here: wait up to 1 s for late cameras so that no frame misses its set.
        self._sync = FrameSynchronizer(rig.names, fps=self.fps, policy="all", max_buffer=int(4 * self.fps) + 8,
                                       max_wait_ms=1000.0, silent_ms=2000.0)
        self._stamp_to_index: dict[tuple[str, int], int] = {}
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._lock = threading.Lock()
        self.frames_received = 0
        self.frames_written = 0
        self.frames_dropped_by_writer = 0
        self.sets_written = 0
        self.error: str | None = None
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def on_frame(self, frame: Frame) -> None:
        """Capture-thread sink: enqueue without blocking; a full queue counts a dropped frame."""
        if self._closed:
            return
        try:
            self._queue.put_nowait(frame)
            with self._lock:
                self.frames_received += 1
        except queue.Full:
            with self._lock:
                self.frames_dropped_by_writer += 1

    def on_result(self, result) -> None:
        """Pipeline result sink: append to the live result set."""
        if self.results is None:
            return
        index = -1
        with self._lock:
            for cam, f in result.frame_set.frames.items():
                index = self._stamp_to_index.get((cam, f.t_capture_ns), -1)
                if index >= 0:
                    break
        self.results.add(result, index)

    def stats(self) -> dict:
        with self._lock:
            return {"folder": str(self.folder), "frames_received": self.frames_received,
                    "frames_written": self.frames_written, "frames_dropped_by_writer": self.frames_dropped_by_writer,
                    "sets_written": self.sets_written, "queued": self._queue.qsize(), "error": self.error,
                    "frames_not_grouped": int(sum(self._sync.stats.skipped.values()))}

    def _write(self, fs) -> None:
        self.writer.write_frame_set(fs)
        with self._lock:
            index = self.sets_written
            self.sets_written += 1
            self.frames_written += len(fs.frames)
            for cam, f in fs.frames.items():
                self._stamp_to_index[(cam, f.t_capture_ns)] = index
            if len(self._stamp_to_index) > 4000:  # keep the last ~30 s of a 4-camera rig
                for key in list(self._stamp_to_index)[:2000]:
                    del self._stamp_to_index[key]

    def _run(self) -> None:
        ending = False
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                item = None
            if item is _END:
                ending = True
            elif item is not None:
                try:
                    self._sync.push(item, time.perf_counter_ns())
                except ValueError as exc:
                    log.warning("recorder: %s", exc)
                # drain what is already queued before grouping (cheap, keeps sets complete)
                continue_draining = True
                while continue_draining:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _END:
                        ending = True
                        continue_draining = False
                    else:
                        self._sync.push(nxt, time.perf_counter_ns())
            try:
                sets = self._sync.flush() if ending else self._sync.pop_all(time.perf_counter_ns())
                for fs in sets:
                    self._write(fs)
            except Exception as exc:  # report once; keep the files that were written
                with self._lock:
                    first = self.error is None
                    self.error = str(exc)
                if first:
                    log.exception("recorder failed writing %s", self.folder)
                    self.events.publish("error", f"recording into {self.folder} failed: {exc}")
                if ending:
                    return
            if ending:
                return

    def close(self, sync_stats: dict | None = None, capture_stats: dict | None = None, timeout: float = 30.0) -> Path:
        """Write what is queued, close videos and results, and store statistics in the manifest."""
        if self._closed:
            return self.folder
        self._closed = True
        self._queue.put(_END)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("recorder thread still writing after %.0f s", timeout)
        rec = self.writer.manifest.settings.setdefault("recording", {})
        rec.update({"frames_received": self.frames_received, "frames_written": self.frames_written,
                    "frames_dropped_by_writer": self.frames_dropped_by_writer, "sets_written": self.sets_written,
                    "writer_sync": self._sync.stats.as_dict(), "pipeline_sync": sync_stats or {},
                    "capture": {k: {kk: vv for kk, vv in v.items() if kk != "camera"}
                                for k, v in (capture_stats or {}).items()},
                    "error": self.error})
        self.writer.close(complete=self.error is None)
        if self.results is not None:
            self.results.close()
        return self.folder
