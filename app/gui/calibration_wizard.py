"""The calibration wizard: pick cameras (live, or image files per camera) and the board, watch the detected corners
and the coverage grow until there are enough views, solve intrinsics and extrinsics on a worker thread with
progress, read the per-camera errors and the metric check, set the floor and save the calibration.

A thin view over :class:`calibration.CalibrationSession`; detection runs on a feeding thread, never on the GUI
thread.
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from pathlib import Path

import numpy as np
from PyQt6 import QtCore, QtWidgets

from app.gui.camera_view import CameraView
from app.gui.workers import Worker

log = logging.getLogger(__name__)


def parse_image_specs(specs: list[str]) -> dict[str, list[str]]:
    """``["cam=GLOB", ...]`` -> camera -> sorted image paths; clear errors for bad or empty specs."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, pattern = spec.partition("=")
        if not sep or not name.strip() or not pattern.strip():
            raise ValueError(f"{spec!r}: expected CAMERA=GLOB, e.g. left=images/left*.jpg")
        paths = sorted(glob.glob(str(Path(pattern.strip()).expanduser())))
        if Path(pattern.strip()).is_dir():
            paths = sorted(str(p) for p in Path(pattern.strip()).iterdir()
                           if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
        if not paths:
            raise ValueError(f"camera {name.strip()!r}: no image matches {pattern.strip()!r}")
        out[name.strip()] = paths
    return out


class FeedThread(QtCore.QThread):
    """Feeds frames to the session off the GUI thread and emits each camera's feedback.

    ``provider()`` returns ``(frame_index, {camera: image})``, ``None`` to wait, or raises ``StopIteration`` at the
    end; ``interval`` seconds between polls.
    """

    fed = QtCore.pyqtSignal(str, object, object)  # camera, image, FrameFeedback
    failed = QtCore.pyqtSignal(str)

    def __init__(self, session, provider, interval: float = 0.0, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.provider = provider
        self.interval = interval
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self.wait(5000)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self.provider()
            except StopIteration:
                return
            except Exception as exc:
                log.exception("calibration frames failed")
                self.failed.emit(f"reading calibration frames failed: {exc}")
                return
            if item is not None:
                index, images = item
                for camera, image in images.items():
                    if self._stop.is_set():
                        return
                    try:
                        fb = self.session.add_frame(camera, image, frame_index=index)
                    except Exception as exc:
                        log.exception("board detection failed")
                        self.failed.emit(f"board detection on {camera} failed: {exc}")
                        continue
                    self.fed.emit(camera, image, fb)
            if self.interval:
                self._stop.wait(self.interval)


def image_provider(images: dict[str, list[str]]):
    """Frames ``k`` of every camera (the k-th file of each sorted list) as one synchronised set."""
    import cv2

    count = max(len(v) for v in images.values())
    state = {"k": 0}

    def provider():
        k = state["k"]
        if k >= count:
            raise StopIteration
        state["k"] += 1
        frames = {}
        for cam, paths in images.items():
            if k < len(paths):
                img = cv2.imread(paths[k])
                if img is None:
                    raise ValueError(f"cannot read image {paths[k]}")
                frames[cam] = img
        return k, frames

    return provider


def pipeline_provider(pipeline):
    """The newest frame set of a running pipeline (each set once)."""
    state = {"last": -1}

    def provider():
        result = pipeline.latest()
        if result is None or result.index == state["last"]:
            return None
        state["last"] = result.index
        return result.frame_set.index, {c: f.image for c, f in result.frame_set.frames.items()}

    return provider


class CalibrationWizard(QtWidgets.QDialog):
    """Non-modal wizard window. ``main_window``: the app (for its running pipeline and messages), optional."""

    def __init__(self, main_window=None) -> None:
        super().__init__(main_window)
        self.main_window = main_window
        self.setWindowTitle("Calibration wizard")
        self.resize(1300, 820)
        self.session = None
        self.feeder: FeedThread | None = None
        self.worker: Worker | None = None
        self.result = None
        self.views: dict[str, CameraView] = {}
        self.errors: list[str] = []
        # 1. cameras and board
        self.source = QtWidgets.QComboBox()
        self.source.addItems(["image files per camera", "live cameras (running capture)"])
        self.images_edit = QtWidgets.QPlainTextEdit()
        self.images_edit.setPlaceholderText("one camera per line: NAME=GLOB or folder, e.g.\n"
                                            "left=/data/calib/left*.jpg\nright=/data/calib/right*.jpg")
        self.images_edit.setMaximumHeight(64)
        self.board_edit = QtWidgets.QLineEdit("9x6")
        self.board_edit.setToolTip("checkerboard inner corners COLSxROWS, or charuco:COLSxROWS squares")
        self.square_edit = QtWidgets.QLineEdit("25mm")
        self.min_views = QtWidgets.QSpinBox()
        self.min_views.setRange(3, 100)
        self.min_views.setValue(10)
        self.collect_button = QtWidgets.QPushButton("Start collecting")
        self.collect_button.clicked.connect(self.start_collecting)
        setup = QtWidgets.QGridLayout()
        setup.addWidget(QtWidgets.QLabel("Cameras"), 0, 0)
        setup.addWidget(self.source, 0, 1)
        setup.addWidget(self.images_edit, 0, 2, 2, 1)
        setup.addWidget(QtWidgets.QLabel("Board"), 0, 3)
        setup.addWidget(self.board_edit, 0, 4)
        setup.addWidget(QtWidgets.QLabel("Square"), 1, 3)
        setup.addWidget(self.square_edit, 1, 4)
        setup.addWidget(QtWidgets.QLabel("Views per camera"), 1, 0)
        setup.addWidget(self.min_views, 1, 1)
        setup.addWidget(self.collect_button, 0, 5, 2, 1)
        setup.setColumnStretch(2, 1)
        # 2. live views and coverage
        self.grid_host = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.coverage_host = QtWidgets.QWidget()
        self.coverage = QtWidgets.QFormLayout(self.coverage_host)
        self.coverage_bars: dict[str, QtWidgets.QProgressBar] = {}
        self.ready_label = QtWidgets.QLabel("Pick the cameras and the board, then start collecting.")
        self.ready_label.setWordWrap(True)
        # 3. solve and results
        self.floor_check = QtWidgets.QCheckBox("Set the floor from the lowest flat board view")
        self.floor_check.setChecked(True)
        self.solve_button = QtWidgets.QPushButton("Calibrate")
        self.solve_button.clicked.connect(lambda: self.solve())
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.results = QtWidgets.QTableWidget(0, 5)
        self.results.setHorizontalHeaderLabels(["camera", "intr. RMS", "views", "extr. mean", "corners"])
        self.results.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.results.horizontalHeader().setStretchLastSection(True)
        self.results.verticalHeader().hide()
        self.results.setToolTip("reprojection errors in pixels: intrinsics RMS per camera, extrinsics mean after "
                                "bundle adjustment")
        self.metric_label = QtWidgets.QLabel("")
        self.metric_label.setWordWrap(True)
        self.save_edit = QtWidgets.QLineEdit("calibration.toml")
        self.save_button = QtWidgets.QPushButton("Save…")
        self.save_button.clicked.connect(lambda: self.save())
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c03030; font-weight: bold;")
        right = QtWidgets.QVBoxLayout()
        right.addWidget(QtWidgets.QLabel("<b>Coverage</b> (share of the image the corners covered)"))
        right.addWidget(self.coverage_host)
        right.addWidget(self.ready_label)
        right.addWidget(self.floor_check)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.solve_button)
        buttons.addWidget(self.cancel_button)
        right.addLayout(buttons)
        right.addWidget(self.progress)
        right.addWidget(self.results, 1)
        right.addWidget(self.metric_label)
        save = QtWidgets.QHBoxLayout()
        save.addWidget(self.save_edit, 1)
        save.addWidget(self.save_button)
        right.addLayout(save)
        right_host = QtWidgets.QWidget()
        right_host.setLayout(right)
        right_host.setMaximumWidth(520)
        body = QtWidgets.QHBoxLayout()
        body.addWidget(self.grid_host, 1)
        body.addWidget(right_host)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(setup)
        layout.addWidget(self.message)
        layout.addLayout(body, 1)
        self.status_timer = QtCore.QTimer(self)
        self.status_timer.timeout.connect(self.update_status)
        self._update_buttons()

    # -- messages ----------------------------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        log.error("calibration wizard: %s", text)
        self.errors.append(text)
        self.message.setText(f"⚠ {text}")

    def _update_buttons(self) -> None:
        solving = self.worker is not None and self.worker.isRunning()
        self.solve_button.setEnabled(self.session is not None and not solving)
        self.cancel_button.setEnabled(solving)
        self.save_button.setEnabled(self.result is not None and not solving)

    # -- collecting --------------------------------------------------------------------------------------
    def set_images(self, specs: list[str]) -> None:
        self.source.setCurrentIndex(0)
        self.images_edit.setPlainText("\n".join(specs))

    def start_collecting(self) -> bool:
        """(Re)start a session with the chosen cameras and board; False (and a message) on bad input."""
        from calibration import CalibrationSession, make_board

        self.stop_feeding()
        self.message.setText("")
        self.result = None
        self.results.setRowCount(0)
        self.metric_label.setText("")
        try:
            board = make_board(self.board_edit.text().strip(), self.square_edit.text().strip())
            if self.source.currentIndex() == 0:
                specs = [s.strip() for s in self.images_edit.toPlainText().splitlines() if s.strip()]
                if not specs:
                    raise ValueError("list the images of each camera (NAME=GLOB, one camera per line)")
                images = parse_image_specs(specs)
                cameras, provider, interval = list(images), image_provider(images), 0.0
            else:
                pipeline = getattr(self.main_window, "pipeline", None)
                if pipeline is None:
                    raise ValueError("no capture is running: start the cameras in the main window first, or use "
                                     "image files")
                cameras, provider, interval = list(pipeline.rig.names), pipeline_provider(pipeline), 0.3
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        self.session = CalibrationSession(board, cameras, min_views=self.min_views.value(), min_shared=4)
        self._make_views(cameras)
        self.feeder = FeedThread(self.session, provider, interval, self)
        self.feeder.fed.connect(self._on_fed)
        self.feeder.failed.connect(self.show_error)
        self.feeder.finished.connect(self.update_status)
        self.feeder.start()
        self.status_timer.start(500)
        self._update_buttons()
        return True

    def stop_feeding(self) -> None:
        if self.feeder is not None:
            self.feeder.stop()
            self.feeder = None

    def feeding(self) -> bool:
        return self.feeder is not None and self.feeder.isRunning()

    def _make_views(self, cameras: list[str]) -> None:
        for v in self.views.values():
            self.grid.removeWidget(v)
            v.deleteLater()
        for bar in self.coverage_bars.values():
            self.coverage.removeRow(bar)
        self.views, self.coverage_bars = {}, {}
        cols = max(1, int(np.ceil(np.sqrt(len(cameras)))))
        for i, name in enumerate(cameras):
            view = CameraView(name)
            self.grid.addWidget(view, i // cols, i % cols)
            self.views[name] = view
            bar = QtWidgets.QProgressBar()
            bar.setRange(0, 100)
            bar.setFormat("0 views, %p% covered")
            self.coverage.addRow(name, bar)
            self.coverage_bars[name] = bar

    def _on_fed(self, camera: str, image, fb) -> None:
        view = self.views.get(camera)
        if view is None:
            return
        view.set_frame(image)
        view.set_points(fb.corners, found=fb.found)
        view.set_status(fb.message)
        bar = self.coverage_bars[camera]
        bar.setValue(int(round(100 * fb.coverage)))
        bar.setFormat(f"{fb.views} views, %p% covered")

    def update_status(self) -> None:
        """'Enough views' feedback from the session."""
        if self.session is None:
            return
        st = self.session.status()
        ready = st.ready_extrinsics if len(self.session.cameras) >= 2 else st.ready_intrinsics
        for name, info in st.per_camera.items():
            bar = self.coverage_bars.get(name)
            if bar is not None:
                bar.setValue(int(round(100 * info["coverage"])))
                bar.setFormat(f"{info['views']} views, %p% covered" + (" ✓" if info["ready"] else ""))
        feeding = " (collecting…)" if self.feeding() else ""
        if ready:
            self.ready_label.setText(f"<span style='color:#1a8a3a'><b>Enough views</b></span>: ready to "
                                     f"calibrate{feeding}")
        else:
            self.ready_label.setText(f"<span style='color:#b06000'><b>Not enough views yet</b></span>{feeding}: "
                                     f"{st.message}")
        self._update_buttons()

    # -- solving -----------------------------------------------------------------------------------------
    def solve(self) -> Worker | None:
        """Solve intrinsics and extrinsics on a worker thread (progress bar; Cancel stops it)."""
        if self.session is None:
            self.show_error("start collecting first")
            return None
        if self.worker is not None and self.worker.isRunning():
            return self.worker
        self.stop_feeding()
        self.message.setText("")
        self._cancel = threading.Event()
        session, cancel, floor = self.session, self._cancel, self.floor_check.isChecked()
        worker = Worker(lambda progress: session.solve(progress, cancel, set_floor=floor), "calibration", self)
        worker.progressed.connect(lambda text, frac: (self.progress.setValue(int(1000 * frac)),
                                                      self.progress.setFormat(f"{text} %p%")))
        worker.failed.connect(self.show_error)
        worker.succeeded.connect(self._show_result)
        worker.finished.connect(self._update_buttons)
        self.worker = worker
        self.progress.setValue(0)
        worker.start()
        self._update_buttons()
        return worker

    def cancel(self) -> None:
        if getattr(self, "_cancel", None) is not None:
            self._cancel.set()

    def _show_result(self, result) -> None:
        self.result = result
        names = result.rig.names
        self.results.setRowCount(len(names))
        for r, name in enumerate(names):
            intr = result.intrinsics.get(name)
            ext = result.extrinsics.per_camera.get(name, {}) if result.extrinsics is not None else {}
            cells = [name, f"{intr.rms:.3f}" if intr else "given", str(len(intr.views)) if intr else "",
                     f"{ext['mean_px']:.3f}" if "mean_px" in ext else "", str(ext.get("observations", ""))]
            for c, text in enumerate(cells):
                self.results.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        lines = []
        if result.extrinsics is not None:
            m = result.extrinsics.metric
            lines.append(f"Extrinsics RMS {result.extrinsics.rms_px:.3f} px. Metric check: neighbouring corners "
                         f"{m.mean_m * 1000:.2f} mm apart for a {m.square_m * 1000:.2f} mm square "
                         f"({m.relative_error:+.2%}), mean |error| {m.mean_abs_error_mm:.2f} mm over {m.pairs} pairs.")
        lines.append(f"Floor: {'board of frame %d' % result.floor_frame if result.floor_frame is not None else 'not set (first camera is the world origin)'}; "
                     f"units {result.rig.units}, up {result.rig.up}.")
        lines += [f"warning: {w}" for w in result.warnings]
        self.metric_label.setText("\n".join(lines))
        self.progress.setFormat("done")
        self.progress.setValue(1000)
        self._update_buttons()

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write the calibration (Anipose/Pose2Sim TOML); None (and a message) on failure."""
        if self.result is None:
            self.show_error("calibrate first")
            return None
        if path is None and not self.save_edit.text().strip():
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save calibration", "calibration.toml",
                                                            "Calibration (*.toml)")
            if not path:
                return None
        path = Path(path or self.save_edit.text().strip())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.result.rig.save(path)
        except Exception as exc:
            self.show_error(f"cannot save {path}: {exc}")
            return None
        self.message.setStyleSheet("color: #1a8a3a; font-weight: bold;")
        self.message.setText(f"saved {path}")
        return path

    def closeEvent(self, event) -> None:
        self.stop_feeding()
        self.cancel()
        if self.worker is not None:
            self.worker.wait(10000)
        self.status_timer.stop()
        super().closeEvent(event)


def run_wizard_headless(specs: list[str], board: str, square: str, screenshot: Path | None,
                        timeout: float = 600.0) -> dict:
    """Collect the images, solve and save a picture of the wizard (``ppt-mocap gui --wizard-images``)."""
    from app.gui.qt_app import application, wait_events

    application()
    wizard = CalibrationWizard()
    wizard.board_edit.setText(board)
    wizard.square_edit.setText(square)
    wizard.set_images(specs)
    wizard.show()
    out: dict = {}
    try:
        if not wizard.start_collecting():
            raise ValueError(wizard.errors[-1])
        end = time.monotonic() + timeout
        while wizard.feeding() and time.monotonic() < end:
            wait_events(0.1)
        wizard.update_status()
        worker = wizard.solve()
        while worker is not None and not worker.isFinished() and time.monotonic() < end:
            wait_events(0.1)
        wait_events(0.3)
        if wizard.result is None:
            raise ValueError(wizard.errors[-1] if wizard.errors else "calibration did not finish")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            wizard.grab().save(str(screenshot))
            out["screenshot"] = str(screenshot)
        out["errors"] = list(wizard.errors)
    finally:
        wizard.close()
    return out
