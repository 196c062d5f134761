"""Choose the sources (webcams found, URLs, files, the virtual studio), the calibration and the model."""

from __future__ import annotations

import logging

from PyQt6 import QtWidgets

from app.gui.config import GUI_BACKENDS, STUDIO_PRESETS, RunConfig

log = logging.getLogger(__name__)


class SetupDialog(QtWidgets.QDialog):
    """Edits a copy of a :class:`RunConfig`; :meth:`config` returns the edited one."""

    def __init__(self, config: RunConfig, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sources, calibration and model")
        self.resize(640, 460)
        self.studio = QtWidgets.QComboBox()
        self.studio.addItem("(none: cameras / URLs / files below)", None)
        for p in STUDIO_PRESETS:
            self.studio.addItem(f"virtual studio {p}", p)
        i = self.studio.findData(config.studio)
        self.studio.setCurrentIndex(max(0, i))
        self.motion = QtWidgets.QLineEdit(config.studio_motion)
        self.sources = QtWidgets.QPlainTextEdit("\n".join(config.sources))
        self.sources.setPlaceholderText("one camera per line: NAME=SPEC, e.g.\ncam_01=0\ncam_02=rtsp://host/stream\n"
                                        "cam_03=/path/video.mp4")
        find = QtWidgets.QPushButton("Find webcams")
        find.clicked.connect(self._find_webcams)
        self.calibration = self._path_row(config.calibration or "", "Calibration (*.toml *.json *.pkl)")
        self.backend = QtWidgets.QComboBox()
        self.backend.addItems(GUI_BACKENDS)
        self.backend.setCurrentText(config.backend)
        self.weights = self._path_row(config.weights or "", "Weights (*.pth *.pt *.bin)")
        self.keypoints = self._path_row(config.keypoints or "", None)
        self.min_conf = QtWidgets.QDoubleSpinBox()
        self.min_conf.setRange(0, 1)
        self.min_conf.setSingleStep(0.05)
        self.min_conf.setValue(config.min_confidence)
        self.outliers = QtWidgets.QComboBox()
        self.outliers.addItems(["worst-view", "ransac", "none"])
        self.outliers.setCurrentText(config.outliers)
        self.filter = QtWidgets.QComboBox()
        self.filter.addItems(["auto", "one-euro", "none"])
        self.filter.setToolTip("auto: One-Euro live (causal, lag <= 1 frame at 60 fps), zero-phase Butterworth "
                               "6 Hz when re-processing a recording")
        self.filter.setCurrentText(config.filter)
        form = QtWidgets.QFormLayout()
        form.addRow("Virtual studio", self.studio)
        form.addRow("Studio motion", self.motion)
        src = QtWidgets.QVBoxLayout()
        src.addWidget(self.sources)
        src.addWidget(find)
        form.addRow("Sources", src)
        form.addRow("Calibration", self.calibration[0])
        form.addRow("2D backend", self.backend)
        form.addRow("Weights", self.weights[0])
        form.addRow("OpenPose JSON folder", self.keypoints[0])
        form.addRow("Min. confidence", self.min_conf)
        form.addRow("Outlier views", self.outliers)
        form.addRow("Filter", self.filter)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._base = config

    def _path_row(self, value: str, file_filter: str | None):
        host = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(host)
        row.setContentsMargins(0, 0, 0, 0)
        edit = QtWidgets.QLineEdit(value)
        button = QtWidgets.QPushButton("…")

        def browse():
            if file_filter is None:
                path = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder", edit.text())
            else:
                path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "File", edit.text(), file_filter)
            if path:
                edit.setText(path)

        button.clicked.connect(browse)
        row.addWidget(edit, 1)
        row.addWidget(button)
        return host, edit

    def _find_webcams(self) -> None:
        from core.capture.sources import list_cameras

        try:
            found = list_cameras()
        except Exception as exc:
            QtWidgets.QMessageBox.warning(self, "Webcams", f"could not list cameras: {exc}")
            return
        if not found:
            QtWidgets.QMessageBox.information(self, "Webcams", "no webcam found")
            return
        lines = [f"cam_{i + 1:02d}={c.get('device', i)}" for i, c in enumerate(found)]
        self.sources.setPlainText("\n".join(lines))
        self.studio.setCurrentIndex(0)

    def config(self) -> RunConfig:
        text = lambda e: e.text().strip() or None  # noqa: E731
        return RunConfig(
            studio=self.studio.currentData(), studio_motion=self.motion.text().strip() or "walk",
            sources=[s.strip() for s in self.sources.toPlainText().splitlines() if s.strip()],
            calibration=text(self.calibration[1]), backend=self.backend.currentText(), weights=text(self.weights[1]),
            keypoints=text(self.keypoints[1]), fps=self._base.fps, min_confidence=self.min_conf.value(),
            outliers=self.outliers.currentText(), filter=self.filter.currentText())
