"""Virtual camera rigs: named layouts with realistic lenses, or a user's own calibration file.

Presets (world Z up, metres, cameras looking at the capture volume around the origin):

* ``ring4``: four cameras on a 4 m circle at 2.2 m height, 90 degrees apart;
* ``stereo2``: two cameras 1.8 m apart, 4 m in front of the volume, at 1.5 m;
* ``ring8``: eight cameras on a 4.5 m circle, alternating 1.2 m and 2.6 m high;
* ``high-low4``: four cameras at the corners of the volume, two high (2.8 m) and two low (0.5 m).

Every camera has its own slightly different intrinsics and a mild OpenCV radial-tangential distortion
(barrel, monotonic over the whole image), fixed by a seed so a preset is the same rig every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.geometry.camera import Camera, CameraRig
from core.geometry.calibration_io import CalibrationFileError, load_rig

PRESETS = ("ring4", "stereo2", "ring8", "high-low4")
LOOK_AT = np.array([0.0, 0.0, 0.9])


def realistic_intrinsics(size: tuple[int, int], rng: np.random.Generator, hfov_deg: float = 64.0,
                         distortion: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A webcam-like ``K`` (3, 3) and OpenCV distortion (5,) for an image ``size`` = (width, height)."""
    W, H = size
    f = (W / 2) / np.tan(np.radians(hfov_deg * rng.uniform(0.96, 1.04)) / 2)
    K = np.array([[f, 0.0, W / 2 + rng.uniform(-0.01, 0.01) * W],
                  [0.0, f * rng.uniform(0.997, 1.003), H / 2 + rng.uniform(-0.01, 0.01) * H],
                  [0.0, 0.0, 1.0]])
    if not distortion:
        return K, np.zeros(5)
    k1 = rng.uniform(-0.12, -0.04)
    # Keep r(1 + k1 r^2 + k2 r^4) monotonic everywhere: 9 k1^2 < 20 k2.
    k2 = rng.uniform(0.5, 1.5) * 0.45 * k1 * k1 + rng.uniform(0.0, 0.03)
    dist = np.array([k1, k2, rng.uniform(-8e-4, 8e-4), rng.uniform(-8e-4, 8e-4), 0.0])
    return K, dist


def _layout(preset: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(position, target) per camera."""
    if preset == "ring4":
        az = np.radians(45 + 90 * np.arange(4))
        return [(np.array([4.0 * np.cos(a), 4.0 * np.sin(a), 2.2]), LOOK_AT) for a in az]
    if preset == "stereo2":
        return [(np.array([x, -4.0, 1.5]), LOOK_AT) for x in (-0.9, 0.9)]
    if preset == "ring8":
        az = np.radians(22.5 + 45 * np.arange(8))
        return [(np.array([4.5 * np.cos(a), 4.5 * np.sin(a), 1.2 if i % 2 else 2.6]), LOOK_AT)
                for i, a in enumerate(az)]
    if preset == "high-low4":
        az = np.radians(45 + 90 * np.arange(4))
        return [(np.array([4.2 * np.cos(a), 4.2 * np.sin(a), 2.8 if i % 2 == 0 else 0.5]),
                 LOOK_AT if i % 2 == 0 else np.array([0.0, 0.0, 1.0])) for i, a in enumerate(az)]
    raise ValueError(f"unknown rig preset {preset!r}; expected one of {', '.join(PRESETS)}")


def make_rig(preset: str, size: tuple[int, int] = (640, 480), seed: int = 0, distortion: bool = True) -> CameraRig:
    """A named virtual rig (:data:`PRESETS`) with images of ``size`` = (width, height) pixels."""
    layout = _layout(preset)
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"image size must be (width, height) of at least 16 px, got {size}")
    rng = np.random.default_rng([seed, PRESETS.index(preset)])
    cams = []
    for i, (pos, target) in enumerate(layout):
        K, dist = realistic_intrinsics(tuple(size), rng, distortion=distortion)
        cam = Camera.look_at(f"cam{i + 1:02d}", tuple(size), K, pos, target, dist=dist)
        # Round-trip the rotation through its Rodrigues vector: exactly what a saved calibration holds.
        cams.append(Camera.from_rodrigues(cam.name, cam.size, cam.K, cam.dist, cam.rvec, cam.t))
    return CameraRig(cams, units="m", up="z", metadata={"source": f"ppt-mocap studio preset {preset}"})


def load_studio_rig(path) -> CameraRig:
    """A user's calibration file as a studio rig (metres, Z up).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file does not parse, or its world is not Z-up.
    """
    path = Path(path)
    try:
        rig = load_rig(path)
    except CalibrationFileError as exc:
        raise ValueError(f"calibration file {path} could not be read: {exc}") from exc
    if rig.up.lstrip("+") != "z":
        raise ValueError(f"{path}: the studio needs a Z-up world (floor at z = 0), but the rig's up axis is {rig.up!r}")
    return rig.to_units("m")


def rig_center(rig: CameraRig) -> np.ndarray:
    """The floor point (2,) nearest to all cameras' optical axes (the middle of the capture volume)."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in rig:
        d = cam.R[2]  # optical axis in the world frame
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ cam.center
    try:
        p = np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        p = rig.centers.mean(axis=0)
    return p[:2]
