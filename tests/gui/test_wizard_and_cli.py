"""The calibration wizard on the real checkerboard images, and the headless command lines."""

import os

import numpy as np
import pytest

from tests.conftest import shared_path
from tests.gui.conftest import wait_for


@pytest.fixture
def stereo_images():
    folder = shared_path("calibration", "opencv_stereo_chessboard")
    return [f"left={folder}/left*.jpg", f"right={folder}/right*.jpg"]


def test_wizard_on_real_checkerboards(qtbot, tmp_path, stereo_images):
    from app.gui.calibration_wizard import CalibrationWizard
    from core.geometry import CameraRig

    wiz = CalibrationWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.board_edit.setText("9x6")
    wiz.square_edit.setText("25mm")
    wiz.set_images(stereo_images)
    assert wiz.start_collecting()
    wait_for(qtbot, lambda: not wiz.feeding(), 60)
    wiz.update_status()
    assert "Enough views" in wiz.ready_label.text()
    left = wiz.views["left"]
    assert left._image.image is not None and len(left._points.data) == 54  # corners drawn
    assert wiz.coverage_bars["left"].value() > 50
    worker = wiz.solve()
    wait_for(qtbot, lambda: wiz.result is not None or wiz.errors, 120)
    assert worker.error is None and wiz.result is not None
    assert wiz.progress.value() == 1000
    assert wiz.results.rowCount() == 2 and float(wiz.results.item(0, 1).text()) < 0.5
    assert float(wiz.results.item(1, 3).text()) < 0.5
    assert "Metric check" in wiz.metric_label.text()
    saved = wiz.save(tmp_path / "stereo.toml")
    rig = CameraRig.load(saved)
    assert rig.names == ["left", "right"]
    baseline = np.linalg.norm(rig.centers[0] - rig.centers[1])
    assert 0.05 < baseline < 0.5  # the OpenCV sample's stereo baseline in these board units
    wiz.close()


def test_wizard_bad_input(qtbot, tmp_path):
    from app.gui.calibration_wizard import CalibrationWizard

    wiz = CalibrationWizard()
    qtbot.addWidget(wiz)
    wiz.set_images([f"cam=/{tmp_path}/none*.jpg"])
    assert not wiz.start_collecting() and "no image matches" in wiz.errors[-1]
    wiz.board_edit.setText("nine by six")
    assert not wiz.start_collecting() and "board" in wiz.errors[-1]
    wiz.source.setCurrentIndex(1)
    wiz.board_edit.setText("9x6")
    assert not wiz.start_collecting() and "no capture is running" in wiz.errors[-1]
    assert wiz.save() is None and "calibrate first" in wiz.errors[-1]


def test_gui_screenshot_and_measure_command(qtbot, tmp_path, capsys):
    from app.cli import main

    shot = tmp_path / "shot.png"
    assert main(["gui", "--studio", "stereo2", "--backend", "studio-truth", "--screenshot", str(shot),
                 "--after", "2", "--measure", "2"]) == 0
    out = capsys.readouterr().out
    assert "screenshot saved" in out and "pipeline" in out and "display" in out
    from PyQt6 import QtGui

    img = QtGui.QImage(str(shot))
    assert img.width() > 800 and img.height() > 500


def test_demo_without_display(qtbot, tmp_path, capsys, monkeypatch):
    from app.cli import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main(["demo", "--out", str(tmp_path), "--seconds", "3", "--studio", "stereo2"]) == 0
    out = capsys.readouterr().out
    assert "No display found" in out and "screenshot of the app saved" in out
    assert (tmp_path / "demo_window.png").exists()
    assert os.environ.get("QT_QPA_PLATFORM") == "offscreen"


def test_gui_without_display_says_so(monkeypatch, capsys):
    from app.cli import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main(["gui"]) == 2
    assert "no display" in capsys.readouterr().err


def test_no_arguments_without_display(monkeypatch, capsys):
    from app.cli import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main([]) == 2
    assert "no display" in capsys.readouterr().err


def test_wizard_on_live_cameras(make_window, qtbot):
    from app.gui.config import RunConfig

    w = make_window(RunConfig(studio="stereo2", backend="studio-truth", fps=15.0))
    assert w.start()
    wiz = w.open_wizard()
    wiz.source.setCurrentIndex(1)
    assert wiz.start_collecting() and list(wiz.views) == w.pipeline.rig.names
    view = wiz.views["cam01"]
    wait_for(qtbot, lambda: view._image.image is not None, 30)  # frames arrive from the running capture
    wiz.update_status()
    assert "Not enough views" in wiz.ready_label.text()  # no board in the studio
    worker = wiz.solve()
    wait_for(qtbot, lambda: wiz.errors, 60)
    assert "calibration failed" in wiz.errors[-1] and wiz.result is None
    wiz.close()
