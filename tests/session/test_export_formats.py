"""C3D and BVH export (plus the existing TRC/CSV/JSON through the same entry point)."""

import json

import numpy as np
import pytest

from core.geometry import CameraRig, get_skeleton, triangulate_sequence
from core.session.export import (bvh_joint_positions, export_points, read_bvh, read_c3d, write_bvh, write_c3d,
                                 write_points)
from core.session.openpose_json import read_openpose_session
from core.session.trc import read_trc
from core.studio.sources import make_virtual_rig
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def studio_joints():
    vrig = make_virtual_rig("ring4", fps=30, seed=11, motion="squat", realtime=False)
    return np.stack([vrig.truth(k).joints_3d[0, :17] for k in range(0, 90, 3)])


def test_c3d_round_trip_in_millimetres_with_gaps(tmp_path, studio_joints):
    pts = studio_joints.copy()
    pts[4, 2] = np.nan
    names = list(get_skeleton("h36m17").joints)
    write_c3d(tmp_path / "a.c3d", pts, names, fps=30, units="m")
    back, labels, fps = read_c3d(tmp_path / "a.c3d")
    assert labels == names and fps == 30 and back.shape == pts.shape
    assert np.isnan(back[4, 2]).all()
    assert np.nanmax(np.abs(back / 1000 - pts)) < 1e-6
    with pytest.raises(ValueError, match="expected points of shape"):
        write_c3d(tmp_path / "b.c3d", pts[0], names, fps=30)


def test_bvh_forward_kinematics_reproduces_studio_joints(tmp_path, studio_joints):
    names = list(get_skeleton("h36m17").joints)
    path = write_bvh(tmp_path / "a.bvh", studio_joints, names, fps=10, skeleton="h36m17")
    bvh = read_bvh(path)
    assert bvh["names"][0] == "pelvis" and bvh["motion"].shape[0] == len(studio_joints)
    assert abs(bvh["frame_time"] - 0.1) < 1e-9
    back = bvh_joint_positions(path, names)
    err_mm = np.linalg.norm(back - studio_joints, axis=-1) * 1000
    assert np.nanmax(err_mm) < 1.0  # rigid studio bones: FK is exact up to the file's precision


def test_bvh_of_the_real_pose2sim_session_matches_up_to_bone_length_noise(tmp_path):
    base = shared_path("sessions", "pose2sim_balancing")
    rig = CameraRig.load(base / "calibration.toml")
    pts2d, conf = read_openpose_session([base / "openpose_2d" / f"cam0{i}_json" for i in range(1, 5)])
    pts = triangulate_sequence(rig, pts2d, conf, min_confidence=0.3).points_3d
    names = list(get_skeleton("body25b").joints)
    path = export_points(tmp_path / "p.bvh", pts, names, fps=60, units="m", up="z", skeleton="body25b")
    back = bvh_joint_positions(path, names)
    err_mm = np.linalg.norm(back - pts, axis=-1) * 1000
    assert np.nanmedian(err_mm) < 20.0 and np.isfinite(back).all()


def test_export_points_dispatch_and_existing_formats(tmp_path, studio_joints):
    names = list(get_skeleton("h36m17").joints)
    for ext in ("trc", "csv", "json", "npz", "c3d", "bvh"):
        assert export_points(tmp_path / f"x.{ext}", studio_joints, names, 30, skeleton="h36m17").exists()
    trc, trc_names, _, _ = read_trc(tmp_path / "x.trc")
    assert np.allclose(trc, studio_joints, atol=1e-6) and trc_names == names
    assert len(json.loads((tmp_path / "x.json").read_text())["frames"]) == len(studio_joints)
    write_points(tmp_path / "y.csv", studio_joints, names, 30)  # the lead's writer is unchanged
    with pytest.raises(ValueError, match="BVH export needs the skeleton"):
        export_points(tmp_path / "x.bvh", studio_joints, names, 30)
    with pytest.raises(ValueError, match="unknown export format"):
        export_points(tmp_path / "x.fbx", studio_joints, names, 30)
    with pytest.raises(ValueError, match="no BVH hierarchy"):
        write_bvh(tmp_path / "z.bvh", studio_joints, names, 30, skeleton="hands21")
