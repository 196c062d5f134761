import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    from PyQt6 import QtCore

    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """MainWindow factory on an isolated settings file; windows are closed (pipelines stopped) at the end."""
    from app.gui.main import MainWindow

    windows = []

    def make(config=None):
        w = MainWindow(settings=settings, config=config)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()


def wait_for(qtbot, condition, timeout_s: float = 30.0) -> None:
    def check():
        assert condition()

    qtbot.waitUntil(check, timeout=int(timeout_s * 1000))
