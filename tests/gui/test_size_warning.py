"""The app shows the size-mismatch warning of real videos (issue 14, item 2): event list and status bar."""

from app.gui.config import RunConfig
from tests.conftest import shared_path
from tests.gui.conftest import wait_for


def test_the_8_px_mismatch_of_the_pose2sim_videos_is_shown_as_a_warning(make_window, qtbot):
    base = shared_path("sessions", "pose2sim_balancing")
    config = RunConfig(studio=None, sources=[f"cam_0{i}={base / 'videos' / f'cam0{i}.mp4'}" for i in range(1, 5)],
                       calibration=str(base / "calibration.toml"), backend="openpose-json",
                       keypoints=str(base / "openpose_2d"))
    w = make_window(config)
    assert w.start() and w.pipeline is not None
    wait_for(qtbot, lambda: any("calibration says 1088x1920" in m for m in w.warnings), 30)
    lines = [w.event_log.item(i).text() for i in range(w.event_log.count())]
    assert any("[warning] camera 'cam_01': frames are 1080x1920 px" in line for line in lines)
    assert any("[warning] camera 'cam_02'" in line for line in lines)
    assert "calibration says" in w.statusBar().currentMessage() or w.warnings
    assert not w.errors
    w.stop()
