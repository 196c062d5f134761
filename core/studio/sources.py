"""The virtual studio (:class:`core.studio.VirtualRig`) as capture sources: one :class:`StudioCameraSource` per
virtual camera, each on its own capture thread like a real camera.

Frame ``k`` of camera ``c`` is delivered at its capture instant on the host clock (the studio's timeline, clock
offsets and jitter included); rendering is shared through the rig's thread-safe cache, so one camera's read
renders the whole set once. A source that falls behind by more than a frame skips ahead (counted by the capture
thread as missed frames), as a camera with a one-frame buffer does.

The studio's exact 2D as a 2D backend is :class:`core.estimators.studio_truth.StudioTruthEstimator`.
"""

from __future__ import annotations

import logging
import threading

from core.capture.slots import LatestSlot
from core.capture.sources import Source, SourceError
from core.studio.studio import make_studio
from core.studio.virtual_rig import VirtualRig

log = logging.getLogger(__name__)


def make_virtual_rig(preset: str = "ring4", size: tuple[int, int] = (640, 480), fps: float = 30.0,
                     motion: str = "walk", seed: int = 0, realtime: bool = True, **studio_options):
    """A :class:`VirtualRig` on a preset studio."""
    studio = make_studio(preset, size=size, fps=fps, motion=motion, seed=seed, **studio_options)
    return VirtualRig(studio, realtime=realtime)


class _StudioDriver:
    """Renders the virtual rig's frame sets in real time on one thread (the rig skips whole sets coherently when
    rendering falls behind) and hands each camera its frame through a one-slot buffer."""

    def __init__(self, vrig) -> None:
        self.vrig = vrig
        self.slots = {name: LatestSlot() for name in vrig.camera_names}
        self._lock = threading.Lock()
        self._users = 0
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="studio-render", daemon=True)
                self._thread.start()

    def release(self, timeout: float = 10.0) -> None:
        """One camera fewer; the last one stops the rendering thread and waits for it (a thread left rendering
        at interpreter exit aborts the process inside native code)."""
        with self._lock:
            self._users = max(0, self._users - 1)
            thread = self._thread if self._users == 0 else None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("virtual studio rendering did not stop within %.0f s", timeout)

    def _run(self) -> None:
        try:
            for fs in self.vrig.frame_sets():
                with self._lock:
                    if self._users == 0 and self._thread is not None:
                        break
                for name, frame in fs.frames.items():
                    self.slots[name].put(frame)
        except Exception as exc:  # surfaced by the sources as read failures
            log.exception("virtual studio rendering failed")
            self.error = repr(exc)
        finally:
            with self._lock:
                self._thread = None


class StudioCameraSource(Source):
    """One camera of a :class:`core.studio.VirtualRig` (frames rendered by a shared driver thread).

    ``set_available(False)`` makes it fail like an unplugged camera until set back to True.
    """

    def __init__(self, vrig, name: str, driver: _StudioDriver | None = None) -> None:
        if name not in vrig.camera_names:
            raise ValueError(f"no camera {name!r} in the virtual rig (cameras: {vrig.camera_names})")
        super().__init__(name, vrig.fps)
        self.vrig = vrig
        self.driver = driver or _StudioDriver(vrig)
        self._available = threading.Event()
        self._available.set()
        self._open = False

    def describe(self) -> str:
        return f"virtual studio camera {self.name}"

    def frame_size(self) -> tuple[int, int] | None:
        return tuple(int(v) for v in self.vrig.studio.rig[self.name].size)

    def set_available(self, available: bool) -> None:
        (self._available.set if available else self._available.clear)()

    def open(self) -> None:
        if not self._available.is_set():
            raise SourceError(f"camera {self.name!r}: virtual camera is switched off")
        if self.driver.error:
            raise SourceError(f"camera {self.name!r}: virtual studio failed: {self.driver.error}")
        if not self._open:
            self.driver.acquire()
            self._open = True
        self.driver.slots[self.name].get()  # start from a fresh frame

    def read(self):
        slot = self.driver.slots[self.name]
        frame = slot.get(timeout=0.5)
        if not self._available.is_set():
            return None  # unplugged: frames are rendered but never delivered
        if frame is None:
            return None
        return frame.image, frame.t_capture_ns, frame.index

    def close(self) -> None:
        if self._open:
            self.driver.release()
            self._open = False


def studio_sources(vrig, names: list[str] | None = None) -> list[StudioCameraSource]:
    """One source per camera of ``vrig`` (or of ``names``), sharing one rendering driver."""
    driver = _StudioDriver(vrig)
    return [StudioCameraSource(vrig, n, driver) for n in (names or vrig.camera_names)]
