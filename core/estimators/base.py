"""The 2D estimator interface every backend implements: a frame set in, per-view keypoints out.

``Estimator.estimate(frame_set, rig) -> Poses2D``. Arrays follow the rig's camera order (the ``C`` axis); a
camera missing from the frame set has NaN keypoints and zero confidence.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from core.geometry import CameraRig
from core.geometry.skeletons import Skeleton
from core.records import FrameSet, Poses2D


class Estimator(ABC):
    """Base class of 2D backends.

    Attributes:
        name: backend name (``"ppt"``, ``"mediapipe"``, ``"openpose-json"``).
        skeleton: the joint set it outputs.
        description: one line for manifests and the GUI (model, weights and their hash, or "random init").
    """

    name = "estimator"
    skeleton: Skeleton
    description = ""
    #: Top-down backends (PPT) need a person box per view: ``estimate(frame_set, rig, boxes=...)`` with the boxes
    #: of :class:`core.locate.PersonLocator` (run them through :func:`core.locate.estimate_2d`).
    top_down = False

    @abstractmethod
    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        """2D keypoints of every camera of ``frame_set`` (rig order)."""

    def settings(self) -> dict:
        """What to store in a result set's ``settings.json`` to reproduce this estimator."""
        return {"backend": self.name, "description": self.description}

    def close(self) -> None:
        pass


def check_frame_set(frame_set: FrameSet, rig: CameraRig) -> None:
    """Raise ``ValueError`` if the frame set names cameras the rig does not have."""
    unknown = [c for c in frame_set.frames if c not in rig.names]
    if unknown:
        raise ValueError(f"frame set has cameras {unknown} that the calibration does not have ({rig.names}); "
                         f"name the sources after the calibration's cameras")


class Stopwatch:
    """Collects stage durations in ms: ``with sw("forward"): ...``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._name = ""
        self._t0 = 0

    def __call__(self, name: str) -> "Stopwatch":
        self._name = name
        return self

    def __enter__(self) -> "Stopwatch":
        self._t0 = time.perf_counter_ns()
        return self

    def __exit__(self, *exc) -> None:
        self.timings[self._name] = self.timings.get(self._name, 0.0) + (time.perf_counter_ns() - self._t0) / 1e6
