"""The virtual studio (:class:`core.studio.VirtualRig`) as capture sources: one :class:`StudioCameraSource` per
virtual camera, each on its own capture thread like a real camera.

Frame ``k`` of camera ``c`` is delivered at its capture instant on the host clock (the studio's timeline, clock
offsets and jitter included); rendering is shared through the rig's thread-safe cache, so one camera's read
renders the whole set once. A source that falls behind by more than a frame skips ahead (counted by the capture
thread as missed frames), as a camera with a one-frame buffer does.

:class:`StudioTruthEstimator` returns the studio's exact 2D keypoints (H36M-17) as a 2D backend: the pipeline's
triangulation and filtering can then be checked against the ground-truth 3D.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from core.capture.frame import FrameSet
from core.capture.sources import Source, SourceError
from core.estimators.base import Estimator, Poses2D, check_frame_set
from core.geometry import CameraRig, get_skeleton


def make_virtual_rig(preset: str = "ring4", size: tuple[int, int] = (640, 480), fps: float = 30.0,
                     motion: str = "walk", seed: int = 0, realtime: bool = True, **studio_options):
    """A :class:`core.studio.VirtualRig` on a preset studio (imports the studio lazily)."""
    from core.studio import make_studio
    from core.studio.virtual_rig import VirtualRig

    studio = make_studio(preset, size=size, fps=fps, motion=motion, seed=seed, **studio_options)
    return VirtualRig(studio, realtime=realtime)


class StudioCameraSource(Source):
    """One camera of a :class:`core.studio.VirtualRig`.

    ``set_available(False)`` makes it fail like an unplugged camera until set back to True.
    """

    def __init__(self, vrig, name: str, realtime: bool | None = None) -> None:
        if name not in vrig.camera_names:
            raise ValueError(f"no camera {name!r} in the virtual rig (cameras: {vrig.camera_names})")
        super().__init__(name, vrig.fps)
        self.vrig = vrig
        self.realtime = vrig.realtime if realtime is None else realtime
        self.camera_index = vrig.camera_names.index(name)
        self._index = 0
        self._available = threading.Event()
        self._available.set()

    def describe(self) -> str:
        return f"virtual studio camera {self.name}"

    def set_available(self, available: bool) -> None:
        (self._available.set if available else self._available.clear)()

    def open(self) -> None:
        if not self._available.is_set():
            raise SourceError(f"camera {self.name!r}: virtual camera is switched off")
        self._index = self._now_index() if self.realtime else self._index

    def _now_index(self) -> int:
        elapsed = (time.perf_counter_ns() - self.vrig.t0_ns) / 1e9
        return max(0, int(np.ceil(elapsed * self.fps)))

    def read(self):
        if not self._available.is_set():
            time.sleep(0.05)
            return None
        while True:
            k = self._index
            if self.realtime:
                times, _ = self.vrig.studio.capture_times(k)
                due = self.vrig.stamp_ns(float(times[self.camera_index]))
                late = time.perf_counter_ns() - due
                if late > 1e9 / self.fps:  # behind: jump to the current frame, as a one-frame buffer does
                    self._index = max(k + 1, self._now_index())
                    continue
                delay = (due - time.perf_counter_ns()) / 1e9
                if delay > 0:
                    time.sleep(delay)
            self._index = k + 1
            frame = self.vrig.read(self.name, k)
            if frame is None:  # the virtual camera dropped this frame
                continue
            return frame.image, frame.t_capture_ns, k


def studio_sources(vrig, names: list[str] | None = None) -> list[StudioCameraSource]:
    """One source per camera of ``vrig`` (or of ``names``)."""
    return [StudioCameraSource(vrig, n) for n in (names or vrig.camera_names)]


class StudioTruthEstimator(Estimator):
    """The studio's exact 2D keypoints of the first person (H36M-17 joints), as a 2D backend (tests, soak).

    Joints hidden by the depth test get confidence ``hidden_confidence`` (0 drops them).
    """

    name = "studio-truth"

    def __init__(self, vrig, hidden_confidence: float = 0.0) -> None:
        self.vrig = vrig
        self.skeleton = get_skeleton("h36m17")
        self.hidden_confidence = hidden_confidence
        self.description = "exact 2D keypoints of the virtual studio (ground truth, no model)"

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        kp = np.full((C, J, 2), np.nan)
        conf = np.zeros((C, J))
        names = self.vrig.camera_names
        for c, cam in enumerate(rig.names):
            frame = frame_set.frames.get(cam)
            if frame is None:
                continue
            truth = self.vrig.truth(frame.index)
            i = names.index(cam)
            kp[c] = truth.joints_2d[i, 0, :J]
            conf[c] = np.where(truth.visible[i, 0, :J], 1.0, self.hidden_confidence)
        return Poses2D(rig.names, kp, conf, self.skeleton, frame_index=frame_set.index)
