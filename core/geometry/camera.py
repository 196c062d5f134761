"""Pinhole cameras with lens distortion, and ordered rigs of them.

Conventions (used everywhere in ppt-mocap):

* world -> camera: ``X_cam = R @ X_world + t`` (OpenCV), ``R`` (3, 3), ``t`` (3,) in the rig's length unit;
* pixels: ``(x, y)`` with the origin at the centre of the top-left pixel, ``size = (width, height)``;
* image points ``(N, 2)`` per camera, ``(C, N, 2)`` for a rig; world points ``(N, 3)``; missing data is NaN.

Three lens models are supported, all evaluated with vectorised numpy so that NaN propagates:

* ``"opencv"``: OpenCV's radial-tangential model ``(k1, k2, p1, p2[, k3])``;
* ``"fisheye"``: OpenCV's equidistant fisheye model ``(k1, k2, k3, k4)``;
* ``"h36m"``: the Human3.6M model (radial ``k1..k3``, its own tangential terms ``p1, p2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import numpy as np

from core.geometry.alignment import rodrigues_to_matrix

DISTORTION_MODELS = ("opencv", "fisheye", "h36m")
UNIT_SCALE_TO_M = {"m": 1.0, "cm": 0.01, "mm": 0.001}


def matrix_to_rodrigues(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> Rodrigues vector (3,) (angle in radians times unit axis)."""
    R = np.asarray(R, dtype=np.float64)
    cos_theta = np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos_theta)
    if theta < 1e-12:
        return np.zeros(3)
    if np.pi - theta < 1e-6:
        # Near 180 degrees: axis from the symmetric part.
        B = (R + np.eye(3)) / 2
        axis = np.sqrt(np.clip(np.diag(B), 0, None))
        i = int(np.argmax(axis))
        axis = B[i] / axis[i]
        return axis / np.linalg.norm(axis) * theta
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2 * np.sin(theta))
    return w * theta


