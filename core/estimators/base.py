"""The 2D estimator interface every backend implements: a frame set in, per-view keypoints out.

``Estimator.estimate(frame_set, rig) -> Poses2D``. Arrays follow the rig's camera order (the ``C`` axis); a
camera missing from the frame set has NaN keypoints and zero confidence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import time
from dataclasses import dataclass, field

import numpy as np

from core.capture.frame import FrameSet
from core.geometry import CameraRig
from core.geometry.skeletons import Skeleton


@dataclass(frozen=True, eq=False)
class Poses2D:
    """2D keypoints of one frame set.

    Attributes:
        cameras: camera names, the order of the ``C`` axis (the rig's order).
        keypoints: (C, J, 2) pixels in each camera's original image; NaN where not detected.
        confidence: (C, J) in [0, 1]; 0 where not detected.
        skeleton: the joint set (``keypoints[:, j]`` is ``skeleton.joints[j]``).
        kept_tokens: per pruning stage, (C, K_s) int indices into the row-major token grid of the model input
            (-1 for a missing camera); empty when the backend does not prune.
        token_grid: (rows, cols) of the token grid.
        token_to_image: (C, 2, 3) affine maps from model-input pixels to original image pixels (for drawing the
            kept tokens over the frame); ``None`` when there are no tokens.
        timings: stage -> milliseconds (``locate``, ``preprocess``, ``forward``, ``decode``, ...).
        frame_index: the frame index the keypoints belong to (file backends), else the set index.
        boxes: (C, 4) person box per view ``(x, y, w, h)`` px that a top-down backend cropped (NaN: no box, so no
            2D in that view); ``None`` for backends that need no boxes.
        box_source: per view where its box came from: ``"tracked"``, ``"detected"`` or ``"none"``
            (:mod:`core.locate`).
    """

    cameras: list[str]
    keypoints: np.ndarray
    confidence: np.ndarray
    skeleton: Skeleton
    kept_tokens: list[np.ndarray] = field(default_factory=list)
    token_grid: tuple[int, int] | None = None
    token_stride: tuple[int, int] | None = None
    token_to_image: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    frame_index: int = 0
    boxes: np.ndarray | None = None
    box_source: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        C, J = len(self.cameras), self.skeleton.num_joints
        if self.boxes is not None and np.shape(self.boxes) != (C, 4):
            raise ValueError(f"Poses2D boxes: expected (C, 4) = {(C, 4)}, got {np.shape(self.boxes)}")
        if self.keypoints.shape != (C, J, 2):
            raise ValueError(f"Poses2D keypoints: expected (C, J, 2) = {(C, J, 2)}, got {self.keypoints.shape}")
        if self.confidence.shape != (C, J):
            raise ValueError(f"Poses2D confidence: expected (C, J) = {(C, J)}, got {self.confidence.shape}")

    @staticmethod
    def empty(cameras: list[str], skeleton: Skeleton, frame_index: int = 0) -> "Poses2D":
        C, J = len(cameras), skeleton.num_joints
        return Poses2D(list(cameras), np.full((C, J, 2), np.nan), np.zeros((C, J)), skeleton, frame_index=frame_index)


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
