import threading

import numpy as np
import pytest

from calibration.session import CalibrationCancelled, CalibrationSession
from tests.calibration.conftest import N_POSES


def feed(session, scene, cameras, frames):
    out = []
    for f in frames:
        for n in cameras:
            out.append(session.add_frame(n, scene.images[n][f], frame_index=f))
    return out


def test_session_feedback_status_and_solve(scene, scene_intrinsics):
    names = scene.rig.names
    s = CalibrationSession(scene.board, names, intrinsics=scene_intrinsics, min_shared=5)
    fb = s.add_frame("cam02", scene.images["cam02"][0], frame_index=0)
    assert fb.found and fb.corners.shape == (54, 2) and fb.accepted and fb.views == 1 and fb.coverage > 0
    again = s.add_frame("cam02", scene.images["cam02"][0], frame_index=0)
    assert not again.accepted and "move" in again.message  # the same view adds nothing
    blank = s.add_frame("cam02", np.full((720, 1280), 128, np.uint8))
    assert not blank.found and blank.corners is None
    assert not s.enough_views()
    feed(s, scene, names, range(N_POSES + 1))
    status = s.status()
    assert status.ready_extrinsics and status.message == "ready to calibrate" and s.enough_views()
    assert status.shared_frames[("cam02", "cam03")] >= 20
    stages = []
    future = s.solve_async(progress=lambda stage, frac: stages.append((stage, frac)))
    result = future.result(timeout=300)
    s.close()
    assert stages[-1] == ("done", 1.0)
    assert result.floor_frame == N_POSES and result.rig.up == "z"
    assert (result.rig.centers[:, 2] > 1.0).all()  # cameras above the floor
    dists = np.linalg.norm(result.rig.centers[:, None] - result.rig.centers[None], axis=-1)
    truth = np.linalg.norm(scene.rig.centers[:, None] - scene.rig.centers[None], axis=-1)
    assert np.abs(dists - truth).max() < 0.003


def test_session_intrinsics_only_and_errors(scene):
    s = CalibrationSession(scene.board, ["cam02"], min_views=5, min_coverage=0.1)
    with pytest.raises(ValueError, match="unknown camera"):
        s.add_frame("camX", scene.images["cam02"][0])
    feed(s, scene, ["cam02"], range(12))
    assert s.status().per_camera["cam02"]["views"] >= 5 and s.enough_views()
    res = s.solve()
    assert res.extrinsics is None and abs(res.rig["cam02"].K[0, 0] / 1000 - 1) < 0.02
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CalibrationCancelled):
        s.solve(cancel=cancel)
    s.reset()
    assert s.status().per_camera["cam02"]["views"] == 0
    with pytest.raises(ValueError, match="at least 3"):
        s.solve()
