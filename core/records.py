"""The records every stage passes on, from capture to the GUI: the bottom of ``core`` (imports only numpy and the
skeleton definitions of :mod:`core.geometry`).

One frame set's journey: sources produce :class:`Frame` s, the synchroniser groups them into a :class:`FrameSet`,
a 2D backend turns it into :class:`Poses2D`, triangulation and filtering into a :class:`Pose3D`, and the processor
wraps all of it, with the :class:`StageTimings`, in a :class:`PipelineResult` that the GUI, the recorder and the
streamers read. Timestamps are ``time.perf_counter_ns()``-style integers on one host clock; the ``C`` axis is the
rig's camera order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.geometry.skeletons import Skeleton


@dataclass(frozen=True, eq=False)
class Frame:
    """One image from one camera.

    Attributes:
        camera: camera name (as in the rig).
        index: the camera's own frame counter (0, 1, 2, ...; gaps mean dropped frames).
        t_capture_ns: capture time on the host's monotonic clock, nanoseconds.
        t_wall: wall-clock time (``time.time()``, seconds) when the frame was delivered.
        image: the picture, (H, W, 3) uint8 BGR (or (H, W) for grey cameras).
    """

    camera: str
    index: int
    t_capture_ns: int
    t_wall: float
    image: np.ndarray

    def __repr__(self) -> str:
        return (f"Frame({self.camera!r}, index={self.index}, t_capture_ns={self.t_capture_ns}, "
                f"image={getattr(self.image, 'shape', None)})")


@dataclass(frozen=True, eq=False)
class FrameSet:
    """The frames of one instant across the rig.

    Attributes:
        index: frame-set counter (0, 1, 2, ...).
        t_ns: the set's time on the host clock, nanoseconds (the median of its frames' capture times).
        frames: camera name -> :class:`Frame`, for the cameras that delivered one.
        spread_ms: largest minus smallest capture time among ``frames``, milliseconds (0 for one frame).
        missing: names of rig cameras with no frame in this set (dropped, late or lost).
    """

    index: int
    t_ns: int
    frames: dict[str, Frame]
    spread_ms: float = 0.0
    missing: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_frames(cls, index: int, frames: dict[str, Frame], cameras: list[str] | None = None) -> "FrameSet":
        """Group ``frames`` into a set; ``cameras`` (the rig's names) lists who is missing."""
        stamps = np.array([f.t_capture_ns for f in frames.values()], dtype=np.int64)
        t_ns = int(np.median(stamps)) if stamps.size else 0
        spread = float(stamps.max() - stamps.min()) / 1e6 if stamps.size else 0.0
        missing = tuple(c for c in (cameras or []) if c not in frames)
        return cls(index=index, t_ns=t_ns, frames=dict(frames), spread_ms=spread, missing=missing)

    @property
    def cameras(self) -> list[str]:
        """Names of the cameras present, in insertion order."""
        return list(self.frames)

    def images(self) -> dict[str, np.ndarray]:
        """Camera name -> image."""
        return {name: f.image for name, f in self.frames.items()}

    def __repr__(self) -> str:
        return (f"FrameSet(index={self.index}, t_ns={self.t_ns}, cameras={self.cameras}, "
                f"spread_ms={self.spread_ms:.2f}, missing={list(self.missing)})")


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


@dataclass(frozen=True, eq=False)
class Pose3D:
    """Triangulated (and filtered) joints of one frame set.

    Attributes:
        points: filtered world points (J, 3) in the rig's units; NaN where not reconstructed.
        raw_points: unfiltered triangulation (J, 3).
        reprojection_error: mean pixel error over the views used (J,).
        views_used: (C, J) bool, rig camera order.
        skeleton: the joint set.
        units: ``"m"`` or ``"mm"``; up: the world's up axis.
    """

    points: np.ndarray
    raw_points: np.ndarray
    reprojection_error: np.ndarray
    views_used: np.ndarray
    skeleton: Skeleton
    units: str = "m"
    up: str = "z"


@dataclass(frozen=True)
class StageTimings:
    """Host-clock stamps (``perf_counter_ns``) of one result along the pipeline, and durations derived from them."""

    t_capture_ns: int
    t_synced_ns: int
    t_2d_start_ns: int
    t_2d_end_ns: int
    t_3d_end_ns: int
    t_done_ns: int

    def durations_ms(self) -> dict[str, float]:
        """``sync`` (waiting for the other cameras), ``queue`` (waiting for the processor), ``estimate_2d``,
        ``triangulate_3d``, ``filter``, and ``glass_to_skeleton`` (capture to filtered 3D), milliseconds."""
        ms = 1e-6
        return {
            "sync": (self.t_synced_ns - self.t_capture_ns) * ms,
            "queue": (self.t_2d_start_ns - self.t_synced_ns) * ms,
            "estimate_2d": (self.t_2d_end_ns - self.t_2d_start_ns) * ms,
            "triangulate_3d": (self.t_3d_end_ns - self.t_2d_end_ns) * ms,
            "filter": (self.t_done_ns - self.t_3d_end_ns) * ms,
            "glass_to_skeleton": (self.t_done_ns - self.t_capture_ns) * ms,
        }


@dataclass(frozen=True, eq=False)
class PipelineResult:
    """Everything about one processed frame set (what :meth:`Pipeline.latest` returns); ``person`` is the
    localisation stage's answer (boxes and their sources) for top-down backends, else ``None``."""

    index: int
    frame_set: FrameSet
    poses_2d: Poses2D
    pose_3d: Pose3D
    timings: StageTimings
    person: object | None = None  # core.locate.PersonBoxes
