"""A studio take saved as a session: the stored calibration reprojects the stored 3D truth onto the stored 2D."""

import numpy as np

from core.session.folder import SessionReader
from core.studio.recording import render_session
from core.studio.studio import Imperfections, make_studio


def test_ground_truth_2d_is_the_projection_of_3d_after_a_round_trip(tmp_path):
    studio = make_studio("ring4", motion="mix", people=2, seed=4, size=(320, 240), backdrop_downscale=4)
    render_session(studio, tmp_path / "take", 6)
    r = SessionReader(tmp_path / "take")
    gt = r.ground_truth()
    T, C, J = 6, 4, 27
    assert gt.joints_3d.shape == (T, J, 3) and gt.joints_2d.shape == (T, C, J, 2) and gt.visible.shape == (T, C, J)
    assert gt.boxes.shape == (T, C, 4) and gt.people_joints_3d.shape == (T, 2, J, 3)
    assert gt.joint_names[:3] == ("pelvis", "right_hip", "right_knee")
    worst = 0.0
    for t in range(T):
        for p in range(2):
            proj = r.rig.project(gt.people_joints_3d[t, p])
            worst = max(worst, np.nanmax(np.abs(proj - gt.people_joints_2d[t, :, p])))
    assert worst < 1e-6, f"stored 2D differs from the stored calibration's projection by {worst} px"
    sets = list(r.frame_sets())
    assert len(sets) == T and all(len(fs.frames) == C for fs in sets)
    np.testing.assert_array_equal(r.timestamps["t_capture_ns"][::C], np.round(np.arange(T) / 30 * 1e9))


def test_imperfect_take_records_drops_and_offsets(tmp_path):
    studio = make_studio("ring4", motion="walk", seed=4, size=(96, 72), backdrop_downscale=4,
                         imperfections=Imperfections(clock_offset_ms=15, drop_rate=0.25))
    render_session(studio, tmp_path / "take", 8)
    r = SessionReader(tmp_path / "take")
    gt = r.ground_truth()
    assert r.timestamps["dropped"].sum() == gt.dropped.sum() > 0
    spread = np.ptp(gt.t_capture, axis=1)
    assert spread.max() > 0.005
    missing = sum(len(fs.missing) for fs in r.frame_sets())
    assert missing == gt.dropped.sum()
