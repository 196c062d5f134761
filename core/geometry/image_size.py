"""One policy for images whose size differs from their calibration (the pipeline and the recorder share it).

A camera's frames may not have the size its calibration was made at: video encoders pad or crop to a multiple of
16 (1080 <-> 1088), a phone or webcam may deliver another resolution of the same sensor, or the wrong camera is
plugged in. :func:`reconcile_size` decides, per camera:

* ``"match"``: same size, nothing to do;
* ``"crop-pad"``: each side differs by at most :data:`CROP_PAD_MAX_PX` pixels: the same pixels minus or plus a
  border at the right/bottom (what encoders do), so the intrinsics stay valid as they are; the camera takes the
  frames' size and a warning is given;
* ``"scale"``: same aspect ratio (within :data:`ASPECT_TOLERANCE`), another resolution: the intrinsics are scaled
  (focal lengths and principal point, pixel-centre convention; distortion coefficients are unitless and stay) and a
  warning is given;
* ``"refuse"``: anything else (another aspect ratio, a large crop): the calibration does not describe these
  frames. The pipeline refuses before capture starts (:class:`SizeMismatchError`); a recorder still records every
  frame it is given and stores the mismatch in the session's manifest.

Every mismatch is a :class:`SizeMismatch`, stored in ``session.json`` (``size_mismatches``) and shown as a warning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.geometry.camera import Camera, CameraRig

#: Largest per-side difference (px) read as a crop or padding of the same pixels.
CROP_PAD_MAX_PX = 16
#: Relative aspect-ratio difference under which another resolution is a scaled copy of the calibrated one.
ASPECT_TOLERANCE = 0.01
ACTIONS = ("match", "crop-pad", "scale", "refuse")


class SizeMismatchError(ValueError):
    """Frames whose size the calibration cannot describe (another aspect ratio, a large crop)."""


@dataclass(frozen=True)
class SizeMismatch:
    """A camera whose frames differ in size from its calibration, and what was done about it.

    Attributes:
        camera: camera name.
        calibrated: (width, height) in the calibration.
        actual: (width, height) of the frames.
        action: ``"crop-pad"``, ``"scale"`` or ``"refuse"`` (see the module).
    """

    camera: str
    calibrated: tuple[int, int]
    actual: tuple[int, int]
    action: str

    @property
    def message(self) -> str:
        cw, ch = self.calibrated
        aw, ah = self.actual
        head = f"camera {self.camera!r}: frames are {aw}x{ah} px but the calibration says {cw}x{ch}"
        if self.action == "crop-pad":
            return (f"{head}: {abs(aw - cw)} x {abs(ah - ch)} px of crop/padding at the right/bottom (as video "
                    "encoders do); the calibration's intrinsics are used unchanged")
        if self.action == "scale":
            return (f"{head}: the same aspect ratio, so the intrinsics are scaled by {aw / cw:.4g} x {ah / ch:.4g}; "
                    "calibrating at this resolution is more accurate")
        return (f"{head}: another aspect ratio or a crop of more than {CROP_PAD_MAX_PX} px, so the calibration does "
                "not describe these frames; calibrate this camera at this resolution, set the camera to "
                f"{cw}x{ch}, or check that the source is the calibrated camera")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["calibrated"], d["actual"] = list(self.calibrated), list(self.actual)
        d["message"] = self.message
        return d


def classify_size(calibrated, actual) -> str:
    """``"match"``, ``"crop-pad"``, ``"scale"`` or ``"refuse"`` for frames of size ``actual`` (w, h) of a camera
    calibrated at ``calibrated`` (w, h)."""
    cw, ch = (int(round(v)) for v in calibrated)
    aw, ah = (int(round(v)) for v in actual)
    if min(cw, ch, aw, ah) <= 0:
        raise ValueError(f"image sizes must be positive (width, height), got calibrated {calibrated}, actual {actual}")
    if (aw, ah) == (cw, ch):
        return "match"
    if abs(aw - cw) <= CROP_PAD_MAX_PX and abs(ah - ch) <= CROP_PAD_MAX_PX:
        return "crop-pad"
    if abs((aw / ah) / (cw / ch) - 1.0) <= ASPECT_TOLERANCE:
        return "scale"
    return "refuse"


def scale_intrinsics(camera: Camera, size) -> Camera:
    """``camera`` at another resolution ``size`` (w, h) of the same sensor: focal lengths and principal point scaled
    (pixel-centre convention: a pixel centre x maps to (x + 0.5) s - 0.5); distortion and pose unchanged."""
    w, h = (int(round(v)) for v in size)
    sx, sy = w / camera.size[0], h / camera.size[1]
    K = np.array(camera.K, dtype=np.float64, copy=True)
    K[0, 0], K[0, 1], K[0, 2] = K[0, 0] * sx, K[0, 1] * sx, (K[0, 2] + 0.5) * sx - 0.5
    K[1, 1], K[1, 2] = K[1, 1] * sy, (K[1, 2] + 0.5) * sy - 0.5
    return camera.with_(size=(w, h), K=K)


def reconcile_size(camera: Camera, actual) -> tuple[Camera, SizeMismatch | None]:
    """The camera to use for frames of size ``actual`` (w, h), and the mismatch (None when the sizes match).

    For ``"refuse"`` the camera is returned unchanged (the caller decides: the pipeline raises, a recorder records
    and notes it)."""
    action = classify_size(camera.size, actual)
    if action == "match":
        return camera, None
    size = (int(round(actual[0])), int(round(actual[1])))
    mismatch = SizeMismatch(camera.name, (int(camera.size[0]), int(camera.size[1])), size, action)
    if action == "crop-pad":
        return camera.with_(size=size), mismatch
    if action == "scale":
        return scale_intrinsics(camera, size), mismatch
    return camera, mismatch


def reconcile_rig(rig: CameraRig, sizes: dict, refuse: bool = True) -> tuple[CameraRig, list[SizeMismatch]]:
    """Apply :func:`reconcile_size` to the cameras whose frame size is known (``sizes``: name -> (w, h); others
    keep their calibration). Returns the adapted rig and the mismatches.

    Raises:
        SizeMismatchError: with ``refuse`` (the pipeline, before capture), when a camera's frames cannot be used
            with its calibration; the message names every such camera and what to do.
    """
    cams, mismatches = [], []
    for cam in rig.cameras:
        size = sizes.get(cam.name)
        new, mismatch = (cam, None) if size is None else reconcile_size(cam, size)
        cams.append(new)
        if mismatch is not None:
            mismatches.append(mismatch)
    refused = [m for m in mismatches if m.action == "refuse"]
    if refuse and refused:
        raise SizeMismatchError("; ".join(m.message for m in refused))
    return CameraRig(cams, units=rig.units, up=rig.up, metadata=dict(rig.metadata)), mismatches