def _as_points(points: np.ndarray, dim: int, what: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == dim:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{what}: expected an array of shape (N, {dim}), got shape {np.shape(points)}")
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Attributes:
        name: camera name (unique within a rig).
        size: image ``(width, height)`` in pixels.
        K: intrinsic matrix (3, 3), pixels.
        dist: distortion coefficients of ``distortion_model``: opencv (k1, k2, p1, p2[, k3]), fisheye
            (k1, k2, k3, k4), h36m (k1, k2, k3, p1, p2).
        R: rotation world -> camera (3, 3).
        t: translation world -> camera (3,), rig length unit.
        distortion_model: ``"opencv"``, ``"fisheye"`` or ``"h36m"``.
    """

    name: str
    size: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    distortion_model: str = "opencv"

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if K.shape != (3, 3):
            raise ValueError(f"camera {self.name!r}: K must be 3x3, got shape {K.shape}")
        if R.shape != (3, 3):
            raise ValueError(f"camera {self.name!r}: R must be 3x3, got shape {R.shape}")
        if t.shape != (3,):
            raise ValueError(f"camera {self.name!r}: t must have 3 values, got shape {t.shape}")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
            raise ValueError(f"camera {self.name!r}: R is not a rotation matrix (R R^T != I or det < 0)")
        if self.distortion_model not in DISTORTION_MODELS:
            raise ValueError(
                f"camera {self.name!r}: unknown distortion model {self.distortion_model!r}, "
                f"expected one of {DISTORTION_MODELS}"
            )
        expected = {"opencv": (4, 5, 8), "fisheye": (4,), "h36m": (5,)}[self.distortion_model]
        if self.distortion_model == "opencv" and dist.size == 0:
            dist = np.zeros(5)
        if dist.size not in expected:
            raise ValueError(
                f"camera {self.name!r}: {self.distortion_model} distortion needs {expected} coefficients, "
                f"got {dist.size}"
            )
        if self.distortion_model == "opencv" and dist.size == 4:
            dist = np.append(dist, 0.0)
        size = tuple(int(round(float(v))) for v in self.size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"camera {self.name!r}: size must be (width, height) > 0, got {self.size}")
        for attr, value in (("K", K), ("R", R), ("t", t), ("dist", dist), ("size", size)):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, attr, value)

    # ----------------------------------------------------------------------------------------------
    # Construction helpers
    @classmethod
    def from_rodrigues(cls, name: str, size, K, dist, rvec, tvec, **kwargs) -> "Camera":
        """Camera from a Rodrigues rotation vector (world -> camera) and translation."""
        return cls(name=name, size=tuple(size), K=K, dist=dist, R=rodrigues_to_matrix(rvec), t=tvec, **kwargs)

    @classmethod
    def look_at(
        cls,
        name: str,
        size: tuple[int, int],
        K: np.ndarray,
        position: np.ndarray,
        target: np.ndarray,
        up: np.ndarray = (0.0, 0.0, 1.0),
        dist: np.ndarray | None = None,
        distortion_model: str = "opencv",
    ) -> "Camera":
        """Camera at ``position`` looking at ``target`` with the image's up roughly along ``up`` (world)."""
        position = np.asarray(position, dtype=np.float64)
        z = np.asarray(target, dtype=np.float64) - position
        z /= np.linalg.norm(z)
        x = np.cross(z, np.asarray(up, dtype=np.float64))
        if np.linalg.norm(x) < 1e-9:
            raise ValueError(f"camera {name!r}: viewing direction is parallel to the up vector")
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        R = np.stack([x, y, z])
        if dist is None:
            dist = np.zeros(4 if distortion_model == "fisheye" else 5)
        return cls(name=name, size=size, K=K, dist=dist, R=R, t=-R @ position, distortion_model=distortion_model)

    def with_(self, **changes) -> "Camera":
        """A copy with some fields replaced."""
        return replace(self, **changes)

    # ----------------------------------------------------------------------------------------------
    # Properties
    @property
    def fisheye(self) -> bool:
        return self.distortion_model == "fisheye"

    @property
    def rvec(self) -> np.ndarray:
        """Rodrigues vector of ``R`` (3,)."""
        return matrix_to_rodrigues(self.R)

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates (3,): ``-R^T t``."""
        return -self.R.T @ self.t

    @property
    def projection_matrix(self) -> np.ndarray:
        """``K [R | t]`` (3, 4), ignoring distortion."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def extrinsic_matrix(self) -> np.ndarray:
        """``[R | t]`` (3, 4)."""
        return np.hstack([self.R, self.t[:, None]])

    # ----------------------------------------------------------------------------------------------
    # Projection
    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> camera-frame points (N, 3)."""
        points = _as_points(points, 3, f"camera {self.name!r} world_to_camera")
        R, t = self.R, self.t
        x, y, z = points[:, 0], points[:, 1], points[:, 2]
        # Element-wise rather than a (N, 3) @ (3, 3) product: several times faster for large N.
        return np.stack([R[i, 0] * x + R[i, 1] * y + R[i, 2] * z + t[i] for i in range(3)], axis=1)

    @np.errstate(over="ignore", invalid="ignore")
    def distort(self, normalized: np.ndarray) -> np.ndarray:
        """Ideal normalised coordinates (N, 2) (``x/z, y/z``) -> distorted normalised coordinates (N, 2). A point
        on the camera plane (a degenerate triangulation) gives inf/NaN, silently: callers test finiteness."""
        xy = np.asarray(normalized, dtype=np.float64)
        x, y = xy[..., 0], xy[..., 1]
        d = self.dist
        r2 = x * x + y * y
        if self.distortion_model == "opencv":
            k1, k2, p1, p2, k3 = d[:5]
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            if d.size == 8:
                radial = radial / (1 + r2 * (d[5] + r2 * (d[6] + r2 * d[7])))
            xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        elif self.distortion_model == "fisheye":
            r = np.sqrt(r2)
            theta = np.arctan(r)
            t2 = theta * theta
            theta_d = theta * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))))
            scale = np.where(r > 1e-12, theta_d / np.where(r > 1e-12, r, 1.0), 1.0)
            xd, yd = x * scale, y * scale
        else:  # h36m
            k1, k2, k3, p1, p2 = d
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            tan = p1 * y + p2 * x
            xd = x * (radial + tan) + p2 * r2
            yd = y * (radial + tan) + p1 * r2
        return np.stack([xd, yd], axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixels (N, 2), with distortion. Points behind the camera give NaN."""
        cam = self.world_to_camera(points)
        z = cam[:, 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            normalized = cam[:, :2] / z[:, None]
        normalized[~(z > 0)] = np.nan
        distorted = self.distort(normalized)
        return self._normalized_to_pixels(distorted)

    def _normalized_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        K = self.K
        u = K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2]
        v = K[1, 1] * xy[..., 1] + K[1, 2]
        return np.stack([u, v], axis=-1)

    def pixels_to_normalized_distorted(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) -> distorted normalised coordinates (..., 2) (inverse of K only)."""
        px = np.asarray(pixels, dtype=np.float64)
        K = self.K
        y = (px[..., 1] - K[1, 2]) / K[1, 1]
        x = (px[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
        return np.stack([x, y], axis=-1)

    def undistort_normalized(self, pixels: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Pixels (..., 2) -> ideal (undistorted) normalised coordinates (..., 2).

        Fixed-point iteration (as OpenCV's ``undistortPoints``, run to convergence); Newton's method on
        the angle for the fisheye model. NaN in, NaN out.
        """
        xd = self.pixels_to_normalized_distorted(pixels)
        if not np.any(self.dist):
            return xd
        d = self.dist
        if self.distortion_model == "fisheye":
            rd = np.linalg.norm(xd, axis=-1)
            theta_d = np.clip(rd, -np.pi / 2, np.pi / 2)
            theta = theta_d.copy()
            for _ in range(iterations):
                t2 = theta * theta
                f = theta * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3])))) - theta_d
                df = 1 + t2 * (3 * d[0] + t2 * (5 * d[1] + t2 * (7 * d[2] + 9 * t2 * d[3])))
                theta = theta - f / df
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(rd > 1e-12, np.tan(theta) / np.where(rd > 1e-12, rd, 1.0), 1.0)
            return xd * scale[..., None]
        x = xd.copy()
        for _ in range(iterations):
            # x_{k+1} = x_k - (distort(x_k) - x_d): converges for the mild distortions of real lenses.
            step = self.distort(x) - xd
            x = x - step
            if not np.nanmax(np.abs(step), initial=0.0) > 1e-15:
                break
        return x

    def undistort_points(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) -> ideal pixels (N, 2) of the same ``K`` with the distortion removed."""
        return self._normalized_to_pixels(self.undistort_normalized(pixels))

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """Unit viewing rays (N, 3) in the world frame through pixels (N, 2) (distortion removed)."""
        xy = self.undistort_normalized(pixels)
        d_cam = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)
        d_world = d_cam @ self.R  # R^T d for row vectors
        return d_world / np.linalg.norm(d_world, axis=-1, keepdims=True)

    def scaled(self, factor: float) -> "Camera":
        """The same camera with its translation multiplied by ``factor`` (a length-unit change)."""
        return self.with_(t=self.t * factor)

    def __repr__(self) -> str:
        f = self.K[0, 0]
        return f"Camera({self.name!r}, size={self.size}, f={f:.1f}, center={np.round(self.center, 3).tolist()})"


@dataclass(eq=False)
class CameraRig:
    """Ordered cameras sharing one world frame.

    Attributes:
        cameras: the cameras, in a fixed order (the ``C`` axis of every ``(C, ...)`` array).
        units: length unit of translations and world points, ``"m"`` or ``"mm"``.
        up: the world's up axis, ``"x"``, ``"y"`` or ``"z"`` (with optional ``-``).
        metadata: other ``[metadata]`` entries of the calibration file (errors, board, origin...).
    """

    cameras: list[Camera]
    units: str = "m"
    up: str = "z"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cameras = list(self.cameras)
        if not self.cameras:
            raise ValueError("a camera rig needs at least one camera")
        names = [c.name for c in self.cameras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"camera names must be unique in a rig, repeated: {dupes}")
        if self.units not in ("m", "mm"):
            raise ValueError(f"rig units must be 'm' or 'mm', got {self.units!r}")
        if self.up.lstrip("+-") not in ("x", "y", "z"):
            raise ValueError(f"rig up axis must be x, y or z (optionally signed), got {self.up!r}")

    # Sequence behaviour --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            for cam in self.cameras:
                if cam.name == key:
                    return cam
            raise KeyError(f"no camera named {key!r} in the rig (cameras: {self.names})")
        return self.cameras[key]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def subset(self, names: Iterable[str | int]) -> "CameraRig":
        """A rig of some cameras, in the given order."""
        return CameraRig([self[n] for n in names], units=self.units, up=self.up, metadata=dict(self.metadata))

    # Geometry ------------------------------------------------------------------------------------
    @property
    def projection_matrices(self) -> np.ndarray:
        """``K [R | t]`` per camera, (C, 3, 4)."""
        return np.stack([c.projection_matrix for c in self.cameras])

    @property
    def centers(self) -> np.ndarray:
        """Camera centres in the world frame, (C, 3)."""
        return np.stack([c.center for c in self.cameras])

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> pixels (C, N, 2) in every camera (NaN behind a camera)."""
        points = _as_points(points, 3, "CameraRig.project")
        return np.stack([c.project(points) for c in self.cameras])

    def undistort_normalized(self, points_2d: np.ndarray) -> np.ndarray:
        """Pixels (C, N, 2) -> ideal normalised coordinates (C, N, 2)."""
        points_2d = self.check_points_2d(points_2d)
        return np.stack([c.undistort_normalized(p) for c, p in zip(self.cameras, points_2d)])

    def check_points_2d(self, points_2d: np.ndarray, what: str = "points_2d") -> np.ndarray:
        """Validate image points against the rig: shape (C, N, 2) with C = number of cameras."""
        arr = np.asarray(points_2d, dtype=np.float64)
        if arr.ndim != 3 or arr.shape[-1] != 2:
            raise ValueError(f"{what}: expected shape (C, N, 2), got {arr.shape}")
        if arr.shape[0] != len(self):
            raise ValueError(
                f"{what}: has {arr.shape[0]} cameras but the rig has {len(self)} ({', '.join(self.names)})"
            )
        return arr

    def to_units(self, units: str) -> "CameraRig":
        """The rig with translations converted to ``units`` ("m" or "mm"): an explicit unit change."""
        if units not in ("m", "mm"):
            raise ValueError(f"units must be 'm' or 'mm', got {units!r}")
        factor = UNIT_SCALE_TO_M[self.units] / UNIT_SCALE_TO_M[units]
        return CameraRig([c.scaled(factor) for c in self.cameras], units=units, up=self.up,
                         metadata=dict(self.metadata))

    @property
    def up_vector(self) -> np.ndarray:
        """The world's up direction (3,)."""
        axis = self.up.lstrip("+-")
        v = np.zeros(3)
        v["xyz".index(axis)] = -1.0 if self.up.startswith("-") else 1.0
        return v

    # Files ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path, units: str | None = None, **options) -> "CameraRig":
        """Load a calibration file; the format is chosen from the file (see :func:`core.geometry.load_rig`).

        ``units`` converts to "m" or "mm"; ``options`` are format-specific (``camera_type``, ``subject``).
        """
        from core.geometry.calibration_io import load_rig  # the file formats build cameras: imported on use

        return load_rig(path, units=units, **options)

    def save(self, path) -> None:
        """Write the Anipose / Pose2Sim TOML layout (zero-padded ``[cam_00]`` sections, ``[metadata]``)."""
        from core.geometry.calibration_io import save_toml  # (see load)

        save_toml(self, path)

    def __repr__(self) -> str:
        return f"CameraRig({self.names}, units={self.units!r}, up={self.up!r})"

