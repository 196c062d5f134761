"""World frame from a board lying on the floor: origin, axes, up axis and units.

The new world has its origin at the board's first inner corner (optionally lowered by the board's
thickness), its first horizontal axis along the board's rows of corners (board x), and its up axis along
the board's normal, pointing to the side the cameras are on (so the world is never upside down). With
``up="z"`` the axes are (board x, up x board x, up); with ``up="y"`` (animation tools) they are
(board x, up, board x x up). Both are right-handed.
"""

from __future__ import annotations

import logging
from typing import Mapping

import numpy as np

from calibration.boards import Board
from calibration.detection import Detection
from calibration.extrinsics import ExtrinsicsResult, _inv, _kabsch, _pnp, _T
from core.geometry.camera import CameraRig
from core.geometry.triangulation import triangulate

log = logging.getLogger(__name__)

FLOOR_MAX_TILT_DEG = 20.0


def estimate_up(rig: CameraRig) -> np.ndarray:
    """Rough world up (3,) from upright cameras: minus the mean of the cameras' image-down axes."""
    down = np.stack([c.R[1] for c in rig.cameras])  # camera y axis (image down) in world coordinates
    v = -down.mean(axis=0)
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else np.array([0.0, 0.0, 1.0])


def find_floor_frame(result: ExtrinsicsResult, max_tilt_deg: float = FLOOR_MAX_TILT_DEG) -> int | None:
    """The calibration frame in which the board lay flattest (normal closest to the cameras' up), or None.

    Candidates must be seen by at least two cameras; ties go to more cameras, then the earlier frame.
    None when no board was within ``max_tilt_deg`` of horizontal (then pass a frame or use ``floor``).
    """
    up = estimate_up(result.rig)
    best, best_key = None, None
    for f, T in sorted(result.board_poses.items()):
        n = T[:3, 2]
        tilt = float(np.degrees(np.arccos(np.clip(abs(n @ up), 0, 1))))
        key = (round(tilt, 1), -len(result.board_cameras[f]), f)
        if best_key is None or key < best_key:
            best, best_key = f, key
    if best is None or best_key[0] > max_tilt_deg:
        log.info("no calibration frame shows the board within %.0f° of horizontal", max_tilt_deg)
        return None
    return best


def board_pose_in_world(rig: CameraRig, detections: Mapping[str, Detection], board: Board) -> np.ndarray:
    """Board -> world transform (4, 4) from one moment seen by one or more calibrated cameras.

    Two or more cameras: the corners are triangulated and the board fitted to them (Kabsch). One camera:
    PnP. Raises ``ValueError`` when no camera saw the board.
    """
    views = {n: d for n, d in detections.items() if d is not None and d.num_found >= 4}
    unknown = [n for n in views if n not in rig.names]
    if unknown:
        raise ValueError(f"floor images for camera(s) {unknown} that are not in the calibration ({rig.names})")
    if not views:
        raise ValueError("the floor board was not seen by any camera")
    obj = board.object_points()
    if len(views) >= 2:
        pts = np.full((len(rig), board.num_corners, 2), np.nan)
        for n, d in views.items():
            pts[rig.names.index(n)] = d.corners
        X = triangulate(rig, pts).points_3d
        ok = np.isfinite(X).all(axis=1)
        if ok.sum() >= 4:
            return _kabsch(obj[ok], X[ok])
    name, det = max(views.items(), key=lambda kv: kv[1].num_found)
    cam = rig[name]
    res = _pnp(cam.with_(R=np.eye(3), t=np.zeros(3)), det, obj)
    if res is None:
        raise ValueError(f"camera {name}: could not estimate the floor board's pose")
    return _inv(_T(cam.R, cam.t)) @ res[0]


def set_world_frame(rig: CameraRig, board_to_world: np.ndarray, *, up: str = "z", units: str = "m",
                    board_thickness: float = 0.0, source: str = "floor board") -> CameraRig:
    """A new rig whose world is the floor board's frame (see module doc), in ``units`` ("m" or "mm").

    Args:
        rig: calibrated rig (any world frame), metres.
        board_to_world: the floor board's pose in ``rig``'s world (4, 4).
        up: ``"z"`` or ``"y"``: which world axis points up.
        units: length unit of the result.
        board_thickness: metres; the origin is moved down by it so that z = 0 (or y = 0) is the floor.
    """
    if up not in ("z", "y"):
        raise ValueError(f"up axis {up!r}: expected 'z' or 'y'")
    if rig.units != "m":
        rig = rig.to_units("m")
    T = np.asarray(board_to_world, np.float64)
    bx, bz, origin = T[:3, 0], T[:3, 2], T[:3, 3]
    cams_side = np.mean([c.center for c in rig.cameras], axis=0) - origin
    n = bz if bz @ cams_side > 0 else -bz
    origin = origin - n * board_thickness
    ex = bx - (bx @ n) * n
    ex /= np.linalg.norm(ex)
    if up == "z":
        axes = np.stack([ex, np.cross(n, ex), n])
    else:
        axes = np.stack([ex, n, np.cross(ex, n)])
    # X_new = A (X_old - origin)  =>  X_cam = R A^T X_new + (R origin + t)
    cams = [c.with_(R=c.R @ axes.T, t=c.R @ origin + c.t) for c in rig.cameras]
    meta = dict(rig.metadata)
    meta["world"] = {"origin": f"{source}, first inner corner", "up": up, "board_thickness_m": board_thickness,
                     "note": "up points from the floor towards the cameras"}
    below = [c.name for c in cams if (c.center @ (np.eye(3)[2] if up == "z" else np.eye(3)[1])) < 0]
    if below:
        log.warning("camera(s) %s are below the floor plane: is the floor board really on the floor?", below)
    out = CameraRig(cams, units="m", up=up, metadata=meta)
    return out.to_units(units) if units != "m" else out
