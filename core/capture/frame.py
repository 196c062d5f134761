"""The frame records every capture source produces, real or virtual.

A :class:`Frame` is one image from one camera with its capture stamp; a :class:`FrameSet` is the frames of
one instant across the rig (grouped by a sync step, or by the source itself when it knows the grouping, as
the virtual studio does). Timestamps are ``time.perf_counter_ns()``-style integers on one host clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
