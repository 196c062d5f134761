"""Fixtures shared by the calibration tests: a rendered 4-camera scene and the OpenCV stereo detections."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.detection import detect_in_sources
from calibration.synthetic import detect_scene, floor_pose, render_scene
from tests.conftest import shared_path

N_POSES = 30


@pytest.fixture(scope="session")
def synthetic_board() -> Checkerboard:
    return Checkerboard(9, 6, 0.08)


@pytest.fixture(scope="session")
def scene(synthetic_board):
    """4 cameras (1280x720, f = 1000 px, no distortion), 30 random board poses + 1 board on the floor (last)."""
    return render_scene(synthetic_board, n_poses=N_POSES, seed=0, extra_poses=floor_pose(synthetic_board)[None])


@pytest.fixture(scope="session")
def scene_detections(scene):
    return detect_scene(scene)


@pytest.fixture(scope="session")
def scene_intrinsics(scene):
    return {c.name: c.with_(R=np.eye(3), t=np.zeros(3)) for c in scene.rig}


@pytest.fixture(scope="session")
def opencv_board() -> Checkerboard:
    return Checkerboard(9, 6, 0.025)


@pytest.fixture(scope="session")
def opencv_stereo(opencv_board):
    """Detection sets of OpenCV's 13 left and 13 right images."""
    folder = shared_path("calibration", "opencv_stereo_chessboard")
    return {n: detect_in_sources([str(folder / f"{n}*.jpg")], opencv_board, camera=n) for n in ("left", "right")}
