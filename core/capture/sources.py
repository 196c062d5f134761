"""Capture sources and the one-thread-per-camera machinery that reads them.

A :class:`Source` opens, reads and closes one camera-like input: a USB webcam (:class:`WebcamSource`), an IP camera
or phone stream (:class:`URLSource`, RTSP or HTTP MJPEG), a video file (:class:`VideoFileSource`), an image folder
(:class:`ImageFolderSource`), or generated frames (:class:`SyntheticSource`; the virtual studio wraps in
:mod:`core.studio.sources`). A :class:`CaptureThread` runs one source: it stamps every image with the host's
monotonic clock (``time.perf_counter_ns()``) and wall time, hands the :class:`~core.records.Frame` to its
sinks (a :class:`~core.capture.slots.LatestSlot`, the recorder), counts drops, and reconnects with exponential backoff when a live
camera fails, publishing ``camera_lost`` / ``camera_back`` events. A failed camera never stops the others.

File sources stamp frames with their media time (``start + index / fps``) so several files stay in step whether
they are paced in real time or read as fast as possible.
"""

from __future__ import annotations

import glob
import logging
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core.capture.slots import LatestSlot
from core.events import EventBus
from core.records import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mjpg", ".mjpeg")


class SourceError(RuntimeError):
    """A source could not be opened or read; the message names the source and the cause."""


