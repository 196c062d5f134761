"""'Teach the model this session' headless: from the session browser, labels then fine-tuning with progress and
the held-out plot, the new weights as a backend; bad sessions reported in the dialog and the window."""

import shutil

from app.gui.config import RunConfig
from core.finetune.run import FinetuneOptions
from tests.finetune.conftest import add_teacher, studio_take, tiny_weights  # noqa: F401 (fixtures)
from tests.gui.conftest import wait_for


def test_browser_teach_dialog_trains_and_offers_the_weights(make_window, qtbot, studio_take, tiny_weights,  # noqa: F811
                                                            tmp_path):
    from app.gui.finetune import TeachDialog
    from app.gui.replay import SessionBrowser

    root = tmp_path / "sessions"
    take = root / "take"
    shutil.copytree(studio_take, take)
    add_teacher(take, "live")
    w = make_window(RunConfig(studio="stereo2", backend="demo"))
    w.set_sessions_root(root)
    # The browser's button hands the selected session to the teach dialog.
    browser = SessionBrowser(root, w)
    qtbot.addWidget(browser)
    assert browser.teach_button.text().startswith("Teach the model this session")
    browser.teach_button.click()
    assert browser.teach == take
    dialog = w.open_teach(take)
    assert isinstance(dialog, TeachDialog) and dialog.teacher.count() == 2  # mediapipe, recorded "live"
    dialog.teacher.setCurrentIndex(1)
    dialog.weights.setText(str(tiny_weights))
    worker = dialog.start(FinetuneOptions(sessions=[str(take)], init=str(tiny_weights), epochs=2, threads=1,
                                          device="cpu"))
    assert worker is not None and not dialog.teach_button.isEnabled()
    wait_for(qtbot, lambda: not worker.isRunning(), 300)
    qtbot.waitUntil(lambda: dialog.summary is not None, timeout=10_000)
    assert worker.error is None, worker.error
    assert len(dialog.rows) == 2 and dialog.curve.getData()[0].tolist() == [1, 2]
    assert dialog.progress.value() == 1000 and dialog.use_button.isEnabled()
    assert "weights written to" in dialog.status.text()
    # The new weights are a backend choice of the main window; "Use these weights" selects them.
    items = [w.backend_combo.itemText(i) for i in range(w.backend_combo.count())]
    assert "ppt · take/tiny" in items
    dialog.use_weights()
    assert w.config.backend == "ppt" and w.config.weights == dialog.summary["weights"]
    assert w.backend_combo.currentText() == "ppt · take/tiny"
    w.backend_combo.setCurrentText("demo")
    assert w.config.backend == "demo"
    w.backend_combo.setCurrentText("ppt · take/tiny")
    assert w.config.backend == "ppt" and w.config.weights.endswith("take/finetune/tiny/weights.pth")
    # Reopened, the dialog shows the finished run.
    again = TeachDialog(take, w)
    qtbot.addWidget(again)
    again.weights.setText(str(tiny_weights))
    again.show_previous()
    assert len(again.rows) == 2 and again.use_button.isEnabled() and "taught before" in again.status.text()
    dialog.close()


def test_teach_reports_bad_sessions_in_the_dialog_and_window(make_window, qtbot, studio_take, tiny_weights,  # noqa: F811
                                                             tmp_path):
    take = tmp_path / "take"
    shutil.copytree(studio_take, take)
    add_teacher(take, "live", nobody=True)
    w = make_window(RunConfig(studio="stereo2", backend="demo"))
    dialog = w.open_teach(take)
    dialog.teacher.setCurrentIndex(1)
    worker = dialog.start(FinetuneOptions(sessions=[str(take)], init=str(tiny_weights), epochs=1, threads=1,
                                          device="cpu"))
    wait_for(qtbot, lambda: not worker.isRunning(), 120)
    qtbot.waitUntil(lambda: "no person found" in dialog.status.text(), timeout=10_000)
    assert any("no person found" in e for e in w.errors) and dialog.teach_button.isEnabled()
    # Missing weights are said before any work starts.
    assert dialog.start(FinetuneOptions(sessions=[str(take)], init=str(tmp_path / "none.pth"))) is None
    assert "init weights not found" in dialog.status.text()
    dialog.close()
