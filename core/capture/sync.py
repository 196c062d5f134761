"""Grouping frames of several cameras into frame sets by capture time: pure logic, no threads.

Two entry points:

* :class:`FrameSynchronizer` (live and streaming): frames are pushed as they arrive and frame sets are popped
  when every camera has either a frame within the tolerance of the set's time or has provably passed it
  (its newest frame is later). A camera that sends nothing for ``max_wait_ms`` is reported missing instead of
  stalling the rest. Buffers are bounded (``max_buffer`` frames per camera); frames that can never be used are
  counted as skipped.
* :func:`group_frames` (offline): every frame of a recording grouped at once, with per-camera clock offsets.

Times are ``t_capture_ns`` on one host clock (nanoseconds). The default tolerance is half a frame period, so
a frame matches at most one set.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from core.records import Frame, FrameSet


def tolerance_from_fps(fps: float) -> float:
    """Matching tolerance (ms) for a frame rate (Hz): half a frame period."""
    if not fps or fps <= 0:
        raise ValueError(f"fps must be > 0 to derive a sync tolerance, got {fps}")
    return 500.0 / float(fps)


@dataclass
class SyncStats:
    """Running statistics of a synchroniser.

    Attributes:
        sets: frame sets emitted; complete: those with every camera; partial: those with some missing.
        spread_ms_mean / spread_ms_max: inter-camera capture-time spread of emitted sets (ms).
        skipped: camera -> frames discarded (superseded by newer sets, too old, or matching no set).
        missing: camera -> sets emitted without that camera.
    """

    sets: int = 0
    complete: int = 0
    partial: int = 0
    spread_ms_mean: float = 0.0
    spread_ms_max: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"sets": self.sets, "complete": self.complete, "partial": self.partial,
                "spread_ms_mean": round(self.spread_ms_mean, 4), "spread_ms_max": round(self.spread_ms_max, 4),
                "skipped": dict(self.skipped), "missing": dict(self.missing)}


class FrameSynchronizer:
    """Match frames of ``cameras`` by capture time into :class:`FrameSet` objects.

    Args:
        cameras: camera names (the rig order; sets list missing cameras in that order).
        fps: nominal frame rate (Hz), used for the default tolerance and waiting time.
        tolerance_ms: largest distance from the set time for a frame to belong to the set
            (default half a frame period).
        max_wait_ms: how long (host time, from the set's first arrival) to wait for a camera before emitting the
            set without it (default 3 frame periods); :meth:`pop` without ``now_ns`` waits forever.
        silent_ms: a camera that has delivered nothing for this long is not waited for at all (default 1 s).
        policy: ``"latest"`` emits the newest decidable set and skips older ones (live, latest-wins);
            ``"all"`` emits every set in time order (offline, nothing skipped).
        max_buffer: frames kept per camera (bounded memory).
        min_cameras: fewest cameras in an emitted set (sets with fewer are dropped).
    """

    def __init__(self, cameras: list[str], fps: float = 30.0, tolerance_ms: float | None = None,
                 max_wait_ms: float | None = None, policy: str = "latest", max_buffer: int = 8,
                 min_cameras: int = 1, silent_ms: float = 1000.0) -> None:
        if not cameras:
            raise ValueError("FrameSynchronizer needs at least one camera name")
        if policy not in ("latest", "all"):
            raise ValueError(f"policy must be 'latest' or 'all', got {policy!r}")
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be >= 1, got {max_buffer}")
        self.cameras = list(cameras)
        self.tolerance_ns = int(1e6 * (tolerance_ms if tolerance_ms is not None else tolerance_from_fps(fps)))
        self.max_wait_ns = int(1e6 * (max_wait_ms if max_wait_ms is not None else 3000.0 / fps))
        self.policy = policy
        self.silent_ns = int(silent_ms * 1e6)
        self.min_cameras = max(1, int(min_cameras))
        self._buffers: dict[str, deque[Frame]] = {c: deque(maxlen=max_buffer) for c in self.cameras}
        self._finished: set[str] = set()
        self._last_arrival: dict[str, int] = {}
        self._arrivals: dict[str, deque[int]] = {c: deque() for c in self.cameras}
        self._last_ns: int | None = None
        self._next_index = 0
        self._spread_sum = 0.0
        self.stats = SyncStats(skipped={c: 0 for c in self.cameras}, missing={c: 0 for c in self.cameras})

    def push(self, frame: Frame, now_ns: int | None = None) -> None:
        """Add one frame (any camera order; per camera, frames should come in time order).

        ``now_ns``: arrival time on the host clock (default: the frame's capture stamp), used for the waiting
        timeout when a source delivers later than its stamps (the virtual studio, buffered streams).
        """
        if frame.camera not in self._buffers:
            raise ValueError(f"frame from unknown camera {frame.camera!r}; expected one of {self.cameras}")
        buf = self._buffers[frame.camera]
        arrival = frame.t_capture_ns if now_ns is None else int(now_ns)
        self._last_arrival[frame.camera] = arrival
        if self._last_ns is not None and frame.t_capture_ns <= self._last_ns - self.tolerance_ns:
            self.stats.skipped[frame.camera] += 1  # older than a set already emitted
            return
        if len(buf) == buf.maxlen:
            self.stats.skipped[frame.camera] += 1
            self._arrivals[frame.camera].popleft()
        buf.append(frame)
        self._arrivals[frame.camera].append(arrival)

    def finish(self, camera: str) -> None:
        """Declare that ``camera`` sends no more frames (end of file): sets stop waiting for it."""
        self._finished.add(camera)

    def is_finished(self, camera: str) -> bool:
        """True once :meth:`finish` was called for ``camera``."""
        return camera in self._finished

    def has_room(self, camera: str) -> bool:
        """True while ``camera``'s buffer can take a frame without discarding one (offline backpressure)."""
        buf = self._buffers[camera]
        return len(buf) < buf.maxlen

    @property
    def pending(self) -> int:
        """Frames buffered, all cameras."""
        return sum(len(b) for b in self._buffers.values())

    def pop(self, now_ns: int | None = None) -> FrameSet | None:
        """The next frame set that can be decided, or ``None`` (wait for more frames).

        ``now_ns`` (host clock) enables the timeout for cameras that send nothing; without it the synchroniser
        waits for every camera that has not :meth:`finish`-ed.
        """
        heads = {c: b for c, b in self._buffers.items() if b}
        if not heads:
            return None
        if self.policy == "latest":
            anchor = min(b[-1].t_capture_ns for b in heads.values())
        else:
            anchor = min(b[0].t_capture_ns for b in heads.values())
        tol = self.tolerance_ns
        chosen: dict[str, Frame] = {}
        undecided = []
        for cam in self.cameras:
            buf = self._buffers[cam]
            if buf:
                best = min(buf, key=lambda f: abs(f.t_capture_ns - anchor))
                if abs(best.t_capture_ns - anchor) <= tol:
                    chosen[cam] = best
                    continue
                if buf[-1].t_capture_ns >= anchor - tol:
                    continue  # it has passed the set's time without a matching frame: decided missing
            if cam not in self._finished:
                undecided.append(cam)
        if undecided:
            if now_ns is None:
                return None
            # Wait for a camera that is delivering (up to max_wait after the set's first frame arrived); give up
            # at once on a camera that has been silent for max_wait (a lost camera must not stall the rest).
            first = min((self._arrival_of(f) for f in chosen.values()), default=now_ns)
            for cam in undecided:
                last = self._last_arrival.get(cam)
                silent = last is not None and now_ns - last > self.silent_ns
                if not silent and now_ns - first <= self.max_wait_ns:
                    return None
        return self._emit(chosen, anchor)

    def pop_all(self, now_ns: int | None = None) -> list[FrameSet]:
        """Every set that can be decided now (for ``policy="all"``; ``"latest"`` gives at most one)."""
        out = []
        while (fs := self.pop(now_ns)) is not None:
            out.append(fs)
            if self.policy == "latest":
                break
        return out

    def flush(self) -> list[FrameSet]:
        """Emit everything still buffered (end of stream), oldest first."""
        for c in self.cameras:
            self._finished.add(c)
        out = []
        while any(self._buffers.values()):
            fs = self.pop()
            if fs is not None:
                out.append(fs)
        return out

    def _arrival_of(self, frame: Frame) -> int:
        buf = self._buffers[frame.camera]
        for f, t in zip(buf, self._arrivals[frame.camera]):
            if f is frame:
                return t
        return frame.t_capture_ns

    def _emit(self, chosen: dict[str, Frame], anchor: int) -> FrameSet | None:
        for cam, buf in self._buffers.items():
            # Drop the chosen frame and everything older than the set; later frames wait for the next sets.
            keep_from = chosen[cam].t_capture_ns if cam in chosen else anchor
            while buf and buf[0].t_capture_ns <= keep_from:
                f = buf.popleft()
                self._arrivals[cam].popleft()
                if chosen.get(cam) is not f:
                    self.stats.skipped[cam] += 1
        self._last_ns = anchor
        if len(chosen) < self.min_cameras:
            for f in chosen.values():
                self.stats.skipped[f.camera] += 1
            return None
        ordered = {c: chosen[c] for c in self.cameras if c in chosen}
        fs = FrameSet.from_frames(self._next_index, ordered, self.cameras)
        self._next_index += 1
        st = self.stats
        st.sets += 1
        if fs.missing:
            st.partial += 1
            for c in fs.missing:
                st.missing[c] += 1
        else:
            st.complete += 1
        self._spread_sum += fs.spread_ms
        st.spread_ms_mean = self._spread_sum / st.sets
        st.spread_ms_max = max(st.spread_ms_max, fs.spread_ms)
        return fs


def group_frames(frames: list[Frame], cameras: list[str], fps: float, offsets_ms: dict[str, float] | None = None,
                 tolerance_ms: float | None = None) -> list[FrameSet]:
    """Group a whole recording's frames into sets, oldest first (offline sync; nothing skipped).

    Args:
        frames: every frame of every camera (any order).
        cameras: the rig's camera names.
        fps: nominal frame rate (Hz) for the default tolerance (half a period).
        offsets_ms: per-camera clock offset (ms) *subtracted* from that camera's stamps before grouping
            (a camera whose clock runs 5 ms late has offset +5). Missing cameras have offset 0.
        tolerance_ms: matching tolerance (default half a frame period).

    The returned frames keep their original stamps; only the grouping uses the corrected times.
    """
    offsets = {c: int(round(1e6 * float(v))) for c, v in (offsets_ms or {}).items()}
    unknown = sorted(set(offsets) - set(cameras))
    if unknown:
        raise ValueError(f"clock offsets given for unknown cameras {unknown}; cameras: {cameras}")
    per_cam: dict[str, list[tuple[int, Frame]]] = {c: [] for c in cameras}
    for f in frames:
        if f.camera not in per_cam:
            raise ValueError(f"frame from unknown camera {f.camera!r}; expected one of {cameras}")
        per_cam[f.camera].append((f.t_capture_ns - offsets.get(f.camera, 0), f))
    sync = FrameSynchronizer(cameras, fps=fps, tolerance_ms=tolerance_ms, policy="all",
                             max_buffer=max(1, max(len(v) for v in per_cam.values())))
    originals: dict[int, Frame] = {}
    for cam, items in per_cam.items():
        items.sort(key=lambda x: x[0])
        for t, f in items:
            shifted = Frame(f.camera, f.index, t, f.t_wall, f.image)
            originals[id(shifted)] = f
            sync.push(shifted)
    sets = sync.flush()
    out = []
    for i, fs in enumerate(sets):
        orig = {c: originals[id(f)] for c, f in fs.frames.items()}
        corrected = FrameSet.from_frames(i, fs.frames, cameras)
        out.append(FrameSet(index=i, t_ns=corrected.t_ns, frames=orig, spread_ms=corrected.spread_ms,
                            missing=corrected.missing))
    return out


def spread_statistics(sets: list[FrameSet]) -> dict:
    """Summary of a list of frame sets: count, complete fraction, spread mean/median/max (ms)."""
    if not sets:
        return {"sets": 0, "complete_fraction": 0.0, "spread_ms_mean": float("nan"),
                "spread_ms_median": float("nan"), "spread_ms_max": float("nan")}
    spreads = np.array([s.spread_ms for s in sets])
    return {"sets": len(sets), "complete_fraction": float(np.mean([not s.missing for s in sets])),
            "spread_ms_mean": float(spreads.mean()), "spread_ms_median": float(np.median(spreads)),
            "spread_ms_max": float(spreads.max())}
