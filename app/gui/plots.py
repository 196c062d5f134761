"""Live plots (pyqtgraph): per-stage latency, FPS, and the trajectory of a chosen joint.

Each plot keeps a fixed-length rolling buffer and updates its curves in place with ``setData``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtWidgets

_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


class RollingPlot(pg.PlotWidget):
    """Named curves over the last ``history`` samples, x = seconds relative to now."""

    def __init__(self, title: str, y_label: str, names: list[str], history: int = 300,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent=parent, title=title)
        self.setBackground("w")
        self.showGrid(x=True, y=True, alpha=0.3)
        self.setLabel("left", y_label)
        self.setLabel("bottom", "time", units="s")
        self.addLegend(offset=(5, 5), brush=(255, 255, 255, 210), pen=(200, 200, 200), labelTextColor=(40, 40, 40),
                       colCount=2)
        self._history = history
        self._t = np.full(history, np.nan)
        self._values = {n: np.full(history, np.nan) for n in names}
        self._curves = {n: self.plot([], [], name=n, pen=pg.mkPen(_COLORS[i % len(_COLORS)], width=2))
                        for i, n in enumerate(names)}

    @property
    def names(self) -> list[str]:
        return list(self._curves)

    def append(self, t: float, values: dict[str, float]) -> None:
        """Add one sample at time ``t`` (s); missing names get NaN (a gap)."""
        self._t = np.roll(self._t, -1)
        self._t[-1] = t
        for name, buf in self._values.items():
            buf[:] = np.roll(buf, -1)
            buf[-1] = values.get(name, np.nan)

    def redraw(self) -> None:
        ok = np.isfinite(self._t)
        if not ok.any():
            return
        x = self._t[ok] - self._t[ok][-1]
        for name, curve in self._curves.items():
            curve.setData(x, self._values[name][ok], connect="finite")

    def latest(self, name: str) -> float:
        return float(self._values[name][-1])


class LatencyPlot(RollingPlot):
    """Glass-to-skeleton latency per pipeline stage, milliseconds."""

    def __init__(self, stages: list[str], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Latency per stage", "ms", stages, parent=parent)


class FpsPlot(RollingPlot):
    """Frame rates: pipeline and display (frames per second)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Frame rate", "fps", ["pipeline", "display"], parent=parent)


class JointTrajectoryPlot(RollingPlot):
    """x, y, z of one joint over time, in the rig's unit."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Joint trajectory", "position", ["x", "y", "z"], parent=parent)
        self.joint_name = ""

    def set_joint(self, name: str) -> None:
        self.joint_name = name
        self.setTitle(f"Joint trajectory: {name}")
        for buf in self._values.values():
            buf[:] = np.nan
