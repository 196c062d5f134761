"""Open the sources of one run - the virtual studio or named cameras/URLs/files - with their calibration.

Shared by ``ppt-mocap run`` and the desktop app, so both accept the same specs and fail with the same messages.
Nothing is started here: sources begin capturing when the pipeline starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.capture.sources import Source, source_from_spec
from core.geometry import CameraRig


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
    from core.pipeline import match_sources_to_rig

    if studio and sources:
        raise ValueError("use either the studio or camera sources, not both")
    if not studio and not sources:
        raise ValueError("no sources: give NAME=SPEC per camera, or a studio preset")
    if calibration is not None and not Path(calibration).is_file():
        raise FileNotFoundError(f"calibration file not found: {calibration}")
    if studio:
        from core.capture.studio import make_virtual_rig, studio_sources

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
