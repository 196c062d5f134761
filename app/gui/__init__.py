"""The desktop app (PyQt6, pyqtgraph, Open3D): a thin view over ``core`` and ``calibration``."""
