"""The process's Qt application: created once, shared by the main window, the calibration wizard and the
fine-tuning dialog (their headless screenshot runs too), and the display check that decides whether windows can
open."""

from __future__ import annotations

import os
import sys
import time

from PyQt6 import QtCore, QtWidgets

ORG, APP = "ppt-mocap", "ppt-mocap"


def has_display() -> bool:
    """True when Qt can open windows: a DISPLAY / WAYLAND_DISPLAY, a QT_QPA_PLATFORM choice, or not Linux."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


_APP: list = []  # keeps the QApplication alive for the process


def application(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The process's QApplication (created once)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(argv or [sys.argv[0]])
        app.setOrganizationName(ORG)
        app.setApplicationName(APP)
        _APP.append(app)
    return app


def wait_events(seconds: float) -> None:
    """Process Qt events for ``seconds`` (headless runs and tests)."""
    app = QtWidgets.QApplication.instance()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)
