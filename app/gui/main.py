"""The desktop app's main window: live capture (camera grid, token masks, 3D, plots), recording, replay, the
calibration wizard, and the headless screenshot / measurement modes.

The window is a thin view over :class:`core.pipeline.Pipeline`: one ``QTimer`` pulls ``pipeline.latest()`` at
display rate and updates items in place; pipeline events arrive through an ``EventBus`` subscription relayed to
the GUI thread by a Qt signal and are shown in the status area.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from app.gui.config import GUI_BACKENDS, STUDIO_PRESETS, RunConfig, build_pipeline
from app.gui.qt_app import APP, ORG, application, has_display, wait_events
from app.gui.views import MocapViews, token_masks

log = logging.getLogger(__name__)

DEFAULT_SESSIONS = Path.home() / "ppt-mocap" / "sessions"
DISPLAY_INTERVAL_MS = 4  # the display timer polls latest() this often; it draws only new results
METRICS_INTERVAL_MS = 500


class _EventRelay(QtCore.QObject):
    """Receives EventBus callbacks on any thread and re-emits them on the GUI thread."""

    event = QtCore.pyqtSignal(object)


class MainWindow(QtWidgets.QMainWindow):
    """The app. ``settings``: a ``QSettings`` (default: the user's); ``config``: what to run (default: remembered)."""

    def __init__(self, settings: QtCore.QSettings | None = None, config: RunConfig | None = None) -> None:
        super().__init__()
        self.setWindowTitle("ppt-mocap")
        self.settings = settings or QtCore.QSettings(ORG, APP)
        self.config = config or self._load_config()
        self.pipeline = None
        self._last_index = -1
        self._display_times: list[float] = []
        self.display_busy_s = 0.0  # GUI-thread time spent drawing results
        self.errors: list[str] = []
        self.warnings: list[str] = []  # e.g. frames whose size differs from the calibration (kept in the event list)
        self._starter = None  # worker building the pipeline (Start button)
        self._relay = _EventRelay()
        self._relay.event.connect(self._on_event)
        self.views = MocapViews()
        self.views.camera_clicked.connect(self.select_subject)
        self._build_toolbar()
        from app.gui.replay import ReplayPanel

        self.replay = ReplayPanel(self)
        self.replay.hide()
        self._build_status_area()
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.banner)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.replay)
        self.setCentralWidget(central)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self._last_metrics = 0.0
        self.wizard = None
        self.resize(1500, 900)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QtCore.QByteArray):
            self.restoreGeometry(geometry)
        self.refresh_backends()
        self._sync_controls()

    # -- layout ---------------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = self.addToolBar("main")
        bar.setMovable(False)
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start_async())
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.source_combo = QtWidgets.QComboBox()
        for preset in STUDIO_PRESETS:
            self.source_combo.addItem(f"Virtual studio: {preset}", preset)
        self.source_combo.addItem("Cameras / URLs / files", None)
        self.source_combo.currentIndexChanged.connect(self._source_changed)
        self.setup_button = QtWidgets.QPushButton("Setup…")
        self.setup_button.setToolTip("sources, calibration, model weights and backend")
        self.setup_button.clicked.connect(self.open_setup)
        self.backend_combo = QtWidgets.QComboBox()
        self.backend_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.backend_combo.addItems(GUI_BACKENDS)
        self.backend_combo.currentIndexChanged.connect(lambda _i: self._backend_changed(
            self.backend_combo.currentText()))
        self.record_name = QtWidgets.QLineEdit()
        self.record_name.setPlaceholderText("session name")
        self.record_name.setMaximumWidth(150)
        self.record_button = QtWidgets.QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.toggled.connect(self._record_toggled)
        self.sessions_button = QtWidgets.QPushButton("Sessions…")
        self.sessions_button.clicked.connect(self.open_session_browser)
        self.live_button = QtWidgets.QPushButton("Live")
        self.live_button.clicked.connect(self.show_live)
        self.calibrate_button = QtWidgets.QPushButton("Calibrate…")
        self.calibrate_button.clicked.connect(self.open_wizard)
        self.token_combo = QtWidgets.QComboBox()
        self.token_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.token_combo.setMinimumContentsLength(16)
        self.token_combo.setToolTip("image regions the model kept at each token-pruning (HTI) stage")
        self.token_combo.currentIndexChanged.connect(self._token_stage_changed)
        self.joint_combo = QtWidgets.QComboBox()
        self.joint_combo.setToolTip("joint whose trajectory is plotted")
        self.joint_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.joint_combo.currentIndexChanged.connect(lambda i: self.views.set_joint(max(0, i)))
        for w in (self.start_button, self.stop_button):
            bar.addWidget(w)
        bar.addSeparator()
        bar.addWidget(QtWidgets.QLabel(" Source "))
        bar.addWidget(self.source_combo)
        bar.addWidget(QtWidgets.QLabel(" Backend "))
        bar.addWidget(self.backend_combo)
        bar.addWidget(self.setup_button)
        bar.addSeparator()
        bar.addWidget(self.record_name)
        bar.addWidget(self.record_button)
        bar.addWidget(self.sessions_button)
        bar.addWidget(self.live_button)
        bar.addWidget(self.calibrate_button)
        bar.addSeparator()
        bar.addWidget(QtWidgets.QLabel(" Tokens "))
        bar.addWidget(self.token_combo)
        bar.addWidget(QtWidgets.QLabel(" Joint "))
        bar.addWidget(self.joint_combo)
        saved = self.settings.value("view/token_stage")
        self._pending_stage = int(saved) if str(saved).isdigit() else 1  # combo index; 1 = heat
        self._set_token_stages(0, [])

    def _build_status_area(self) -> None:
        self.banner = QtWidgets.QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #7a1f1f; color: white; padding: 4px; font-weight: bold;")
        self.banner.hide()
        self.banner.setToolTip("click to dismiss (the event list below keeps every message)")
        self.banner.mousePressEvent = lambda _event: self.clear_banner()
        self.event_log = QtWidgets.QListWidget()
        self.event_log.setMaximumHeight(90)
        dock = QtWidgets.QDockWidget("Events", self)
        dock.setWidget(self.event_log)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.backend_label = QtWidgets.QLabel("")
        self.rate_label = QtWidgets.QLabel("")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        status = self.statusBar()
        status.addWidget(self.backend_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.rate_label)

    # -- configuration ----------------------------------------------------------------------------------
    def _load_config(self) -> RunConfig:
        raw = self.settings.value("run/config")
        try:
            return RunConfig.from_dict(json.loads(raw)) if raw else RunConfig()
        except (TypeError, ValueError) as exc:
            log.warning("ignoring unreadable saved run settings: %s", exc)
            return RunConfig()

    def save_settings(self) -> None:
        self.settings.setValue("run/config", json.dumps(self.config.to_dict()))
        self.settings.setValue("view/token_stage", self.token_combo.currentIndex() if self.token_combo.count() > 1
                               else self._pending_stage)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()

    def set_config(self, config: RunConfig) -> None:
        """Use ``config`` for the next Start."""
        self.config = config
        self._sync_controls()

    def _sync_controls(self) -> None:
        for w in (self.source_combo, self.backend_combo):
            w.blockSignals(True)
        i = self.source_combo.findData(self.config.studio) if self.config.studio else self.source_combo.count() - 1
        self.source_combo.setCurrentIndex(max(0, i))
        finetuned = self.backend_combo.findData(self.config.weights) if self.config.backend == "ppt" else -1
        if finetuned >= 0:
            self.backend_combo.setCurrentIndex(finetuned)
        else:
            self.backend_combo.setCurrentText(self.config.backend)
        for w in (self.source_combo, self.backend_combo):
            w.blockSignals(False)
        running = self.pipeline is not None
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.record_button.setEnabled(running)
        for w in (self.source_combo, self.backend_combo, self.setup_button):
            w.setEnabled(not running)

    def _source_changed(self, _index: int) -> None:
        self.config.studio = self.source_combo.currentData()
        if self.config.studio is None and not self.config.sources:
            self.open_setup()

    def _backend_changed(self, name: str) -> None:
        weights = self.backend_combo.currentData()
        if weights:  # fine-tuned weights: PPT with that file
            self.config.backend, self.config.weights = "ppt", weights
        else:
            self.config.backend = name

    def refresh_backends(self) -> None:
        """The backend list: the run backends, then the weights of the fine-tuning runs of the sessions under the
        sessions folder (``SESSION/finetune/<run>/weights.pth``), each as PPT with that file."""
        from core.finetune.run import finetuned_weights

        self.backend_combo.blockSignals(True)
        self.backend_combo.clear()
        self.backend_combo.addItems(GUI_BACKENDS)
        try:
            found = finetuned_weights(self.sessions_root())
        except OSError as exc:
            log.warning("cannot list fine-tuned weights under %s: %s", self.sessions_root(), exc)
            found = []
        for label, path in found:
            self.backend_combo.addItem(f"ppt · {label}", str(path))
            self.backend_combo.setItemData(self.backend_combo.count() - 1, str(path),
                                           QtCore.Qt.ItemDataRole.ToolTipRole)
        known = {str(p) for _, p in found}
        for path in getattr(self, "_chosen_weights", []):  # chosen with use_weights, outside the sessions folder
            if path not in known and Path(path).is_file():
                self.backend_combo.addItem(f"ppt · {Path(path).parent.name}/{Path(path).name}", path)
        self.backend_combo.blockSignals(False)
        self._sync_controls()

    def use_weights(self, path) -> None:
        """Run PPT with the weights file ``path`` from the next Start (e.g. fine-tuned weights)."""
        self.config.backend, self.config.weights = "ppt", str(path)
        self._chosen_weights = list(dict.fromkeys(getattr(self, "_chosen_weights", []) + [str(path)]))
        self.refresh_backends()
        self.save_settings()
        self.show_info(f"2D backend: PPT with {path} (from the next Start)")

    def open_setup(self) -> None:
        from app.gui.setup_dialog import SetupDialog

        dialog = SetupDialog(self.config, self)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted:
            self.set_config(dialog.config())
            self.save_settings()

    # -- messages -------------------------------------------------------------------------------------
    def select_subject(self, camera: str, x: float, y: float) -> None:
        """Follow the person clicked in a live camera view (top-down backends find people; others ignore it)."""
        pipeline = self.pipeline
        if pipeline is None or getattr(pipeline, "locator", None) is None:
            return
        pipeline.select_subject(camera, (x, y))
        self.show_info(f"following the person clicked in {camera} at ({x:.0f}, {y:.0f})")

    def show_error(self, text: str) -> None:
        """Show an error in the window (banner + event list); the app keeps running."""
        log.error("%s", text)
        self.errors.append(text)
        self.banner.setText(f"⚠ {text}")
        self.banner.show()
        self._log_line("error", text)

    def show_info(self, text: str) -> None:
        self._log_line("info", text)
        self.statusBar().showMessage(text, 8000)

    def _log_line(self, kind: str, text: str) -> None:
        item = QtWidgets.QListWidgetItem(f"{time.strftime('%H:%M:%S')}  [{kind}] {text}")
        if kind in ("error", "camera_error", "camera_lost"):
            item.setForeground(QtGui.QColor(200, 40, 40))
        elif kind == "warning":
            item.setForeground(QtGui.QColor(190, 120, 0))
        self.event_log.addItem(item)
        if self.event_log.count() > 500:
            self.event_log.takeItem(0)
        self.event_log.scrollToBottom()

    def clear_banner(self) -> None:
        self.banner.hide()

    def _on_event(self, event) -> None:
        """A pipeline event, on the GUI thread."""
        self._log_line(event.kind, event.message)
        if event.is_error:
            self.errors.append(event.message)
            self.banner.setText(f"⚠ {event.message}")
            self.banner.show()
        if event.kind in ("person_lost", "person_found"):
            self.statusBar().showMessage(event.message, 0 if event.kind == "person_lost" else 8000)
        if event.kind == "warning":
            self.warnings.append(event.message)
            self.statusBar().showMessage(f"⚠ {event.message}", 30000)
        if event.camera and event.kind == "camera_lost":
            self.views.lost.add(event.camera)
            self.views.set_camera_status(event.camera, "lost", message="camera lost")
        elif event.camera and event.kind in ("camera_back", "camera_opened"):
            self.views.lost.discard(event.camera)
            self.views.set_camera_status(event.camera, "", message="")
            if event.kind == "camera_back" and not self.views.lost:
                self.clear_banner()  # every camera is back; the event list keeps the history

    # -- progress -------------------------------------------------------------------------------------
    def begin_progress(self, text: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat(f"{text} %p%")
        self.progress.show()

    def set_progress(self, text: str, fraction: float) -> None:
        self.progress.setFormat(f"{text} %p%")
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))

    def end_progress(self) -> None:
        self.progress.hide()

    # -- live -----------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Build and start the pipeline from the current configuration (blocking); False (and a message) on bad
        input. The Start button uses :meth:`start_async`."""
        if self.pipeline is not None:
            return True
        self._prepare_start()
        try:
            pipeline = build_pipeline(self.config)
        except Exception as exc:  # bad calibration, weights for another model, no sources...
            self.show_error(f"cannot start: {exc}")
            return False
        return self._run_pipeline(pipeline)

    def start_async(self):
        """Build the pipeline (model, sources) on a worker thread with a busy progress bar, then start it."""
        from app.gui.workers import Worker

        if self.pipeline is not None or (self._starter is not None and self._starter.isRunning()):
            return self._starter
        self._prepare_start()
        config = RunConfig.from_dict(self.config.to_dict())
        worker = Worker(lambda progress: build_pipeline(config), "starting", self)
        worker.failed.connect(lambda msg: (self._end_busy(), self.show_error(f"cannot {msg}")))
        worker.succeeded.connect(lambda pipeline: (self._end_busy(), self._run_pipeline(pipeline)))
        self.start_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy
        self.progress.setFormat("starting")
        self.progress.show()
        self._starter = worker
        worker.start()
        return worker

    def _end_busy(self) -> None:
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self._sync_controls()

    def _prepare_start(self) -> None:
        self.replay.close_session()
        self.replay.hide()
        self.clear_banner()
        self.show_info(f"starting: {self.config.describe()}")
        QtWidgets.QApplication.processEvents()

    def _run_pipeline(self, pipeline) -> bool:
        pipeline.events.subscribe(self._relay.event.emit)
        try:
            pipeline.start()
        except Exception as exc:
            self.show_error(f"cannot start: {exc}")
            return False
        self.pipeline = pipeline
        self._last_index = -1
        self._display_times.clear()
        self.views.set_rig(pipeline.rig)
        self.views.plot_tabs.setCurrentWidget(self.views.latency)
        self._set_backend_label(pipeline.backend_settings())
        self.save_settings()
        self.timer.start(DISPLAY_INTERVAL_MS)
        self._sync_controls()
        return True

    def stop(self) -> None:
        """Stop recording and the pipeline (the last picture stays)."""
        if self.pipeline is None:
            return
        pipeline, self.pipeline = self.pipeline, None
        self.timer.stop()
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        try:
            pipeline.stop(close_backend=True)
        finally:
            pipeline.events.unsubscribe(self._relay.event.emit)
        self.rate_label.setText(f"stopped after {pipeline.metrics().results} results")
        self._sync_controls()

    def _set_backend_label(self, backend: dict) -> None:
        """``backend``: the pipeline's :meth:`core.pipeline.Pipeline.backend_settings`."""
        self.backend_label.setText(f"2D backend: {backend.get('description') or backend.get('backend')}")
        random = bool(backend.get("random_init"))
        self.backend_label.setStyleSheet("color: #c03030; font-weight: bold;" if random else "")
        self.setWindowTitle("ppt-mocap" + (" (RANDOM WEIGHTS: keypoints are meaningless)" if random else ""))

    def _set_token_stages(self, count: int, layers: list[int]) -> None:
        current = self.token_combo.currentText() if self.token_combo.count() > 1 else None
        self.token_combo.blockSignals(True)
        self.token_combo.clear()
        self.token_combo.addItem("off")
        if count:
            self.token_combo.addItem("heat (all stages)")
            for s in range(count):
                layer = f", layer {layers[s]}" if s < len(layers) else ""
                self.token_combo.addItem(f"stage {s + 1}{layer}")
        i = self.token_combo.findText(current) if current is not None else -1
        if i < 0 and count:
            i = self._pending_stage if self._pending_stage is not None and self._pending_stage < count + 2 else 1
        self.token_combo.setCurrentIndex(max(0, i))
        self.token_combo.blockSignals(False)

    def token_stage(self) -> int | None | bool:
        """Selected stage index, ``None`` for heat, ``False`` for off."""
        text = self.token_combo.currentText()
        if text.startswith("stage"):
            return int(text.split()[1].rstrip(",")) - 1
        return None if text.startswith("heat") else False

    def set_token_stage(self, stage: int | None | bool) -> None:
        """Select a stage (0-based), ``None`` for the heat map or ``False`` for off."""
        index = 0 if stage is False else 1 if stage is None else 2 + int(stage)
        self._pending_stage = index
        if index < self.token_combo.count():
            self.token_combo.setCurrentIndex(index)
        else:  # stages are known after the first result
            self._pending_stage = index

    def _token_stage_changed(self, _i: int) -> None:
        self._last_index = -1  # redraw the current result with the new stage
        self.replay.redraw()

    def _set_joints(self, skeleton) -> None:
        if self.joint_combo.count() == skeleton.num_joints and self.joint_combo.itemText(0) == skeleton.joints[0]:
            return
        self.joint_combo.blockSignals(True)
        self.joint_combo.clear()
        self.joint_combo.addItems(list(skeleton.joints))
        saved = self.settings.value("view/joint")
        default = saved if saved in skeleton.joints else next((j for j in skeleton.joints if "wrist" in j.lower()),
                                                              skeleton.joints[0])
        self.joint_combo.setCurrentText(default)
        self.joint_combo.blockSignals(False)
        self.views.skeleton = skeleton
        self.views.set_joint(self.joint_combo.currentIndex())

    def masks_for(self, poses_2d, frame_set) -> dict:
        stage = self.token_stage()
        if stage is False:
            return {}
        try:
            return token_masks(poses_2d, frame_set, stage)
        except ValueError as exc:
            self.show_error(f"token view: {exc}")
            self.set_token_stage(False)
            return {}

    def tick(self) -> None:
        """Display timer: draw the newest result if there is one (never waits for the pipeline)."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        now = time.monotonic()
        if now - self._last_metrics >= METRICS_INTERVAL_MS / 1000:
            self._last_metrics = now
            self.update_metrics()
        result = pipeline.latest()
        if result is None or result.index == self._last_index:
            if pipeline.finished.is_set():
                self.show_info("all sources ended")
                self.stop()
            return
        self._last_index = result.index
        t_tick = time.perf_counter()
        p2 = result.poses_2d
        if p2.kept_tokens and self.token_combo.count() != 2 + len(p2.kept_tokens):
            layers = list(pipeline.backend_settings().get("pruning_layers", ()))
            self._set_token_stages(len(p2.kept_tokens), layers)
        self._set_joints(p2.skeleton)
        self.views.show_result(result.frame_set, p2.skeleton, p2.keypoints, p2.confidence, result.pose_3d.points,
                               self.masks_for(p2, result.frame_set), latency_ms=result.timings.durations_ms(),
                               boxes=p2.boxes, box_source=p2.box_source)
        self.views.redraw()
        self.display_busy_s += time.perf_counter() - t_tick
        now = time.monotonic()
        self._display_times.append(now)
        self._display_times = [t for t in self._display_times if now - t < 2.0]

    def display_fps(self) -> float:
        """New results drawn per second over the last ~2 s."""
        t = self._display_times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 and t[-1] > t[0] else 0.0

    def update_metrics(self) -> None:
        """Per-camera FPS, drops and sync spread; rates in the status bar and the FPS plot (2 Hz)."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        m = pipeline.metrics()
        spread = m.sync.get("spread_ms_mean", float("nan"))
        latest = pipeline.latest()
        frames = latest.frame_set.frames if latest is not None else {}
        for name, cam in m.cameras.items():
            state = "" if cam.get("connected", True) else "  LOST"
            frame = frames.get(name)
            offset = (f"  sync {(frame.t_capture_ns - latest.frame_set.t_ns) / 1e6:+.1f} ms"
                      if frame is not None and frame.t_capture_ns >= 0 else "")
            self.views.set_camera_status(name, f"{cam.get('fps', 0):.1f} fps  {cam.get('dropped', 0)} dropped"
                                               f"{offset}{state}")
        display = self.display_fps()
        self.views.fps.append(time.monotonic(), {"pipeline": m.fps, "display": display})
        lat = m.latency_ms.get("glass_to_skeleton", {})
        rec = ""
        if m.recording:
            rec = f"  ● REC {m.recording.get('frames_written', 0)} frames"
        self.rate_label.setText(f"pipeline {m.fps:.1f} fps  display {display:.1f} fps  sync spread {spread:.1f} ms  "
                                f"glass-to-skeleton p50 {lat.get('p50', float('nan')):.0f} ms  "
                                f"results {m.results}  errors {m.errors}{rec}")

    # -- recording ------------------------------------------------------------------------------------
    def sessions_root(self) -> Path:
        return Path(str(self.settings.value("sessions/root", str(DEFAULT_SESSIONS))))

    def set_sessions_root(self, path) -> None:
        self.settings.setValue("sessions/root", str(path))

    def start_recording(self, name: str | None = None) -> Path | None:
        """Record into ``<sessions root>/<name>`` (default: a timestamped name); None (and a message) on failure."""
        if self.pipeline is None:
            self.show_error("start capture before recording")
            return None
        name = (name or self.record_name.text().strip() or time.strftime("take_%Y%m%d_%H%M%S"))
        folder = self.sessions_root() / name
        try:
            self.pipeline.start_recording(folder, name="live")
        except Exception as exc:
            self.show_error(f"cannot record into {folder}: {exc}")
            self.record_button.blockSignals(True)
            self.record_button.setChecked(False)
            self.record_button.blockSignals(False)
            return None
        self.record_button.blockSignals(True)
        self.record_button.setChecked(True)
        self.record_button.blockSignals(False)
        self.record_button.setText("■ Stop recording")
        return folder

    def stop_recording(self) -> Path | None:
        recorder = self.pipeline.stop_recording() if self.pipeline is not None else None
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self.record_button.setText("● Record")
        return Path(recorder.folder) if recorder is not None else None

    def _record_toggled(self, on: bool) -> None:
        if on:
            self.start_recording()
        else:
            self.stop_recording()

    # -- replay / calibration -------------------------------------------------------------------------
    def open_session_browser(self) -> None:
        from app.gui.replay import SessionBrowser

        dialog = SessionBrowser(self.sessions_root(), self)
        accepted = dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted
        if dialog.root != self.sessions_root():
            self.set_sessions_root(dialog.root)
            self.refresh_backends()
        if accepted and dialog.teach is not None:
            self.open_teach(dialog.teach)
        elif accepted and dialog.selected is not None:
            self.open_session(dialog.selected)

    def open_teach(self, session) -> "QtWidgets.QDialog":
        """The "Teach the model this session" dialog for ``session`` (labels, fine-tuning, the new weights)."""
        from app.gui.finetune import TeachDialog

        dialog = TeachDialog(Path(session), self)
        self.teach_dialogs = [d for d in getattr(self, "teach_dialogs", []) if d.isVisible()] + [dialog]
        dialog.show()
        return dialog

    def open_session(self, path) -> bool:
        """Stop live capture and replay the session folder ``path``; False (and a message) if it cannot be read."""
        self.stop()
        self.clear_banner()
        if not self.replay.open_session(Path(path)):
            return False
        self.replay.show()
        return True

    def show_live(self) -> None:
        self.replay.close_session()
        self.replay.hide()

    def open_wizard(self):
        from app.gui.calibration_wizard import CalibrationWizard

        if self.wizard is None:
            self.wizard = CalibrationWizard(self)
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.save_settings()
        if self._starter is not None and self._starter.isRunning():
            self._starter.wait(60000)
            QtWidgets.QApplication.processEvents()  # deliver its result so the pipeline is stopped below
        self.stop()
        self.replay.shutdown()
        for dialog in getattr(self, "teach_dialogs", []):
            dialog.close()  # stops a running fine-tuning at its next step (resumable)
        self.replay.close_session()
        if self.wizard is not None:
            self.wizard.close()
        self.views.close_views()
        super().closeEvent(event)


