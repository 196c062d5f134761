"""What the app runs: sources, calibration and 2D backend, remembered between runs, and the pipeline built from it
with the builders ``ppt-mocap run`` uses (:func:`core.capture.setup.open_sources`,
:func:`core.estimators.build_backend`)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields

from core.estimators import RUN_BACKENDS, build_backend

log = logging.getLogger(__name__)

#: 2D backends the app offers, those of ``ppt-mocap run``: the demo PPT (demo weights or a labelled random init),
#: PPT with a weights file, the studio's exact 2D (studio only), precomputed OpenPose JSON, MediaPipe (optional).
GUI_BACKENDS = RUN_BACKENDS
STUDIO_PRESETS = ("ring4", "stereo2", "ring8", "high-low4")


@dataclass
class RunConfig:
    """One run of the live pipeline.

    Attributes:
        studio: virtual studio camera preset (``None``: use ``sources``).
        studio_motion: the studio actor's motion.
        sources: ``NAME=SPEC`` per camera (device index, URL, video file, image folder), as ``ppt-mocap run``.
        calibration: calibration file (required with ``sources``; optional with the studio).
        backend: one of :data:`GUI_BACKENDS`; weights: PPT weights file; keypoints: OpenPose JSON folder.
        fps: nominal rate; min_confidence, outliers, filter: triangulation and filter settings.
    """

    studio: str | None = "ring4"
    studio_motion: str = "walk"
    sources: list[str] = field(default_factory=list)
    calibration: str | None = None
    backend: str = "demo"
    weights: str | None = None
    keypoints: str | None = None
    fps: float | None = None
    min_confidence: float = 0.3
    outliers: str = "worst-view"
    filter: str = "auto"  # One-Euro live, zero-phase Butterworth when re-processing (PipelineSettings)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """Known fields of ``data`` (unknown ones are ignored, so old settings never break the app)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def describe(self) -> str:
        src = f"studio {self.studio} ({self.studio_motion})" if self.studio else f"{len(self.sources)} source(s)"
        return f"{src}, backend {self.backend}"


def build_pipeline(config: RunConfig, events=None):
    """A ready (not started) :class:`core.pipeline.Pipeline` from the same builders as ``ppt-mocap run``; errors
    name what is wrong (``ValueError``, ``FileNotFoundError``)."""
    from core.capture.setup import open_sources
    from core.pipeline import Pipeline
    from core.processing import PipelineSettings

    setup = open_sources(studio=config.studio, studio_motion=config.studio_motion, sources=list(config.sources),
                         calibration=config.calibration, fps=config.fps)
    estimator = build_estimator(config, setup.rig, setup.virtual_rig)
    settings = PipelineSettings(mode="live", fps=config.fps, min_confidence=config.min_confidence,
                                outliers=None if config.outliers == "none" else config.outliers,
                                filter=None if config.filter == "none" else config.filter, torch_threads=1)
    return Pipeline(setup.sources, setup.rig, estimator, settings, events=events)


def build_estimator(config: RunConfig, rig, virtual_rig=None, offline: bool = False):
    """The 2D backend of ``config`` for ``rig``'s cameras (``virtual_rig``: the live studio, for studio-truth);
    also used to re-process a recorded session (``offline=True``)."""
    return build_backend(config.backend, rig, virtual_rig=virtual_rig, weights=config.weights,
                         keypoints=config.keypoints, num_threads=1, device="auto", offline=offline)
