"""What the app runs: sources, calibration and 2D backend, remembered between runs, and the pipeline built from it
through the command line's own builder (:func:`app.commands.run.build`)."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

log = logging.getLogger(__name__)

#: 2D backends the app offers: the demo PPT (demo weights or a labelled random init), PPT with a weights file,
#: the studio's exact 2D (studio only), precomputed OpenPose JSON, MediaPipe (optional extra).
GUI_BACKENDS = ("demo", "ppt", "studio-truth", "openpose-json", "mediapipe")
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
    filter: str = "one-euro"

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
    """A ready (not started) :class:`core.pipeline.Pipeline`; errors name what is wrong (``ValueError``,
    ``FileNotFoundError``)."""
    from app.commands.run import build
    from core.pipeline import Pipeline

    if config.backend not in GUI_BACKENDS:
        raise ValueError(f"unknown backend {config.backend!r}; expected one of {GUI_BACKENDS}")
    if config.calibration and not Path(config.calibration).is_file():
        raise FileNotFoundError(f"calibration file not found: {config.calibration}")
    # The CLI builder makes the sources, rig and settings. Backends it does not know (the demo PPT, our
    # self-describing weights) are built here and replace its estimator; it then builds the cheapest one
    # (the studio's exact 2D; with cameras a PPT it never runs).
    own = config.backend == "demo" or (config.backend == "ppt" and config.weights)
    cli_backend = ("studio-truth" if config.studio else "ppt") if own else config.backend
    args = argparse.Namespace(
        studio=config.studio, studio_motion=config.studio_motion, source=list(config.sources),
        calibration=Path(config.calibration) if config.calibration else None, fps=config.fps, offline=False,
        backend=cli_backend, preset="multiview_ppt_s", weights=None,
        keypoints=Path(config.keypoints) if config.keypoints else None,
        torch_threads=1, outliers=config.outliers, min_confidence=config.min_confidence, filter=config.filter)
    if own:
        from core.estimators.demo import create_demo_estimator

        # Check the weights before opening any camera.
        estimator = (create_demo_estimator(num_threads=1, device="auto") if config.backend == "demo"
                     else _weights_estimator(Path(config.weights)))
        sources, rig, _, settings = build(args)
    else:
        sources, rig, estimator, settings = build(args)
    return Pipeline(sources, rig, estimator, settings, events=events)


def _weights_estimator(path: Path):
    """PPT on ``path``: our self-describing file, else an official checkpoint of ``multiview_ppt_s``."""
    from core.estimators import create_estimator
    from core.estimators.demo import create_demo_estimator

    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return create_demo_estimator(path, num_threads=1, device="auto")
    except ValueError as exc:
        if "expected a ppt-mocap weights file" not in str(exc):
            raise
    return create_estimator("ppt", preset="multiview_ppt_s", weights=path, num_threads=1)


def build_estimator(config: RunConfig, rig):
    """The 2D backend of ``config`` alone (for re-processing a recorded session with ``rig``'s cameras)."""
    from core.estimators import create_estimator
    from core.estimators.demo import create_demo_estimator

    if config.backend == "demo":
        return create_demo_estimator(num_threads=1, device="auto")
    if config.backend == "ppt":
        if config.weights:
            return _weights_estimator(Path(config.weights))
        return create_estimator("ppt", preset="multiview_ppt_s", num_threads=1)
    if config.backend == "openpose-json":
        if not config.keypoints:
            raise ValueError("the openpose-json backend needs a keypoint folder (Setup…)")
        return create_estimator("openpose-json", cameras=list(rig.names), root=Path(config.keypoints))
    if config.backend == "studio-truth":
        raise ValueError("the studio-truth backend works with the live virtual studio only; choose demo or ppt")
    return create_estimator(config.backend)
