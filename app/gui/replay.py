"""Replay: a session browser, a timeline with play/pause/seek over a recorded session shown in the same views as
live capture, re-processing with other settings (worker thread, progress) and export buttons."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PyQt6 import QtCore, QtWidgets

from app.gui.workers import Worker

log = logging.getLogger(__name__)


def list_sessions(root: Path) -> list[dict]:
    """Session folders directly under ``root`` (newest first): path, name, created, cameras, frames, results, ok."""
    out = []
    if not root.is_dir():
        return out
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True):
        manifest = folder / "session.json"
        if not manifest.exists():
            continue
        info = {"path": folder, "name": folder.name, "created": "", "cameras": "", "frames": "", "results": "",
                "ok": True}
        try:
            data = json.loads(manifest.read_text())
            info["created"] = str(data.get("created", ""))[:19]
            info["cameras"] = str(len(data.get("cameras", [])))
            info["frames"] = str(data.get("num_frames", data.get("frames", "")))
            res = folder / "results"
            info["results"] = ", ".join(sorted(p.name for p in res.iterdir() if p.is_dir())) if res.is_dir() else ""
        except (OSError, ValueError) as exc:
            info["ok"] = False
            info["results"] = f"unreadable: {exc}"
        out.append(info)
    return out


class SessionBrowser(QtWidgets.QDialog):
    """Lists the sessions under a folder; double-click or Open replays one."""

    def __init__(self, root: Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sessions")
        self.resize(760, 380)
        self.root = Path(root)
        self.selected: Path | None = None
        self.teach: Path | None = None  # set when the dialog closes through "Teach the model this session"
        self.root_edit = QtWidgets.QLineEdit(str(self.root))
        browse = QtWidgets.QPushButton("Folder…")
        browse.clicked.connect(self._browse)
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["session", "created", "cameras", "frames", "results"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.doubleClicked.connect(self._accept_selected)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Open
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_selected)
        buttons.rejected.connect(self.reject)
        self.teach_button = buttons.addButton("Teach the model this session…",
                                              QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.teach_button.setToolTip("bootstrapped labels from this session, then fine-tuning of the weights on them "
                                     "(needs a calibrated session with at least 2 cameras)")
        self.teach_button.clicked.connect(self._teach_selected)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Folder"))
        top.addWidget(self.root_edit, 1)
        top.addWidget(browse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.root_edit.editingFinished.connect(lambda: self.refresh(Path(self.root_edit.text())))
        self.refresh(self.root)

    def refresh(self, root: Path) -> None:
        self.root = Path(root)
        self.sessions = list_sessions(self.root)
        self.table.setRowCount(len(self.sessions))
        for r, s in enumerate(self.sessions):
            for c, key in enumerate(["name", "created", "cameras", "frames", "results"]):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(str(s[key])))
        if self.sessions:
            self.table.selectRow(0)

    def _browse(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Sessions folder", str(self.root))
        if path:
            self.root_edit.setText(path)
            self.refresh(Path(path))

    def _teach_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.teach = self.sessions[rows[0].row()]["path"]
            self.accept()

    def _accept_selected(self, *_args) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.selected = self.sessions[rows[0].row()]["path"]
            self.accept()


class ReplayPanel(QtWidgets.QWidget):
    """Timeline and controls under the shared views; the window's views show the replayed frames."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = None
        self.index = 0
        self._iter = None
        self._item = None
        self.worker: Worker | None = None
        self.title = QtWidgets.QLabel("")
        self.title.setStyleSheet("font-weight: bold;")
        self.play_button = QtWidgets.QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self._slider_moved)
        self.frame_label = QtWidgets.QLabel("0 / 0")
        self.result_combo = QtWidgets.QComboBox()
        self.result_combo.setToolTip("result set shown (2D and 3D)")
        self.result_combo.currentTextChanged.connect(lambda _t: self.seek(self.index))
        self.reprocess_button = QtWidgets.QPushButton("Re-process…")
        self.reprocess_button.setToolTip("run the session again with the backend and settings chosen in the toolbar")
        self.reprocess_button.clicked.connect(lambda: self.reprocess())
        self.export_combo = QtWidgets.QComboBox()
        from core.session.export import SESSION_EXPORT_FORMATS

        self.export_combo.addItems(list(SESSION_EXPORT_FORMATS))
        self.export_button = QtWidgets.QPushButton("Export")
        self.export_button.clicked.connect(lambda: self.export())
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.step)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.title, self.play_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        for w in (self.frame_label, QtWidgets.QLabel("Result"), self.result_combo, self.reprocess_button,
                  QtWidgets.QLabel("Export"), self.export_combo, self.export_button):
            row.addWidget(w)

    # -- session ----------------------------------------------------------------------------------------
    def open_session(self, path: Path) -> bool:
        from core.session.replay import Session

        self.close_session()
        try:
            session = Session(path)
            if len(session) == 0:
                raise ValueError(f"{path}: the session has no frames")
        except Exception as exc:  # incomplete or foreign folders: say what is missing
            self.window.show_error(f"cannot open session {path}: {exc}")
            return False
        self.session = session
        self.title.setText(f"Replay: {path.name}")
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(session) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._refresh_results()
        self.window.views.set_rig(session.rig)
        self.window.views.plot_tabs.setCurrentWidget(self.window.views.trajectory)  # no live latency in replay
        missing = [c for c in session.cameras if not session.reader.video_path(c).exists()]
        if missing:
            self.window.show_error(f"session {path.name}: no video for camera(s) {missing}; replaying without them")
        self.window.show_info(f"replaying {path} ({len(session)} frame sets, {session.fps:g} fps)")
        self.seek(0)
        return True

    def _refresh_results(self, select: str | None = None) -> None:
        names = self.session.result_names() if self.session else []
        self.result_combo.blockSignals(True)
        self.result_combo.clear()
        self.result_combo.addItems(names or ["(none)"])
        if select in names:
            self.result_combo.setCurrentText(select)
        self.result_combo.blockSignals(False)

    def result_name(self) -> str | None:
        name = self.result_combo.currentText()
        return None if name in ("", "(none)") else name

    def shutdown(self, timeout_s: float = 120.0) -> None:
        """Wait for running work (re-processing, export) before the window goes away."""
        if self.worker is not None and self.worker.isRunning():
            self.window.show_info(f"waiting for {self.worker.job_name} to finish")
            self.worker.wait(int(timeout_s * 1000))

    def close_session(self) -> None:
        self.pause()
        self._iter = None
        self.session = None

    # -- timeline ---------------------------------------------------------------------------------------
    def play(self) -> None:
        self.play_button.setChecked(True)

    def pause(self) -> None:
        self.play_button.setChecked(False)

    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("❚❚ Pause" if on else "▶ Play")
        if on and self.session is not None:
            if self.index >= len(self.session) - 1:
                self.seek(0)
            self.timer.start(int(1000 / max(1.0, self.session.fps)))
        else:
            self.timer.stop()

    def _slider_moved(self, value: int) -> None:
        if self.session is not None and value != self.index:
            self.seek(value)

    def seek(self, index: int) -> None:
        """Show frame set ``index`` and continue playing from there."""
        if self.session is None:
            return
        index = int(np.clip(index, 0, len(self.session) - 1))
        try:
            self._iter = self.session.replay(self.result_name(), start=index)
        except Exception as exc:
            self.window.show_error(f"cannot read result set {self.result_name()!r}: {exc}")
            self._iter = self.session.replay(None, start=index) if self.session.result_names() else None
            if self._iter is None:
                self._iter = iter(())
        self.index = index - 1
        self.step()

    def step(self) -> bool:
        """Show the next frame set; False at the end (playing stops)."""
        if self.session is None or self._iter is None:
            return False
        try:
            item = next(self._iter)
        except StopIteration:
            self.pause()
            return False
        except Exception as exc:  # damaged video or results
            self.window.show_error(f"replay stopped at frame set {self.index + 1}: {exc}")
            self.pause()
            return False
        self._item = item
        self.index = item.index
        self._show(item)
        self.slider.blockSignals(True)
        self.slider.setValue(item.index)
        self.slider.blockSignals(False)
        self.frame_label.setText(f"{item.index + 1} / {len(self.session)}")
        return True

    def _show(self, item) -> None:
        p2 = item.poses_2d  # the recorded 2D with its skeleton and kept tokens (None where nothing was processed)
        skeleton = p2.skeleton if p2 is not None else None
        if skeleton is not None:
            self.window._set_joints(skeleton)
        masks = {}
        if p2 is not None and p2.kept_tokens:
            if self.window.token_combo.count() != 2 + len(p2.kept_tokens):
                self.window._set_token_stages(len(p2.kept_tokens), [])  # result sets do not record the layers
            masks = self.window.masks_for(p2, item.frame_set)
        self.window.views.show_result(item.frame_set, skeleton, item.keypoints, item.confidence, item.points_3d,
                                      masks, t=item.index / max(1.0, self.session.fps),
                                      boxes=None if p2 is None else p2.boxes,
                                      box_source=None if p2 is None else p2.box_source)
        self.window.views.redraw(force_3d=not self.timer.isActive())

    def redraw(self) -> None:
        if self._item is not None and self.session is not None:
            self._show(self._item)

    # -- long work --------------------------------------------------------------------------------------
    def _run(self, name: str, fn, on_done) -> Worker | None:
        if self.worker is not None and self.worker.isRunning():
            self.window.show_error(f"{self.worker.job_name} is still running")
            return None
        self.pause()
        worker = Worker(fn, name, self)
        worker.progressed.connect(self.window.set_progress)
        worker.failed.connect(lambda msg: (self.window.end_progress(), self.window.show_error(msg)))
        worker.succeeded.connect(lambda res: (self.window.end_progress(), on_done(res)))
        self.window.begin_progress(name)
        self.worker = worker
        worker.start()
        return worker

    def reprocess(self, name: str | None = None) -> Worker | None:
        """Run the session through the toolbar's backend and settings into ``results/<name>`` (worker thread)."""
        if self.session is None:
            return None
        from core.processing import reprocess_session

        config = self.window.config
        session = self.session
        name = name or f"reprocessed_{config.backend}"

        def job(progress):
            spec = config.to_spec()
            estimator = spec.build_backend(session.rig, session=session)
            settings = spec.pipeline_settings("offline")
            try:
                reprocess_session(session, estimator, settings, name=name, overwrite=True, progress=False,
                                  on_progress=lambda done, total: progress(f"re-processing {done}/{total}",
                                                                           done / max(1, total)))
            finally:
                estimator.close()
            return name

        def done(result_name):
            self._refresh_results(select=result_name)
            self.window.show_info(f"re-processed into results/{result_name}")
            self.seek(self.index)

        return self._run(f"re-processing {session.path.name}", job, done)

    def export(self, fmt: str | None = None) -> Worker | None:
        """Export the shown result set's 3D joints to ``SESSION/exports/<result>.<fmt>`` (worker thread)."""
        if self.session is None:
            return None
        fmt = fmt or self.export_combo.currentText()
        result = self.result_name()
        if result is None:
            self.window.show_error("nothing to export: this session has no result set (re-process it first)")
            return None
        session = self.session
        from core.session.export import export_points

        def job(progress):
            progress(f"exporting {fmt}", 0.1)
            res = session.results(result)
            if "points_3d" not in res.arrays:
                raise ValueError(f"result set {result!r} has no 3D joints")
            points = res.points_by_frame(len(session))
            sk = res.skeleton
            out = session.path / "exports" / f"{result}.{fmt}"
            export_points(out, points, list(sk.joints), fps=session.fps, units=session.rig.units,
                          up=session.rig.up, skeleton=sk.name)
            progress("exported", 1.0)
            return out

        return self._run(f"export {fmt}", job, lambda out: self.window.show_info(f"exported {out}"))
