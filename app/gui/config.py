"""What the app runs: sources, calibration and 2D backend, remembered between runs, converted to the
:class:`core.run_spec.RunSpec` that ``ppt-mocap run`` and ``ppt-mocap replay`` build their runs from."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields

from core.estimators import RUN_BACKENDS
from core.run_spec import RunSpec

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

    def to_spec(self) -> RunSpec:
        """The run this configuration describes (one PyTorch thread beside the capture threads and the GUI)."""
        return RunSpec(studio=self.studio, studio_motion=self.studio_motion, sources=tuple(self.sources),
                       calibration=self.calibration, fps=self.fps, backend=self.backend, weights=self.weights,
                       keypoints=self.keypoints, torch_threads=1, min_confidence=self.min_confidence,
                       outliers=self.outliers, filter=self.filter)

    def describe(self) -> str:
        src = f"studio {self.studio} ({self.studio_motion})" if self.studio else f"{len(self.sources)} source(s)"
        return f"{src}, backend {self.backend}"


def build_pipeline(config: RunConfig, events=None):
    """A ready (not started) :class:`core.pipeline.Pipeline` of ``config``; errors name what is wrong
    (``ValueError``, ``FileNotFoundError``)."""
    from core.pipeline import Pipeline

    spec = config.to_spec()
    setup = spec.open_sources()
    estimator = spec.build_backend(setup.rig, setup.virtual_rig)
    return Pipeline(setup.sources, setup.rig, estimator, spec.pipeline_settings("live"), events=events)

