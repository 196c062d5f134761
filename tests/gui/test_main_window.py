"""Main flows headless: studio capture, skeletons, token stages, record, replay, export, re-process."""


import numpy as np

from app.gui.config import RunConfig
from tests.gui.conftest import wait_for


def studio(backend="studio-truth", preset="stereo2"):
    return RunConfig(studio=preset, backend=backend, fps=15.0)


def test_live_studio_tokens_record_replay_export(make_window, qtbot, tmp_path):
    w = make_window(studio(backend="demo"))
    assert w.start() and w.pipeline is not None
    wait_for(qtbot, lambda: w.views.frames_shown >= 3, 60)
    assert list(w.views.cameras) == w.pipeline.rig.names
    view = next(iter(w.views.cameras.values()))
    assert view._image.image is not None and view._image.image.shape[:2] == (480, 640)
    wait_for(qtbot, lambda: len(view._joints.data) > 0, 60)  # once the person is found: 2D joints drawn
    assert view._box_label.textItem.toPlainText() in ("tracked", "detected")  # its box and where it came from
    assert "RANDOM" in w.backend_label.text() or "weights" in w.backend_label.text()
    # Token view: stages from the model, heat by default, switch to stage 2.
    assert w.token_combo.count() == 2 + 3 and w.token_stage() is None
    assert view._tokens.image is not None and view._tokens.image.max() > 0
    w.set_token_stage(1)
    assert w.token_stage() == 1
    shown = w.views.frames_shown
    wait_for(qtbot, lambda: w.views.frames_shown > shown, 30)
    kept = view._tokens.image > 0
    assert 0.02 < kept.mean() < 0.95  # a stage keeps part of the image
    w.set_token_stage(False)
    wait_for(qtbot, lambda: w.views.frames_shown > shown + 1, 30)
    assert view._tokens.image is None
    # 3D and plots
    w.views.redraw(force_3d=True)
    if w.views.scene.renderer is not None:
        assert w.views.scene.last_picture is not None and w.views.scene.last_picture.std() > 0
    w.update_metrics()
    assert "pipeline" in w.rate_label.text() and "fps" in view._status.text()
    # Record a short take
    w.set_sessions_root(tmp_path)
    folder = w.start_recording("take1")
    assert folder == tmp_path / "take1" and w.record_button.isChecked()
    qtbot.wait(2500)
    assert w.stop_recording() == folder
    w.stop()
    assert w.pipeline is None and (folder / "session.json").exists()
    # Replay it: timeline, seek, result shown
    assert w.open_session(folder)
    r = w.replay
    assert r.session is not None and len(r.session) > 3 and r.result_name() == "live"
    assert r.step() and r.index == 1
    r.seek(len(r.session) - 1)
    assert r.index == len(r.session) - 1 and r.slider.value() == r.index
    # The token maps replay too (the recording stores the kept tokens and their crop affines).
    w.set_token_stage(None)
    live = r.session.results("live")
    found = np.flatnonzero((live.arrays["kept_tokens_0"] >= 0).any(axis=(1, 2)))  # sets where the person was found
    print("person found in", len(found), "of", len(live))
    assert len(found) > 0
    r.seek(int(live.arrays["frame_index"][found[len(found) // 2]]))
    assert r._item.poses_2d is not None and r._item.poses_2d.kept_tokens
    assert view._tokens.image is not None and view._tokens.image.max() > 0
    assert w.token_combo.count() == 2 + 3
    r.seek(0)
    r.play()
    wait_for(qtbot, lambda: r.index >= 2, 20)
    r.pause()
    # Export (worker thread, progress bar)
    worker = r.export("trc")
    wait_for(qtbot, lambda: worker.isFinished(), 60)
    assert (folder / "exports" / "live.trc").exists() and worker.error is None
    # Re-process with other settings (the studio's exact 2D is live-only: a clear message, app keeps running)
    w.config.backend = "studio-truth"
    worker = r.reprocess()
    wait_for(qtbot, lambda: "studio" in w.banner.text(), 30)
    assert worker.error and not w.progress.isVisible()


def test_reprocess_with_other_settings(make_window, qtbot, tmp_path):
    w = make_window(studio())
    w.set_sessions_root(tmp_path)
    assert w.start()
    wait_for(qtbot, lambda: w.views.frames_shown >= 1, 30)
    w.start_recording("t")
    qtbot.wait(1200)
    w.stop()
    assert w.open_session(tmp_path / "t")
    w.config.backend = "demo"
    w.config.filter = "none"
    worker = w.replay.reprocess("other")
    assert w.progress.isVisible()
    wait_for(qtbot, lambda: w.replay.result_name() == "other" or worker.error, 120)
    assert worker.error is None, worker.error
    assert "other" in w.replay.session.result_names() and w.replay.result_name() == "other"
    assert w.replay.session.results("other").settings["pipeline"]["filter"] is None


def test_settings_remembered(make_window, settings):
    w = make_window(RunConfig(studio="ring8", backend="studio-truth", min_confidence=0.5))
    w.save_settings()
    w2 = make_window()
    assert w2.config.studio == "ring8" and w2.config.backend == "studio-truth" and w2.config.min_confidence == 0.5
    assert w2.source_combo.currentData() == "ring8"
