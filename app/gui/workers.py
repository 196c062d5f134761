"""Run long work (calibration solves, re-processing, exports) off the GUI thread with progress signals."""

from __future__ import annotations

import logging
from typing import Callable

from PyQt6 import QtCore

log = logging.getLogger(__name__)


class Worker(QtCore.QThread):
    """Calls ``fn(progress)`` on its own thread; ``progress(text, fraction)`` emits :attr:`progressed`.

    Signals: ``progressed(str, float)``, ``succeeded(object)`` with the return value, ``failed(str)`` with the
    error message (the exception is logged with its traceback).
    """

    progressed = QtCore.pyqtSignal(str, float)
    succeeded = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)

    def __init__(self, fn: Callable, name: str, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self.job_name = name
        self.result = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.result = self._fn(lambda text, frac: self.progressed.emit(str(text), float(frac)))
        except Exception as exc:  # shown in the window; the app keeps running
            log.exception("%s failed", self.job_name)
            self.error = f"{self.job_name} failed: {exc}"
            self.failed.emit(self.error)
            return
        self.succeeded.emit(self.result)
