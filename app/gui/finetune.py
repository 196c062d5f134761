""""Teach the model this session": bootstrapped labels, then fine-tuning with a progress bar and the held-out
figures plotted as it trains; the new weights become a backend of the app.

A thin view over :mod:`core.finetune`: the work runs on a :class:`TeachWorker` thread (labels with
:func:`core.finetune.labels.make_labels`, training with :func:`core.finetune.run.finetune`), which reports stages,
epochs and the end through Qt signals. **Stop** asks the run to stop at its next step: the last finished epoch
stays in the run folder and **Teach** again resumes it; weights are only written when a run ends.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

log = logging.getLogger(__name__)


class TeachWorker(QtCore.QThread):
    """Labels (unless a complete label set of the teacher exists) then fine-tuning, off the GUI thread.

    Signals: ``stage(text, fraction)`` overall progress in [0, 1]; ``started_run(dict)`` (figures before, split);
    ``epoch(dict)`` (a row of held-out figures); ``done(dict)`` (the run summary); ``failed(str)``.
    """

    stage = QtCore.pyqtSignal(str, float)
    started_run = QtCore.pyqtSignal(object)
    epoch = QtCore.pyqtSignal(object)
    done = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)

    LABEL_SHARE = 0.25  # of the progress bar

    def __init__(self, session: Path, teacher: str, result: str | None, options, relabel: bool = False,
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.teacher, self.result, self.options, self.relabel = session, teacher, result, options, relabel
        self._stop = threading.Event()
        self.summary: dict | None = None
        self.error: str | None = None

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        from core.finetune.labels import LabelSet, list_label_sets, make_labels
        from core.finetune.run import FinetuneStopped, finetune

        try:
            name = self.result or ("mediapipe" if self.teacher == "mediapipe" else None)
            have = name in list_label_sets(self.session) if name else False
            if have and not self.relabel:
                labels = LabelSet(self.session, name)
                self.stage.emit(f"using labels/{name}", self.LABEL_SHARE)
            else:
                labels = make_labels(self.session, self.teacher, self.result, name=name, overwrite=self.relabel,
                                     on_progress=lambda text, f: self.stage.emit(f"labels: {text}",
                                                                                 self.LABEL_SHARE * f))
            if self._stop.is_set():
                raise FinetuneStopped("stopped after labelling")
            self.options.labels = labels.name

            def progress(kind: str, info: dict) -> None:
                frac = self.LABEL_SHARE + (1 - self.LABEL_SHARE) * float(info.get("fraction", 0.0))
                if kind == "start":
                    self.started_run.emit(info)
                    self.stage.emit("fine-tuning", self.LABEL_SHARE)
                elif kind == "step":
                    self.stage.emit(f"fine-tuning: epoch {info['epoch'] + 1}, step {info['iteration']}/"
                                    f"{info['iterations']}", frac)
                elif kind == "epoch":
                    self.epoch.emit(info)

            self.summary = finetune(self.options, on_progress=progress, stop=self._stop.is_set)
            self.done.emit(self.summary)
        except FinetuneStopped as exc:
            self.error = str(exc)
            self.failed.emit(f"stopped: {exc}")
        except Exception as exc:  # bad sessions and weights are reported in the dialog; the app keeps running
            log.exception("teaching %s failed", self.session)
            self.error = str(exc)
            self.failed.emit(str(exc))


class TeachDialog(QtWidgets.QDialog):
    """Teach the model one session: teacher, init weights, schedule; progress, held-out plot, use the weights.

    Args:
        session: the session folder.
        window: the main window (its run config gives the default weights; "Use these weights" sets it), or None.
    """

    def __init__(self, session: Path, window=None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent or window)
        from core.finetune.labels import list_label_sets
        from core.inference.weights import DEMO_WEIGHTS
        from core.session.replay import list_results

        self.session = Path(session)
        self.window = window
        self.worker: TeachWorker | None = None
        self.summary: dict | None = None
        self.rows: list[dict] = []
        self.before: dict | None = None
        self.setWindowTitle(f"Teach the model: {self.session.name}")
        self.resize(720, 620)
        self.teacher = QtWidgets.QComboBox()
        self.teacher.addItem("MediaPipe BlazePose (run now)", ("mediapipe", None))
        for name in list_results(self.session):
            self.teacher.addItem(f"recorded result set: {name}", ("recorded", name))
        labels = list_label_sets(self.session)
        self.relabel = QtWidgets.QCheckBox("label again" + (f" (has {', '.join(labels)})" if labels else ""))
        config = getattr(window, "config", None)
        weights = (config.weights if config is not None and config.backend == "ppt" and config.weights
                   else str(DEMO_WEIGHTS))
        self.weights = QtWidgets.QLineEdit(str(weights))
        browse = QtWidgets.QPushButton("…")
        browse.clicked.connect(self._browse)
        wrow = QtWidgets.QHBoxLayout()
        wrow.addWidget(self.weights, 1)
        wrow.addWidget(browse)
        self.epochs = QtWidgets.QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(20)
        self.holdout = QtWidgets.QDoubleSpinBox()
        self.holdout.setRange(0.05, 0.9)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.3)
        self.minutes = QtWidgets.QDoubleSpinBox()
        self.minutes.setRange(0, 10000)
        self.minutes.setValue(0)
        self.minutes.setSpecialValueText("no limit")
        form = QtWidgets.QFormLayout()
        form.addRow("Session", QtWidgets.QLabel(str(self.session)))
        form.addRow("Teacher", self.teacher)
        form.addRow("", self.relabel)
        form.addRow("Start from weights", wrow)
        form.addRow("Epochs", self.epochs)
        form.addRow("Held out (end of session)", self.holdout)
        form.addRow("Time limit (min)", self.minutes)
        self.status = QtWidgets.QLabel("Labels the session with the teacher, then fine-tunes the weights; the last "
                                       "part of the session is held out and evaluated after every epoch.")
        self.status.setWordWrap(True)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.plot = pg.PlotWidget(title="Held-out 3D error against the labels")
        self.plot.setBackground("w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("left", "median 3D error", units="mm")
        self.plot.setLabel("bottom", "epoch")
        self.plot.addLegend(offset=(5, 5), labelTextColor=(40, 40, 40))
        self.curve = self.plot.plot([], [], name="fine-tuned", pen=pg.mkPen((31, 119, 180), width=2), symbol="o",
                                    symbolSize=6, symbolBrush=(31, 119, 180))
        self.before_line = self.plot.plot([], [], name="before", pen=pg.mkPen((214, 39, 40), width=1,
                                                                              style=QtCore.Qt.PenStyle.DashLine))
        self.baseline_line = self.plot.plot([], [], name="training mean pose",
                                            pen=pg.mkPen((120, 120, 120), width=1, style=QtCore.Qt.PenStyle.DotLine))
        self.teach_button = QtWidgets.QPushButton("Teach")
        self.teach_button.clicked.connect(lambda: self.start())
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.use_button = QtWidgets.QPushButton("Use these weights")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.use_weights)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.teach_button, self.stop_button, self.use_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.plot, 1)
        layout.addLayout(buttons)
        self.weights.editingFinished.connect(self.show_previous)
        self.show_previous()

    def show_previous(self) -> None:
        """Show the run this session already has for the chosen weights (its curve; its weights to use)."""
        import json

        from core.finetune.run import read_progress

        if self.worker is not None and self.worker.isRunning():
            return
        try:
            run_dir = Path(self.options().resolved().run_dir)
        except (ValueError, FileNotFoundError):
            return
        state_path = run_dir / "finetune.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        self.rows = read_progress(run_dir)
        self.before = state.get("before")
        self._redraw()
        weights = state.get("weights")
        if state.get("complete") and weights and Path(weights).exists():
            self.summary = {"weights": weights, "before": state.get("before") or {}, "after": state.get("after") or {},
                            "epochs": len(self.rows)}
            self.use_button.setEnabled(True)
            self.progress.setValue(1000)
            self.progress.setFormat(f"finished: {len(self.rows)} epochs  %p%")
            after = state.get("after") or {}
            self.status.setText(f"this session was taught before ({len(self.rows)} epochs, {run_dir}): held-out 3D "
                                f"median {(self.before or {}).get('median_mm', float('nan')):.1f} -> "
                                f"{after.get('median_mm', float('nan')):.1f} mm against the labels. Teach again to "
                                "continue (more epochs) or use these weights.")
        elif self.rows:
            self.status.setText(f"an unfinished run is in {run_dir} ({len(self.rows)} epochs): Teach resumes it")

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Weights", self.weights.text(),
                                                        "Weights (*.pth *.pt *.bin)")
        if path:
            self.weights.setText(path)

    # -- work -------------------------------------------------------------------------------------------
    def options(self):
        from core.finetune.run import FinetuneOptions

        return FinetuneOptions(sessions=[str(self.session)], init=self.weights.text().strip(),
                               epochs=self.epochs.value(), holdout=self.holdout.value(),
                               max_minutes=self.minutes.value())

    def start(self, options=None) -> TeachWorker | None:
        """Label (if needed) and fine-tune on a worker thread; ``options`` overrides the form (tests)."""
        if self.worker is not None and self.worker.isRunning():
            return self.worker
        kind, result = self.teacher.currentData()
        try:
            options = options or self.options()
            options.resolved()  # missing weights, weights that would be overwritten: said at once
        except (ValueError, FileNotFoundError) as exc:
            self._error(str(exc))
            return None
        self.rows, self.before, self.summary = [], None, None
        self._redraw()
        self.use_button.setEnabled(False)
        self.worker = TeachWorker(self.session, kind, result, options, relabel=self.relabel.isChecked(), parent=self)
        self.worker.stage.connect(self._stage)
        self.worker.started_run.connect(self._started)
        self.worker.epoch.connect(self._epoch)
        self.worker.done.connect(self._done)
        self.worker.failed.connect(self._error)
        self.worker.finished.connect(lambda: (self.teach_button.setEnabled(True), self.stop_button.setEnabled(False)))
        self.teach_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setStyleSheet("")
        self.status.setText("starting…")
        self.worker.start()
        return self.worker

    def stop(self) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.request_stop()
            self.status.setText("stopping at the next step (the last finished epoch is kept; Teach resumes)…")

    def _stage(self, text: str, fraction: float) -> None:
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.progress.setFormat(f"{text}  %p%")

    def _started(self, info: dict) -> None:
        self.before = info.get("before")
        split = "; ".join(f"{k}: {v['train']} training and {v['held_out']} held-out frame sets"
                          for k, v in info["split"].items())
        b = self.before or {}
        self.status.setText(f"fine-tuning in {info['run_dir']} ({split}); before: held-out 2D "
                            f"{b.get('median_px', float('nan')):.1f} px, 3D median {b.get('median_mm', float('nan')):.1f}"
                            f" mm against the labels")
        self._redraw()

    def _epoch(self, row: dict) -> None:
        self.rows.append(row)
        self.status.setText(f"epoch {int(row['epoch'])}: held-out 2D {row['median_px']:.1f} px, 3D median "
                            f"{row['median_mm']:.1f} mm against the labels ({row['minutes']:.1f} min)")
        self._redraw()

    def _redraw(self) -> None:
        xs = [r["epoch"] for r in self.rows]
        self.curve.setData(xs, [r["median_mm"] for r in self.rows])
        end = max(xs + [1])
        b = self.before or {}
        self.before_line.setData([0, end], [b["median_mm"]] * 2 if "median_mm" in b else [])
        if "baseline_median_mm" in b:
            self.baseline_line.setData([0, end], [b["baseline_median_mm"]] * 2)
        else:
            self.baseline_line.setData([], [])

    def _done(self, summary: dict) -> None:
        self.summary = summary
        self.progress.setValue(1000)
        self.progress.setFormat("done  %p%")
        a, b = summary.get("after", {}), summary["before"]
        self.status.setText(f"weights written to {summary['weights']} ({summary['epochs']} epochs, "
                            f"{summary['minutes']:.1f} min): held-out 3D median {b['median_mm']:.1f} -> "
                            f"{a.get('median_mm', float('nan')):.1f} mm against the labels. They are now a "
                            "backend choice in the main window.")
        self.use_button.setEnabled(True)
        if self.window is not None and hasattr(self.window, "refresh_backends"):
            self.window.refresh_backends()
            self.window.show_info(f"fine-tuned weights for {self.session.name}: {summary['weights']}")

    def _error(self, text: str) -> None:
        self.status.setStyleSheet("color: #c03030; font-weight: bold;")
        self.status.setText(text)
        if self.window is not None and hasattr(self.window, "show_error"):
            self.window.show_error(f"teaching {self.session.name}: {text}")

    def use_weights(self) -> None:
        """Make the new weights the main window's 2D backend (PPT with that file)."""
        if self.summary is None or self.window is None:
            return
        self.window.use_weights(Path(self.summary["weights"]))

    def closeEvent(self, event) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.request_stop()
            self.worker.wait(120_000)
        super().closeEvent(event)


def run_teach_headless(session: Path, screenshot: Path, weights: Path | None = None) -> dict:
    """Open the teach dialog on ``session`` (showing its run for ``weights``, default the demo weights), save a
    picture of it, close (``ppt-mocap gui --teach SESSION --screenshot FILE``)."""
    from app.gui.qt_app import application, wait_events

    application()
    dialog = TeachDialog(Path(session))
    if weights is not None:
        dialog.weights.setText(str(weights))
        dialog.show_previous()
    dialog.show()
    wait_events(0.5)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    if not dialog.grab().save(str(screenshot)):
        raise OSError(f"could not write the screenshot {screenshot}")
    out = {"screenshot": str(screenshot), "epochs": len(dialog.rows), "status": dialog.status.text()}
    dialog.close()
    return out