class Source(ABC):
    """One camera-like input. Subclasses implement :meth:`open`, :meth:`read` and :meth:`close`.

    Attributes:
        name: camera name (matches the calibration).
        live: True for cameras and streams (reconnect on failure); False for files and folders (end of data).
        fps: nominal frame rate (Hz), from the device or file when known.
    """

    live = True

    def __init__(self, name: str, fps: float | None = None) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"a source needs a non-empty camera name, got {name!r}")
        self.name = name
        self.fps = fps
        self.ended = False

    @abstractmethod
    def open(self) -> None:
        """Open the input; raise :class:`SourceError` with a clear message on failure."""

    @abstractmethod
    def read(self) -> tuple[np.ndarray, int | None, int | None] | None:
        """Next image ``(H, W, 3) uint8 BGR`` with optional ``(t_capture_ns, index)``; ``None`` on failure/end."""

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return self.name

    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the frames when known before capture (files, folders, synthetic), else None
        (cameras and streams: known from the first frame)."""
        return None


class OpenCVSource(Source):
    """Base for sources read through ``cv2.VideoCapture``."""

    def __init__(self, name: str, fps: float | None = None) -> None:
        super().__init__(name, fps)
        self._cap: cv2.VideoCapture | None = None

    @abstractmethod
    def _open_capture(self) -> cv2.VideoCapture:
        """The opened ``cv2.VideoCapture`` of this device, URL or file."""

    def open(self) -> None:
        self.close()
        cap = self._open_capture()
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise SourceError(self._open_error())
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        if self.fps is None and fps and 0 < fps < 1000:
            self.fps = float(fps)

    def _open_error(self) -> str:
        return f"camera {self.name!r}: cannot open {self.describe()}"

    def read(self):
        if self._cap is None:
            return None
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return image, None, None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class WebcamSource(OpenCVSource):
    """A USB/UVC camera by device index (``0``, ``1``, ...) or path (``/dev/video2``).

    Args:
        width, height, fps: requested mode (the camera may choose the nearest; the actual mode is logged).
        fourcc: pixel format, ``"MJPG"`` by default (compressed: several cameras fit one USB bus).
        exposure: manual exposure value (driver units) or ``None`` for automatic.
        backend: OpenCV API preference (e.g. ``cv2.CAP_V4L2``), default automatic.
    """

    def __init__(self, name: str, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float | None = None, fourcc: str | None = "MJPG", exposure: float | None = None,
                 backend: int | None = None) -> None:
        super().__init__(name, fps)
        self.device = device
        self.width, self.height, self.fourcc, self.exposure = width, height, fourcc, exposure
        self.backend = cv2.CAP_ANY if backend is None else backend
        self._requested_fps = fps

    def describe(self) -> str:
        return f"webcam {self.device}"

    def _open_capture(self) -> cv2.VideoCapture:
        if isinstance(self.device, str) and not self.device.isdigit() and not os.path.exists(self.device):
            raise SourceError(f"camera {self.name!r}: device {self.device} does not exist")
        device = int(self.device) if isinstance(self.device, str) and self.device.isdigit() else self.device
        cap = cv2.VideoCapture(device, self.backend)
        if not cap.isOpened():
            return cap
        if self.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self.fourcc[:4].ljust(4)))
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self._requested_fps:
            cap.set(cv2.CAP_PROP_FPS, self._requested_fps)
        if self.exposure is not None:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2: 1 = manual
            cap.set(cv2.CAP_PROP_EXPOSURE, float(self.exposure))
        log.info("camera %s: %s opened at %dx%d @ %.1f fps", self.name, self.describe(),
                 int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                 cap.get(cv2.CAP_PROP_FPS))
        return cap

    def _open_error(self) -> str:
        return (f"camera {self.name!r}: cannot open webcam {self.device} (no such device, busy in another "
                f"program, or no permission); `ppt-mocap cameras` lists the devices found")


class URLSource(OpenCVSource):
    """An IP camera or phone stream: ``rtsp://...``, ``http(s)://.../video.mjpg`` (MJPEG over HTTP), through FFmpeg.

    ``timeout_s`` bounds opening and each read, so an unreachable host fails quickly and is retried.
    """

    def __init__(self, name: str, url: str, fps: float | None = None, timeout_s: float = 5.0) -> None:
        super().__init__(name, fps)
        if "://" not in url:
            raise ValueError(f"camera {name!r}: {url!r} is not a URL (expected rtsp://, http:// or https://)")
        self.url = url
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"stream {self.url}"

    def _open_capture(self) -> cv2.VideoCapture:
        ms = int(self.timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def _open_error(self) -> str:
        return (f"camera {self.name!r}: cannot open stream {self.url} (host unreachable, wrong path, or not a "
                f"video stream; waited up to {self.timeout_s:g} s)")


class VideoFileSource(OpenCVSource):
    """A video file, paced in real time (``realtime=True``) or read as fast as the consumer takes frames.

    Frames are stamped ``start_ns + index / fps`` (media time on the host clock) and indexed by their frame
    number in the file. ``start_ns`` is shared by the pipeline so several files line up.
    """

    live = False

    def __init__(self, name: str, path, realtime: bool = True, loop: bool = False, fps: float | None = None,
                 start_ns: int | None = None) -> None:
        super().__init__(name, fps)
        self.path = Path(path)
        self.realtime, self.loop = realtime, loop
        self.start_ns = start_ns
        self._index = 0
        self.expected_frames = 0
        self._size: tuple[int, int] | None = None
        if self.path.is_file():  # know the rate (sync tolerance) and the frame size (calibration check) up front
            cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
            if cap.isOpened():
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                self._size = (w, h) if w > 0 and h > 0 else None
                rate = cap.get(cv2.CAP_PROP_FPS)
                if self.fps is None:
                    self.fps = float(rate) if rate and 0 < rate < 1000 else None
            cap.release()

    def describe(self) -> str:
        return f"video file {self.path}"

    def frame_size(self) -> tuple[int, int] | None:
        return self._size

    def _open_capture(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            raise SourceError(f"camera {self.name!r}: video file not found: {self.path}")
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if cap.isOpened():
            self.expected_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            ok, first = cap.read()
            if not ok:
                cap.release()
                raise SourceError(f"camera {self.name!r}: {self.path} opened but no frame decodes "
                                  f"(corrupt or unsupported video)")
            self._first = first
        return cap

    def _open_error(self) -> str:
        return f"camera {self.name!r}: cannot read video file {self.path} (corrupt or unsupported format)"

    def open(self) -> None:
        self._first = None
        super().open()
        if not self.fps:
            self.fps = 30.0
            log.warning("camera %s: %s does not state its frame rate; assuming 30 fps", self.name, self.path)
        if self.start_ns is None:
            self.start_ns = time.perf_counter_ns()
        self._index = 0

    def read(self):
        if self._cap is None:
            return None
        if self._first is not None:
            image, self._first = self._first, None
        else:
            ok, image = self._cap.read()
            if not ok or image is None:
                if self.loop and self._index > 0:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, image = self._cap.read()
                if not ok or image is None:
                    self.ended = True
                    if self.expected_frames and self._index < self.expected_frames - 1:
                        log.warning("camera %s: %s ended after %d of %d frames (truncated or corrupt)",
                                    self.name, self.path, self._index, self.expected_frames)
                    return None
        index = self._index
        self._index += 1
        t_ns = self.start_ns + int(round(index * 1e9 / self.fps))
        if self.realtime:
            _sleep_until(t_ns)
        return image, t_ns, index


class ImageFolderSource(Source):
    """A folder of images (sorted by name) played as a camera at ``fps``, in real time or as fast as possible."""

    live = False

    def __init__(self, name: str, folder, fps: float = 30.0, realtime: bool = True, loop: bool = False,
                 start_ns: int | None = None) -> None:
        super().__init__(name, fps)
        self.folder = Path(folder)
        self.realtime, self.loop, self.start_ns = realtime, loop, start_ns
        self._files: list[str] = []
        self._index = 0

    def describe(self) -> str:
        return f"image folder {self.folder}"

    def frame_size(self) -> tuple[int, int] | None:
        """The first readable image's size (a folder holds one camera's frames, of one size)."""
        if not self.folder.is_dir():
            return None
        for path in sorted(p for p in glob.glob(str(self.folder / "*")) if p.lower().endswith(IMAGE_SUFFIXES))[:5]:
            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if image is not None:
                return (image.shape[1], image.shape[0])
        return None

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"camera {self.name!r}: image folder not found: {self.folder}")
        self._files = sorted(p for p in glob.glob(str(self.folder / "*")) if p.lower().endswith(IMAGE_SUFFIXES))
        if not self._files:
            raise SourceError(f"camera {self.name!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in {self.folder}")
        if self.start_ns is None:
            self.start_ns = time.perf_counter_ns()
        self._index = 0

    def read(self):
        while True:
            if self._index >= len(self._files):
                if not self.loop:
                    self.ended = True
                    return None
                self._index = 0
            index = self._index
            self._index += 1
            image = cv2.imread(self._files[index], cv2.IMREAD_COLOR)
            if image is not None:
                break
            log.warning("camera %s: skipping unreadable image %s", self.name, self._files[index])
        t_ns = self.start_ns + int(round(index * 1e9 / self.fps))
        if self.realtime:
            _sleep_until(t_ns)
        return image, t_ns, index


class SyntheticSource(Source):
    """Generated frames at ``fps`` in real time: tests and benchmarks.

    Without ``images`` it draws a moving noise pattern with a frame counter; with ``images`` (a list of
    (H, W, 3) uint8 pictures, e.g. pre-rendered studio frames) it plays them in a loop, costing the CPU no more
    than a real camera does. ``set_available(False)`` makes it fail like an unplugged camera until set back to True.
    """

    def __init__(self, name: str, size: tuple[int, int] = (640, 480), fps: float = 30.0, seed: int = 0,
                 clock_offset_ms: float = 0.0, images: list | None = None) -> None:
        super().__init__(name, fps)
        self.size = (int(size[0]), int(size[1]))
        self.seed = seed
        self.clock_offset_ns = int(clock_offset_ms * 1e6)
        self._available = threading.Event()
        self._available.set()
        self._next_ns = 0
        self._index = 0
        w, h = self.size
        self.images = list(images) if images is not None else None
        if self.images is not None:
            if not self.images:
                raise ValueError(f"camera {name!r}: images= must hold at least one picture")
            self.size = (self.images[0].shape[1], self.images[0].shape[0])
        rng = np.random.default_rng(seed)
        self._base = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8) if self.images is None else None

    def set_available(self, available: bool) -> None:
        (self._available.set if available else self._available.clear)()

    def frame_size(self) -> tuple[int, int] | None:
        return self.size

    def open(self) -> None:
        if not self._available.is_set():
            raise SourceError(f"camera {self.name!r}: synthetic camera is switched off")
        self._next_ns = time.perf_counter_ns()

    def read(self):
        if not self._available.is_set():
            time.sleep(0.05)
            return None
        _sleep_until(self._next_ns)
        t_ns = self._next_ns
        self._next_ns += int(1e9 / self.fps)
        now = time.perf_counter_ns()
        if now - self._next_ns > 1e9:  # fell far behind (machine busy): resynchronise
            self._next_ns = now
        if self.images is not None:
            image = self.images[self._index % len(self.images)]
        else:
            image = np.roll(self._base, self._index * 4, axis=1)
            cv2.putText(image, f"{self.name} {self._index}", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0,
                        (255, 255, 255), 2)
        index = self._index
        self._index += 1
        return image, t_ns + self.clock_offset_ns, index


def _sleep_until(t_ns: int) -> None:
    delay = (t_ns - time.perf_counter_ns()) / 1e9
    if delay > 0:
        time.sleep(delay)


@dataclass
class CaptureStats:
    """Per-camera counters (read them through :meth:`CaptureThread.stats`).

    Attributes:
        frames: frames delivered; dropped: frames overwritten unread in the processing slot;
        missed: frames the camera skipped, estimated from gaps in capture times (> 1.5 periods);
        reconnects: successful re-opens after a loss; fps: measured delivery rate over the last second;
        connected: currently delivering; finished: a file or folder reached its end; last_error: latest error text.
    """

    camera: str
    frames: int = 0
    dropped: int = 0
    missed: int = 0
    reconnects: int = 0
    fps: float = 0.0
    connected: bool = False
    finished: bool = False
    last_error: str = ""


class CaptureThread:
    """Runs one :class:`Source` on its own thread and hands each :class:`Frame` to ``sinks``.

    Args:
        source: the input.
        sinks: callables ``sink(frame)``; called on this thread, so they must be quick (a slot put, a bounded
            queue put). A sink that raises is logged and reported, never stops capture.
        events: where ``camera_*`` events go.
        backoff_s: first reconnect delay; doubles up to ``max_backoff_s``.
        lost_after_s: a live source that delivers nothing for this long counts as lost and is re-opened.
    """

    def __init__(self, source: Source, sinks: list[Callable[[Frame], None]] | None = None,
                 events: EventBus | None = None, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 lost_after_s: float = 2.0) -> None:
        self.source = source
        self.sinks = list(sinks or [])
        self.events = events or EventBus()
        self.backoff_s, self.max_backoff_s, self.lost_after_s = backoff_s, max_backoff_s, lost_after_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats = CaptureStats(source.name)
        self._lock = threading.Lock()
        self._recent: list[int] = []
        self._slots: list[LatestSlot] = []

    @property
    def name(self) -> str:
        return self.source.name

    def add_slot(self, slot: LatestSlot) -> None:
        """Deliver frames to ``slot`` (its drops count as this camera's drops)."""
        self._slots.append(slot)
        self.sinks.append(lambda frame: slot.put(frame, self._stop))

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"capture thread for {self.name!r} already started")
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> bool:
        """Ask the thread to end and wait up to ``timeout`` s; returns True if it ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        if alive:
            log.warning("capture thread %s did not end within %.1f s (blocked in a read)", self.name, timeout)
        return not alive

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> CaptureStats:
        with self._lock:
            s = CaptureStats(**vars(self._stats))
        s.dropped = sum(slot.dropped for slot in self._slots)
        return s

    # -- the thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        src = self.source
        backoff = self.backoff_s
        opened = False
        was_lost = False
        failures_reported = False
        last_good = time.monotonic()
        last_t_ns: int | None = None
        counter = 0
        try:
            while not self._stop.is_set():
                if not opened:
                    try:
                        src.open()
                    except (SourceError, OSError, cv2.error, ValueError) as exc:
                        self._set(connected=False, last_error=str(exc))
                        if not src.live:
                            self.events.publish("camera_error", str(exc), src.name)
                            return
                        if not failures_reported:
                            self.events.publish("camera_error", f"{exc}; retrying with backoff", src.name)
                            failures_reported = True
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, self.max_backoff_s)
                        continue
                    opened = True
                    backoff = self.backoff_s
                    last_good = time.monotonic()
                    self._set(connected=True)
                    if was_lost:
                        with self._lock:
                            self._stats.reconnects += 1
                        self.events.publish("camera_back", f"camera {src.name!r} is delivering again", src.name)
                        was_lost = False
                    elif not failures_reported:
                        self.events.publish("camera_opened", f"opened {src.describe()}", src.name)
                    else:
                        self.events.publish("camera_back", f"camera {src.name!r} opened after retries", src.name)
                    failures_reported = False
                try:
                    got = src.read()
                except (cv2.error, OSError, SourceError) as exc:
                    log.warning("camera %s: read failed: %s", src.name, exc)
                    got = None
                if got is None:
                    if not src.live and src.ended:
                        self._set(connected=False, finished=True)
                        self.events.publish("camera_finished", f"{src.describe()} ended after {counter} frames",
                                            src.name, frames=counter)
                        return
                    if time.monotonic() - last_good > self.lost_after_s or not src.live:
                        msg = f"camera {src.name!r} stopped delivering frames; reconnecting"
                        self._set(connected=False, last_error=msg)
                        self.events.publish("camera_lost", msg, src.name)
                        src.close()
                        opened = False
                        was_lost = True
                        failures_reported = True  # the loss is reported; do not report each retry
                        if not src.live:
                            return
                    continue
                image, t_ns, index = got
                if t_ns is None:
                    t_ns = time.perf_counter_ns()
                if index is None:
                    index = counter
                counter += 1
                last_good = time.monotonic()
                frame = Frame(src.name, int(index), int(t_ns), time.time(), image)
                self._account(frame, last_t_ns)
                last_t_ns = frame.t_capture_ns
                for sink in self.sinks:
                    try:
                        sink(frame)
                    except Exception as exc:  # report, keep capturing
                        log.exception("camera %s: a frame sink failed", src.name)
                        self.events.publish("error", f"frame sink failed for camera {src.name!r}: {exc}", src.name)
        except Exception as exc:  # never let a capture thread die silently
            log.exception("capture thread %s crashed", src.name)
            self.events.publish("camera_error", f"capture thread crashed: {exc!r}", src.name)
        finally:
            try:
                src.close()
            except Exception:
                log.exception("camera %s: close failed", src.name)
            self._set(connected=False)

    def _set(self, **values) -> None:
        with self._lock:
            for k, v in values.items():
                setattr(self._stats, k, v)

    def _account(self, frame: Frame, last_t_ns: int | None) -> None:
        now = time.perf_counter_ns()
        with self._lock:
            st = self._stats
            st.frames += 1
            fps = self.source.fps
            if last_t_ns is not None and fps:
                gap = (frame.t_capture_ns - last_t_ns) * fps / 1e9
                if gap > 1.5:
                    st.missed += int(round(gap)) - 1
            self._recent.append(now)
            cutoff = now - 1_000_000_000
            while self._recent and self._recent[0] < cutoff:
                self._recent.pop(0)
            st.fps = float(len(self._recent))


def list_cameras(max_index: int = 10) -> list[dict]:
    """USB cameras found on this machine: ``[{"device", "path", "name", "width", "height", "fps"}]``.

    On Linux the ``/dev/video*`` nodes are probed (names from sysfs); elsewhere indices ``0..max_index-1``.
    Devices that do not open are left out.
    """
    found = []
    if sys.platform.startswith("linux"):
        candidates = sorted(glob.glob("/dev/video*"), key=lambda p: int("".join(ch for ch in p if ch.isdigit()) or 0))
        devices = [(int("".join(ch for ch in p if ch.isdigit())), p) for p in candidates]
    else:
        devices = [(i, str(i)) for i in range(max_index)]
    for index, path in devices:
        cap = cv2.VideoCapture(index)
        try:
            if not cap.isOpened():
                continue
            name = path
            sysname = Path(f"/sys/class/video4linux/video{index}/name")
            if sysname.exists():
                name = sysname.read_text().strip()
            found.append({"device": index, "path": path, "name": name,
                          "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                          "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                          "fps": float(cap.get(cv2.CAP_PROP_FPS))})
        finally:
            cap.release()
    return found


def _parse_webcam_spec(spec: str):
    """``DEVICE[:WIDTHxHEIGHT][@FPS]`` (device an index or /dev/videoN) -> (device, w, h, fps), else None."""
    import re

    m = re.fullmatch(r"(\d+|/dev/video\d+)(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?", spec)
    if m is None:
        return None
    device = int(m.group(1)) if m.group(1).isdigit() else m.group(1)
    w = int(m.group(2)) if m.group(2) else None
    h = int(m.group(3)) if m.group(3) else None
    return device, w, h, float(m.group(4)) if m.group(4) else None


def source_from_spec(name: str, spec: str, realtime: bool = True, start_ns: int | None = None,
                     fps: float | None = None) -> Source:
    """Build a source from a command-line value: a device index or path with an optional mode
    (``0``, ``/dev/video2``, ``0:1280x720@60``), a URL (``rtsp://``, ``http://``), a video file, an image folder,
    or ``synthetic`` (generated frames)."""
    spec = str(spec).strip()
    if not spec:
        raise ValueError(f"camera {name!r}: empty source")
    webcam = _parse_webcam_spec(spec)
    if webcam is not None:
        device, width, height, rate = webcam
        return WebcamSource(name, device, width=width, height=height, fps=rate or fps)
    if "://" in spec:
        return URLSource(name, spec, fps=fps)
    if spec == "synthetic":
        return SyntheticSource(name, fps=fps or 30.0)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(name, path, fps=fps or 30.0, realtime=realtime, start_ns=start_ns)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        if not path.exists():
            raise FileNotFoundError(f"camera {name!r}: video file not found: {path}")
        return VideoFileSource(name, path, realtime=realtime, fps=fps, start_ns=start_ns)
    raise FileNotFoundError(f"camera {name!r}: {spec!r} is not a device index, URL, video file or image folder")
