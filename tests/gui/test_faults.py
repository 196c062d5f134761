"""Bad input and faults: a clear message in the window, and the app keeps running."""

from app.gui.config import RunConfig
from tests.gui.conftest import wait_for


def test_camera_unplugged_and_back(make_window, qtbot):
    w = make_window(RunConfig(studio="stereo2", backend="studio-truth", fps=15.0))
    assert w.start()
    wait_for(qtbot, lambda: w.views.frames_shown >= 2)
    source = next(s for s in w.pipeline.sources if s.name == "cam02")
    source.set_available(False)  # the camera stops delivering, as when unplugged
    wait_for(qtbot, lambda: any("cam02" in e for e in w.errors), 20)
    assert w.banner.isVisible() and "cam02" in w.banner.text()
    assert w.views.cameras["cam02"]._message.textItem.toPlainText() == "camera lost"
    shown = w.views.frames_shown
    wait_for(qtbot, lambda: w.views.frames_shown > shown + 2, 20)  # the other camera keeps the app going
    source.set_available(True)
    wait_for(qtbot, lambda: any("camera_back" in w.event_log.item(i).text() for i in range(w.event_log.count())), 30)
    assert w.pipeline is not None and not w.banner.isVisible()  # all cameras back: the banner goes, the list keeps it


def test_bad_calibration_file(make_window, tmp_path):
    bad = tmp_path / "calib.toml"
    bad.write_text("[cam_01]\nname = 'cam_01'\nmatrix = 'not a matrix'\n")
    w = make_window(RunConfig(studio="stereo2", backend="studio-truth", calibration=str(bad)))
    assert not w.start()
    assert w.pipeline is None and w.banner.isVisible() and "cannot start" in w.banner.text()
    assert "calib.toml" in w.errors[-1] or "cam" in w.errors[-1]
    w.set_config(RunConfig(studio="stereo2", backend="studio-truth", calibration=str(tmp_path / "missing.toml")))
    assert not w.start() and "not found" in w.errors[-1]
    assert w.start_button.isEnabled()


def test_weights_for_another_model(make_window, tmp_path):
    import torch

    from core.model import build_model

    path = tmp_path / "ppt_s.pth"
    torch.save(build_model("ppt_s").state_dict(), path)  # official single-view layout, not the multi-view model
    w = make_window(RunConfig(studio="stereo2", backend="ppt", weights=str(path)))
    assert not w.start()
    assert w.pipeline is None and "does not match" in w.errors[-1] and "ppt_s" in w.errors[-1]
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not torch")
    w.set_config(RunConfig(studio="stereo2", backend="ppt", weights=str(junk)))
    assert not w.start() and "junk.pth" in w.errors[-1]


def test_incomplete_session_folders(make_window, tmp_path):
    w = make_window()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not w.open_session(empty)
    assert "session.json" in w.errors[-1] and w.banner.isVisible()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "session.json").write_text("{ not json")
    assert not w.open_session(broken) and "JSON" in w.errors[-1]
    assert not w.open_session(tmp_path / "nowhere") and "not found" in w.errors[-1]
    assert w.replay.session is None


def test_session_without_videos_or_timestamps(make_window, qtbot, tmp_path):
    w = make_window(RunConfig(studio="stereo2", backend="studio-truth", fps=15.0))
    w.set_sessions_root(tmp_path)
    assert w.start()
    wait_for(qtbot, lambda: w.views.frames_shown >= 1)
    folder = w.start_recording("cut")
    qtbot.wait(1200)
    w.stop()
    video = next((folder / "videos").iterdir())
    video.unlink()  # a camera's video is lost: replay without it, say so
    assert w.open_session(folder)
    assert any("no video" in e for e in w.errors)
    assert w.replay.step()
    (folder / "timestamps.csv").unlink()  # now the session is unusable: a message, no crash
    assert not w.open_session(folder) and "timestamps" in w.errors[-1]


def test_start_button_builds_off_the_gui_thread(make_window, qtbot, tmp_path):
    w = make_window(RunConfig(studio="stereo2", backend="studio-truth", fps=15.0))
    qtbot.mouseClick(w.start_button, __import__("PyQt6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    assert w._starter is not None and not w.start_button.isEnabled()
    wait_for(qtbot, lambda: w.views.frames_shown >= 1, 30)
    assert w.pipeline is not None and not w.progress.isVisible()
    w.stop()
    w.set_config(RunConfig(studio="stereo2", backend="ppt", weights=str(tmp_path / "none.pth")))
    w.start_async()
    wait_for(qtbot, lambda: w.errors, 30)
    assert "not found" in w.errors[-1] and w.pipeline is None and w.start_button.isEnabled()