# -- entry points ---------------------------------------------------------------------------------------
def run_app(config: RunConfig | None = None, autostart: bool = False, session: Path | None = None,
            token_stage: int | None | bool = None) -> int:
    """Open the window and run the event loop (``ppt-mocap`` with no arguments); 2 when there is no display.

    ``autostart`` starts capturing at once; ``session`` opens that session for replay instead."""
    if not has_display():
        print("ppt-mocap: no display (DISPLAY / WAYLAND_DISPLAY unset). Run `ppt-mocap demo` (saves a screenshot "
              "off-screen), `ppt-mocap gui --screenshot FILE`, or set QT_QPA_PLATFORM=offscreen.", file=sys.stderr)
        return 2
    app = application()
    window = MainWindow(config=config)
    if token_stage is not None:
        window.set_token_stage(token_stage)
    window.show()
    if session is not None:
        QtCore.QTimer.singleShot(200, lambda: window.open_session(session))
    elif autostart:
        QtCore.QTimer.singleShot(200, window.start_async)
    return app.exec()


def run_headless(screenshot: Path | None, after: float, config: RunConfig | None = None,
                 session: Path | None = None, measure: float | None = None,
                 settings: QtCore.QSettings | None = None, token_stage: int | None | bool = None) -> dict:
    """Run the app for ``after`` seconds (live on ``config``, or replaying ``session``), save a picture of the whole
    window, close. With ``measure``: pipeline vs display rate over that many seconds after a warm-up."""
    import tempfile

    application()
    tmp = tempfile.TemporaryDirectory(prefix="ppt-mocap-gui-")
    if settings is None:  # a fresh settings file: headless runs do not depend on (or change) the user's
        settings = QtCore.QSettings(str(Path(tmp.name) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, config=config or RunConfig())
    window.resize(1500, 900)
    window.show()
    window.set_token_stage(token_stage)
    out: dict = {}
    try:
        if session is not None:
            if not window.open_session(session):
                raise ValueError(window.errors[-1] if window.errors else f"cannot open session {session}")
            window.replay.play()
        elif not window.start():
            raise ValueError(window.errors[-1] if window.errors else "the pipeline did not start")
        wait_events(after)
        if measure and window.pipeline is not None:
            p = window.pipeline
            r0, d0, b0, t0 = p.metrics().results, window.views.frames_shown, window.display_busy_s, time.monotonic()
            wait_events(measure)
            r1, d1, b1, t1 = p.metrics().results, window.views.frames_shown, window.display_busy_s, time.monotonic()
            out.update(pipeline_fps=(r1 - r0) / (t1 - t0), display_fps=(d1 - d0) / (t1 - t0),
                       draw_ms=1000 * (b1 - b0) / max(1, d1 - d0), seconds=t1 - t0,
                       backend=p.backend_settings().get("description"), cameras=len(p.rig))
        window.views.redraw(force_3d=True)
        wait_events(0.2)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(screenshot)):
                raise OSError(f"could not write the screenshot {screenshot}")
            out["screenshot"] = str(screenshot)
        out["errors"] = list(window.errors)
    finally:
        window.close()
        tmp.cleanup()
    return out
