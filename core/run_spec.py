"""One run, whoever starts it: ``ppt-mocap run``, ``ppt-mocap replay --reprocess`` and the app all convert their
options into a frozen :class:`RunSpec`, and every run is built from it by the same functions: :func:`open_sources`
(cameras, URLs, files or the virtual studio, with their calibration), :meth:`RunSpec.build_backend` (the one
backend factory, :func:`core.estimators.build_backend`) and :meth:`RunSpec.pipeline_settings`. So the three accept
the same values and fail with the same messages. Nothing is started here: sources begin capturing when the
pipeline starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.capture.sources import Source, source_from_spec
from core.estimators import build_backend
from core.estimators.base import Estimator
from core.geometry import CameraRig
from core.pipeline import match_sources_to_rig
from core.processing import PipelineSettings
from core.studio.sources import make_virtual_rig, studio_sources


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides one run.

    Attributes:
        studio: virtual studio camera preset (``ring4``, ...), exclusive with ``sources``; studio_motion: its actor's
            motion.
        sources: ``NAME=SPEC`` per camera (device index with optional mode, URL, video file, image folder).
        calibration: calibration file (required with ``sources``; optional with the studio).
        fps: nominal frame rate (default: from the sources); offline: files only, every frame in order.
        backend: 2D backend (:data:`core.estimators.BACKENDS`); preset, weights, keypoints, recorded: its inputs
            (:func:`core.estimators.build_backend`); torch_threads, device: PyTorch's.
        detectors: person detectors of top-down backends (:func:`core.locate.create_detectors`).
        min_confidence, outliers: triangulation; filter: ``auto``, ``one-euro``, ``butterworth`` or ``none``, with
            optional one_euro_min_cutoff (Hz), one_euro_beta (Hz per m/s), butterworth_cutoff (Hz).
    """

    studio: str | None = None
    studio_motion: str = "walk"
    sources: tuple[str, ...] = ()
    calibration: str | None = None
    fps: float | None = None
    offline: bool = False
    backend: str = "demo"
    preset: str = "multiview_ppt_s"
    weights: str | None = None
    keypoints: str | None = None
    recorded: str | None = None
    torch_threads: int | None = 1
    device: str = "auto"
    detectors: str = "auto"
    min_confidence: float = 0.3
    outliers: str | None = "worst-view"
    filter: str | None = "auto"
    one_euro_min_cutoff: float | None = None
    one_euro_beta: float | None = None
    butterworth_cutoff: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(str(s) for s in self.sources))
        for name in ("calibration", "weights", "keypoints"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, str(value))

    def as_dict(self) -> dict:
        return asdict(self)

    def pipeline_settings(self, mode: str | None = None) -> PipelineSettings:
        """Triangulation and filter settings; ``mode`` ``"live"``/``"offline"`` (default from ``offline``)."""
        tuned = {k: v for k, v in (("one_euro_min_cutoff", self.one_euro_min_cutoff),
                                   ("one_euro_beta", self.one_euro_beta),
                                   ("butterworth_cutoff", self.butterworth_cutoff)) if v is not None}
        return PipelineSettings(mode=mode or ("offline" if self.offline else "live"), fps=self.fps,
                                min_confidence=self.min_confidence,
                                outliers=self.outliers, filter=self.filter,  # "none" -> None there
                                torch_threads=self.torch_threads, detectors=self.detectors, **tuned)

    def open_sources(self) -> "CaptureSetup":
        return open_sources(studio=self.studio, studio_motion=self.studio_motion, sources=self.sources,
                            calibration=self.calibration, fps=self.fps, offline=self.offline)

    def build_backend(self, rig: CameraRig | None = None, virtual_rig=None, session=None,
                      offline: bool | None = None) -> Estimator:
        """The 2D backend for ``rig``'s cameras (``virtual_rig``: the live studio; ``session``: a recording being
        re-processed, which is offline)."""
        offline = self.offline or session is not None if offline is None else offline
        return build_backend(self.backend, rig, virtual_rig=virtual_rig, session=session, recorded=self.recorded,
                             preset=self.preset, weights=self.weights, keypoints=self.keypoints,
                             num_threads=self.torch_threads, device=self.device, offline=offline)


@dataclass
class CaptureSetup:
    """``sources`` in rig order where known; ``rig`` their calibration; ``virtual_rig`` the studio (or ``None``)."""

    sources: list[Source]
    rig: CameraRig
    virtual_rig: object | None = None


def parse_source_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``["cam_01=0", "cam_02=rtsp://..."]`` -> ``[(name, spec), ...]``."""
    out = []
    for spec in specs:
        name, sep, value = str(spec).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"source {spec!r}: expected NAME=DEVICE|URL|FILE, e.g. cam_01=0")
        out.append((name.strip(), value.strip()))
    return out


def open_sources(studio: str | None = None, studio_motion: str = "walk", sources: Sequence[str] = (),
                 calibration: str | Path | None = None, fps: float | None = None,
                 offline: bool = False) -> CaptureSetup:
    """Build (not start) the sources of a run.

    Args:
        studio: virtual studio camera preset (``ring4``, ...); exclusive with ``sources``.
        studio_motion: the studio actor's motion.
        sources: ``NAME=SPEC`` per camera (device index with optional mode, URL, video file, image folder).
        calibration: calibration file; required with ``sources`` (names must match its cameras), optional with
            the studio (default: the studio's exact cameras).
        fps: nominal frame rate (default: from the sources).
        offline: files only, every frame as fast as possible instead of in real time.
    """
    if studio and sources:
        raise ValueError("use either the studio or camera sources, not both")
    if not studio and not sources:
        raise ValueError("no sources: give NAME=SPEC per camera, or a studio preset")
    if calibration is not None and not Path(calibration).is_file():
        raise FileNotFoundError(f"calibration file not found: {calibration}")
    if studio:
        vrig = make_virtual_rig(studio, fps=fps or 30.0, motion=studio_motion, realtime=not offline)
        rig = vrig.studio.rig if calibration is None else CameraRig.load(calibration)
        return CaptureSetup(studio_sources(vrig), rig, vrig)
    specs = parse_source_specs(sources)
    if calibration is None:
        raise ValueError("a calibration file is required with camera sources (the cameras must be calibrated)")
    rig = CameraRig.load(calibration)
    match_sources_to_rig([n for n, _ in specs], rig)  # name mismatches fail before anything opens
    built = [source_from_spec(n, s, realtime=not offline, fps=fps) for n, s in specs]
    if offline and any(s.live for s in built):
        raise ValueError("offline processing works with video files and image folders only")
    return CaptureSetup(built, rig)
