import numpy as np
import pytest

from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.session.trc import read_trc
from core.studio.actor import random_shape
from core.studio.body import STUDIO_JOINTS
from core.studio.studio import make_studio
from core.studio.trajectory import TrajectoryMotion, marker_dict
from tests.conftest import shared_path

TRC = ("sessions", "pose2sim_balancing", "reference_3d", "S00_P00_T01_BalancingTrial_0-100.trc")


def test_retargeted_playback_follows_the_real_recording():
    path = shared_path(*TRC)
    motion = TrajectoryMotion.from_trc(path, recenter_xy=None, smooth_frames=0)
    assert 1.5 < motion.shape.height < 1.95
    pose = motion.sample(motion.shape, np.arange(100) / 60.0)
    points, names, fps, _ = read_trc(path)
    err = {}
    for i, n in enumerate(names):
        j = POSE2SIM_BODY25B_MARKERS[n]
        if j not in STUDIO_JOINTS:
            continue
        err[j] = np.nanmedian(np.linalg.norm(pose.joints[:, STUDIO_JOINTS.index(j)] - points[:, i], axis=-1))
    assert err["left_hip"] < 0.02 and err["right_hip"] < 0.02
    assert max(err[j] for j in ("left_knee", "right_knee", "left_ankle", "right_ankle")) < 0.05
    assert max(err.values()) < 0.1  # head, hands and feet: a stylised body, within 10 cm


def test_playback_loops_back_and_forth_and_recentres():
    motion = TrajectoryMotion.from_trc(shared_path(*TRC), recenter_xy=(0.5, -0.5))
    shape = random_shape(np.random.default_rng(0))
    t = np.arange(0, 6, 1 / 60)
    pose = motion.sample(shape, t)
    step = np.linalg.norm(np.diff(pose.joints, axis=0), axis=-1).max()
    assert step < 0.1  # no jump where the clip turns around
    np.testing.assert_allclose(pose.joints[:, 0, :2].mean(0), (0.5, -0.5), atol=0.1)


def test_studio_plays_a_trc_with_the_real_calibration():
    st = make_studio(calibration=shared_path("sessions", "pose2sim_balancing", "calibration.toml"),
                     motion=str(shared_path(*TRC)), seed=1, backdrop_downscale=4)
    fr = st.render(10)
    assert fr.truth.visible.mean() > 0.5
    assert len(fr.images) == 4 and fr.images["cam_01"].shape == (1920, 1088, 3)


def test_bad_markers():
    with pytest.raises(ValueError, match="lacks markers"):
        marker_dict(np.zeros((5, 2, 3)), ["RHip", "LHip"])
