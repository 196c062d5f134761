"""A Pose2Sim project folder read as one recording (rig, OpenPose keypoints, videos)."""

from __future__ import annotations

import shutil

import pytest

from core.session.openpose_json import read_pose2sim_project
from tests.conftest import shared_path


def test_reads_the_real_project_in_camera_order():
    rig, keypoints, videos = read_pose2sim_project(shared_path("sessions", "pose2sim_balancing"))
    assert rig.names == ["cam_01", "cam_02", "cam_03", "cam_04"]
    assert keypoints.shape == (4, 100, 25, 3)
    assert [v.stem for v in videos] == ["cam01", "cam02", "cam03", "cam04"]


def test_a_project_without_its_videos_names_what_is_missing(tmp_path):
    src = shared_path("sessions", "pose2sim_balancing")
    shutil.copy(src / "calibration.toml", tmp_path / "calibration.toml")
    shutil.copytree(src / "openpose_2d", tmp_path / "openpose_2d")
    with pytest.raises(FileNotFoundError, match="expected 4 keypoint folders and videos.*got 4 and 0"):
        read_pose2sim_project(tmp_path)
    shutil.rmtree(tmp_path / "openpose_2d")
    with pytest.raises(NotADirectoryError, match="no openpose_2d folder"):
        read_pose2sim_project(tmp_path)
