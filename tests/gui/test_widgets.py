"""Small widgets: the setup dialog round trip, the 3D view's mouse control and missing libraries, the session list;
the system-packages check of `make demo` / `make test`."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.gui.config import RunConfig


def test_setup_dialog_round_trip(qtbot):
    from app.gui.setup_dialog import SetupDialog

    cfg = RunConfig(studio=None, sources=["cam_01=0", "cam_02=rtsp://h/s"], calibration="/c.toml", backend="ppt",
                    weights="/w.pth", min_confidence=0.4, outliers="ransac", filter="none")
    d = SetupDialog(cfg)
    qtbot.addWidget(d)
    out = d.config()
    assert out == cfg
    d.studio.setCurrentIndex(d.studio.findData("stereo2"))
    d.sources.setPlainText("a=1\n\n b=2 ")
    assert d.config().studio == "stereo2" and d.config().sources == ["a=1", "b=2"]


def test_run_config_ignores_unknown_saved_fields():
    cfg = RunConfig.from_dict({"studio": "ring8", "removed_option": 3})
    assert cfg.studio == "ring8" and cfg.backend == "demo"


def test_scene3d_orbit_zoom_reset(qtbot):
    from PyQt6 import QtCore, QtGui

    from app.gui.scene3d import Scene3DView
    from core.studio.sources import make_virtual_rig

    rig = make_virtual_rig("stereo2", realtime=False).studio.rig
    view = Scene3DView(width=320, height=240)
    qtbot.addWidget(view)
    view.resize(320, 240)
    view.show()
    if view.renderer is None:
        assert "unavailable" in view.text()
        return
    view.set_rig(rig)
    pts = np.array([[0, 0, 1.0], [0, 0, 1.7], [0.2, 0, 1.0], [np.nan, np.nan, np.nan]])
    view.set_skeleton(pts, ((0, 1), (0, 2), (1, 3)))
    view.refresh()
    first = view.last_picture.copy()
    qtbot.mousePress(view, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(100, 100))
    qtbot.mouseMove(view, QtCore.QPoint(160, 110))
    qtbot.mouseRelease(view, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(160, 110))
    orbited = view.last_picture.copy()
    assert np.abs(orbited.astype(int) - first).mean() > 0.5
    view.wheelEvent(QtGui.QWheelEvent(QtCore.QPointF(50, 50), QtCore.QPointF(50, 50), QtCore.QPoint(0, 0),
                                      QtCore.QPoint(0, 240), QtCore.Qt.MouseButton.NoButton,
                                      QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.ScrollPhase.NoScrollPhase,
                                      False))
    assert np.abs(view.last_picture.astype(int) - orbited).mean() > 0.5
    view.mouseDoubleClickEvent(None)
    assert np.abs(view.last_picture.astype(int) - first).mean() < 1.0
    view.close_renderer()


def test_session_list(tmp_path):
    from app.gui.replay import list_sessions

    (tmp_path / "not_a_session").mkdir()
    good = tmp_path / "good"
    (good / "results" / "live").mkdir(parents=True)
    (good / "session.json").write_text(json.dumps({"created": "2026-11-24T00:00:00", "cameras": ["a", "b"],
                                                   "num_frames": 12}))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "session.json").write_text("{")
    rows = {r["name"]: r for r in list_sessions(tmp_path)}
    assert set(rows) == {"good", "bad"}
    assert rows["good"]["cameras"] == "2" and rows["good"]["results"] == "live" and rows["good"]["ok"]
    assert not rows["bad"]["ok"] and "unreadable" in rows["bad"]["results"]
    assert list_sessions(tmp_path / "missing") == []


def test_session_browser_dialog(qtbot, tmp_path):
    from app.gui.replay import SessionBrowser

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "session.json").write_text(json.dumps({"cameras": ["x"], "num_frames": 3}))
    d = SessionBrowser(tmp_path)
    qtbot.addWidget(d)
    assert d.table.rowCount() == 2
    d.table.selectRow(1)
    d._accept_selected()
    assert d.selected == d.sessions[1]["path"] and d.result() == d.DialogCode.Accepted
    d.refresh(tmp_path / "missing")
    assert d.table.rowCount() == 0


def test_a_missing_system_library_is_named_with_its_package(qtbot, monkeypatch):
    """Without libusb (a fresh machine) open3d does not import: the app still opens, and the 3D view names the
    library, its Debian package and the command that installs everything the app needs."""
    import app.gui.scene3d as scene3d

    def no_libusb(*args, **kwargs):
        raise OSError("libusb-1.0.so.0: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(scene3d, "Open3DRenderer", no_libusb)
    view = scene3d.Scene3DView(width=320, height=240)
    qtbot.addWidget(view)
    assert view.renderer is None
    text = view.text()
    assert "3D view unavailable" in text and "libusb-1.0.so.0" in text
    assert "sudo apt-get install libusb-1.0-0" in text and ".ci/system-deps" in text
    assert scene3d.missing_library_hint(RuntimeError("no EGL context")) == ""


def test_the_system_packages_check_names_what_is_missing_and_the_command(tmp_path):
    """`make demo` / `make test` run .ci/system-deps: a missing package is named with the one command to run."""
    root = Path(__file__).resolve().parents[2]
    listed = tmp_path / "packages"
    listed.write_text("# comment\nppt-mocap-no-such-package\n")
    env = {**os.environ, "PPT_SYSTEM_PACKAGES": str(listed)}
    proc = subprocess.run([str(root / ".ci" / "system-deps"), "--check"], env=env, capture_output=True, text=True)
    if "no dpkg" in proc.stderr:
        pytest.skip("not a Debian/Ubuntu machine")
    assert proc.returncode == 1
    assert "missing system packages: ppt-mocap-no-such-package" in proc.stderr
    assert "apt-get install -y --no-install-recommends ppt-mocap-no-such-package" in proc.stderr
    skipped = subprocess.run([str(root / ".ci" / "system-deps"), "--check"], capture_output=True, text=True,
                             env={**env, "PPT_SKIP_SYSTEM_DEPS": "1"})
    assert skipped.returncode == 0
    # The project's own list: every package .ci/run installs is in it, and the Makefile checks it before demo/test.
    listed_packages = {line.strip() for line in (root / ".ci" / "debian-packages").read_text().splitlines()
                       if line.strip() and not line.startswith("#")}
    assert {"libusb-1.0-0", "libegl1", "libgl1", "libxcb-cursor0"} <= listed_packages
    makefile = (root / "Makefile").read_text()
    assert "demo: system-deps" in makefile and "test: system-deps" in makefile
