"""Synthetic calibration scenes: a known rig looking at a board in known poses, rendered so that real
detection runs on the images (tests, benchmarks, documentation).

The board image is warped into each camera through the plane homography ``K [r1 r2 t] A`` (``A`` maps board
image pixels to board metres), rendered at twice the resolution and area-averaged down (anti-aliasing).
Lenses are ideal (no distortion) so ``cv2.warpPerspective`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.boards import Board
from calibration.detection import Detection, detect_board
from calibration.extrinsics import _T
from core.geometry.alignment import rodrigues_to_matrix
from core.geometry.camera import Camera, CameraRig


@dataclass
class SyntheticScene:
    """A rig, board poses (board -> world, (F, 4, 4)) and the rendered images per camera (C lists of F)."""

    rig: CameraRig
    board: Board
    board_poses: np.ndarray
    images: dict
    truth_corners: dict


def make_rig(n_cameras: int = 4, size: tuple[int, int] = (1280, 720), focal: float = 1000.0,
             radius: float = 3.0, arc_deg: float = 120.0, height: float = 1.8) -> CameraRig:
    """Cameras on a horizontal arc (z up, metres) looking at (0, 0, 1): the usual mocap layout."""
    K = np.array([[focal, 0, size[0] / 2 - 0.5], [0, focal, size[1] / 2 - 0.5], [0, 0, 1]])
    cams = []
    for i, a in enumerate(np.radians(np.linspace(-arc_deg / 2, arc_deg / 2, n_cameras))):
        pos = np.array([radius * np.sin(a), -radius * np.cos(a), height + 0.2 * (i % 2)])
        cams.append(Camera.look_at(f"cam{i + 1:02d}", size, K, pos, (0.0, 0.0, 1.0)))
    return CameraRig(cams, units="m", up="z")


def random_board_poses(board: Board, n: int, seed: int = 0, centre=(0.0, 0.0, 1.0), spread: float = 0.4,
                       tilt_deg: float = 30.0) -> np.ndarray:
    """Board -> world transforms (n, 4, 4): the board near ``centre``, facing -y (the cameras), tilted."""
    rng = np.random.default_rng(seed)
    w = (board.cols - 1) * board.square
    h = (board.rows - 1) * board.square
    # Facing the cameras: board z (into the board) along +y, board x along +x, board y down (-z).
    base = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]).T  # columns: board x, y, z in the world
    out = []
    for _ in range(n):
        rv = rng.uniform(-1, 1, 3) * np.radians(tilt_deg)
        R = rodrigues_to_matrix(rv) @ base
        c = np.asarray(centre) + rng.uniform(-1, 1, 3) * spread * np.array([1.0, 0.5, 0.6])
        t = c - R @ np.array([w / 2, h / 2, 0])
        out.append(_T(R, t))
    return np.array(out).reshape(-1, 4, 4)


def render_view(board: Board, camera: Camera, board_to_world: np.ndarray, px_per_square: int = 40,
                background: int = 110) -> np.ndarray:
    """Grey image (H, W) uint8 of the board seen by ``camera`` (which must have no distortion)."""
    margin = 1.0
    img = board.render(px_per_square=px_per_square, margin_squares=margin)
    m = int(round(margin * px_per_square))
    s = board.square / px_per_square
    # board image pixel (u, v) -> board metres: X = (u + 0.5 - m) * s - square (pixel-centre convention).
    A = np.array([[s, 0, (0.5 - m) * s - board.square], [0, s, (0.5 - m) * s - board.square], [0, 0, 1]])
    T_cb = camera.extrinsic_matrix @ np.asarray(board_to_world, np.float64)  # board -> camera (3, 4)
    H = camera.K @ T_cb[:, [0, 1, 3]] @ A
    up = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1.0]])
    w, h = camera.size
    big = cv2.warpPerspective(img, up @ H, (2 * w, 2 * h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    # Pixels behind the camera cannot appear: a board facing the camera is entirely in front here.
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)


def floor_pose(board: Board, origin=(-0.32, 0.5, 0.0)) -> np.ndarray:
    """Board -> world (4, 4) of a board lying face up on the floor z = 0: board x = world x, board z = -z."""
    R = np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]])  # columns: board x, y, z in the world
    return _T(R, np.asarray(origin, np.float64))


def render_scene(board: Board, rig: CameraRig | None = None, n_poses: int = 30, seed: int = 0,
                 px_per_square: int = 40, extra_poses: np.ndarray | None = None) -> SyntheticScene:
    """Render ``n_poses`` random board poses (then ``extra_poses``) in every camera of ``rig`` (default
    :func:`make_rig`)."""
    rig = rig or make_rig()
    poses = random_board_poses(board, n_poses, seed)
    if extra_poses is not None:
        poses = np.concatenate([poses, np.asarray(extra_poses).reshape(-1, 4, 4)])
    obj = board.object_points()
    images, truth = {}, {}
    for cam in rig:
        images[cam.name], truth[cam.name] = [], []
        for T in poses:
            X = obj @ T[:3, :3].T + T[:3, 3]
            images[cam.name].append(render_view(board, cam, T, px_per_square))
            truth[cam.name].append(cam.project(X))
    return SyntheticScene(rig, board, poses, images, truth)


def detect_scene(scene: SyntheticScene, noise_px: float = 0.0, seed: int = 1) -> dict[str, list[Detection]]:
    """Run real detection on every rendered image; optionally add Gaussian noise (px, per coordinate)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, imgs in scene.images.items():
        dets = []
        for f, img in enumerate(imgs):
            det = detect_board(img, scene.board, frame=f, source=f"{name}#{f}", camera=name)
            if det is None:
                continue
            if noise_px > 0:
                det = det.with_corners(det.corners + rng.normal(0, noise_px, det.corners.shape))
            dets.append(det)
        out[name] = dets
    return out
