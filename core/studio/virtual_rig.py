"""The virtual studio as a live capture source: timestamped frames in real time, like real cameras.

``VirtualRig`` wraps a :class:`core.studio.studio.Studio`. Frame ``k`` of camera ``c`` is captured at
``t0 + t_capture[c]`` on the host's monotonic clock (``time.perf_counter_ns()``), where ``t_capture`` comes
from the studio (nominal ``k / fps`` plus the camera's clock offset and jitter). In real-time mode the rig
waits for that instant before delivering and, when rendering falls behind by more than a frame, skips
ahead to the current frame (skipped frame sets are counted), as a camera with a one-frame buffer does.
Dropped frames are simply missing from their :class:`core.capture.FrameSet`.

Three ways to read it: :meth:`VirtualRig.frame_sets` (grouped by the studio, with ground truth via
:meth:`VirtualRig.truth`), :meth:`VirtualRig.frames` (single camera frames in capture order, for a
timestamp-based synchroniser), and :meth:`VirtualRig.read` (one camera's frame ``k``; thread-safe, for
one capture thread per camera).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from core.records import Frame, FrameSet
from core.studio.studio import FrameTruth, Studio

log = logging.getLogger(__name__)


class VirtualRig:
    """Timestamped frames from a studio.

    Args:
        studio: the studio to film.
        realtime: pace delivery to the frame rate (False: as fast as rendering allows, stamps still
            follow the virtual timeline).
        start_index: first frame index.
        clock: monotonic clock in nanoseconds (``time.perf_counter_ns``).
        cache: how many rendered frame sets to keep (for :meth:`read` and :meth:`truth`).
    """

    def __init__(self, studio: Studio, realtime: bool = True, start_index: int = 0,
                 clock: Callable[[], int] = time.perf_counter_ns, cache: int = 8) -> None:
        if start_index < 0:
            raise ValueError(f"start_index must be >= 0, got {start_index}")
        self.studio = studio
        self.realtime = realtime
        self.start_index = int(start_index)
        self.clock = clock
        self.t0_ns = clock() - int(round(start_index / studio.fps * 1e9))
        self.t0_wall = time.time() - start_index / studio.fps
        self.skipped = 0
        self._cache: OrderedDict[int, tuple[FrameSet, FrameTruth]] = OrderedDict()
        self._cache_size = max(int(cache), 1)
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def camera_names(self) -> list[str]:
        return self.studio.camera_names

    @property
    def fps(self) -> float:
        return self.studio.fps

    def close(self) -> None:
        """Stop any running iteration (it ends at its next frame)."""
        self._closed.set()

    # ----------------------------------------------------------------------------------------------
    def stamp_ns(self, t_scene: float) -> int:
        """Host-clock time (ns) of a scene time (s)."""
        return self.t0_ns + int(round(t_scene * 1e9))

    def read_set(self, index: int) -> tuple[FrameSet, FrameTruth]:
        """Frame set ``index`` and its ground truth (rendered once, then cached). Thread-safe."""
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index]
            shot = self.studio.render(index)
            t_wall = time.time() if self.realtime else None
            frames = {}
            for c, name in enumerate(self.studio.camera_names):
                if name not in shot.images:
                    continue
                t_cap = float(shot.truth.t_capture[c])
                frames[name] = Frame(camera=name, index=index, t_capture_ns=self.stamp_ns(t_cap),
                                     t_wall=t_wall if t_wall is not None else self.t0_wall + t_cap,
                                     image=shot.images[name])
            fs = FrameSet.from_frames(index, frames, self.studio.camera_names)
            self._cache[index] = (fs, shot.truth)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return fs, shot.truth

    def truth(self, index: int) -> FrameTruth:
        """Ground truth of frame set ``index``."""
        return self.read_set(index)[1]

    def read(self, camera: str, index: int) -> Frame | None:
        """Camera ``camera``'s frame ``index`` (None when that camera dropped it)."""
        if camera not in self.studio.camera_names:
            raise KeyError(f"no camera {camera!r} in the virtual rig (cameras: {self.studio.camera_names})")
        return self.read_set(index)[0].frames.get(camera)

    # ----------------------------------------------------------------------------------------------
    def _wait_until(self, t_ns: int) -> None:
        while not self._closed.is_set():
            remaining = (t_ns - self.clock()) / 1e9
            if remaining <= 0:
                return
            self._closed.wait(min(remaining, 0.05))

    def frame_sets(self, count: int | None = None) -> Iterator[FrameSet]:
        """Frame sets from ``start_index`` on (``count`` of them, or until :meth:`close`)."""
        index = self.start_index
        delivered = 0
        period_ns = 1e9 / self.fps
        while not self._closed.is_set() and (count is None or delivered < count):
            if self.realtime:
                times, _ = self.studio.capture_times(index)
                due = self.stamp_ns(float(times.max()))
                late = self.clock() - due
                if late > period_ns:
                    skip = int(late // period_ns)
                    self.skipped += skip
                    index += skip
                    log.debug("virtual rig behind by %.1f ms: skipped %d frame sets", late / 1e6, skip)
                    times, _ = self.studio.capture_times(index)
                    due = self.stamp_ns(float(times.max()))
                self._wait_until(due)
                if self._closed.is_set():
                    return
            fs, _ = self.read_set(index)
            yield fs
            delivered += 1
            index += 1

    def frames(self, count: int | None = None) -> Iterator[Frame]:
        """Single-camera frames in capture-time order (``count`` frame sets' worth)."""
        for fs in self.frame_sets(count):
            for frame in sorted(fs.frames.values(), key=lambda f: f.t_capture_ns):
                yield frame

    def __iter__(self) -> Iterator[FrameSet]:
        return self.frame_sets()

    def __repr__(self) -> str:
        return f"VirtualRig({self.camera_names}, fps={self.fps:g}, realtime={self.realtime})"


def stamp_offsets_ms(frame_set: FrameSet) -> np.ndarray:
    """Capture-time offsets (ms) of a set's frames relative to its median time, in its camera order."""
    return np.array([(f.t_capture_ns - frame_set.t_ns) / 1e6 for f in frame_set.frames.values()])
