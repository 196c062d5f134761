"""Recording live capture into a session folder: nothing lost to the writer, and readable after kill -9."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from core.estimators.studio_truth import StudioTruthEstimator
from core.geometry.image_size import SizeMismatchError, scale_intrinsics
from core.pipeline import Pipeline
from core.processing import PipelineSettings
from core.session.folder import SessionReader
from core.session.replay import Session, load_results
from core.studio.sources import make_virtual_rig, studio_sources
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]



def test_recording_keeps_every_frame_and_the_results(tmp_path):
    vrig = make_virtual_rig("ring4", fps=15, seed=5)
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter=None))
    folder = tmp_path / "take1"
    with pipeline:
        assert wait_for(lambda: pipeline.metrics().results >= 2)
        recorder = pipeline.start_recording(folder)
        assert wait_for(lambda: recorder.stats()["sets_written"] >= 20)
        with pytest.raises(RuntimeError, match="already recording"):
            pipeline.start_recording(tmp_path / "other")
        pipeline.stop_recording()
    stats = recorder.stats()
    assert stats["frames_dropped_by_writer"] == 0 and stats["error"] is None
    assert stats["frames_written"] == stats["frames_received"] and stats["frames_not_grouped"] == 0
    kinds = [e.kind for e in pipeline.events.history()]
    assert "recording_started" in kinds and "recording_stopped" in kinds
    reader = SessionReader(folder)
    assert reader.manifest.complete and reader.num_frames == stats["sets_written"]
    written = (~reader.timestamps["dropped"]).sum()
    assert written == stats["frames_written"]
    manifest = json.loads((folder / "session.json").read_text())
    rec = manifest["settings"]["recording"]
    assert rec["frames_dropped_by_writer"] == 0 and "spread_ms_max" in rec["pipeline_sync"]
    assert manifest["settings"]["estimator"]["backend"] == "studio-truth"
    assert manifest["settings"]["pipeline"]["filter"] is None and manifest["software"]["numpy"]
    session = Session(folder)
    live = session.results("live")
    assert live.complete and len(live) > 0 and (live.arrays["frame_index"] >= 0).mean() > 0.8
    assert live.arrays["keypoints"].shape[1:] == (4, 17, 2)
    row = int(np.nonzero(live.arrays["frame_index"] >= 0)[0][0])
    fs = session.read(int(live.arrays["frame_index"][row]))
    assert fs.frames and all(f.image.shape == (480, 640, 3) for f in fs.frames.values())


def test_image_size_that_does_not_match_the_calibration_is_adapted_recorded_and_reported(tmp_path):
    """One size policy (core.geometry.image_size) for the pipeline and the recorder: 640x480 frames of cameras
    calibrated at 320x240 (same aspect) are triangulated with scaled intrinsics, recorded in full, with warnings."""
    vrig = make_virtual_rig("ring4", fps=15, seed=5)
    rig = vrig.studio.rig
    half = type(rig)([scale_intrinsics(c, (320, 240)) for c in rig], units=rig.units, up=rig.up)
    pipeline = Pipeline(studio_sources(vrig), half, StudioTruthEstimator(vrig), PipelineSettings(filter=None))
    assert [m.action for m in pipeline.size_mismatches] == ["scale"] * 4
    np.testing.assert_allclose(pipeline.rig[rig.names[0]].K, rig[rig.names[0]].K, atol=1e-9)
    with pipeline:
        pipeline.start_recording(tmp_path / "take")
        assert wait_for(lambda: pipeline.metrics().results >= 5 and pipeline.recorder.stats()["sets_written"] >= 5)
    assert not pipeline.events.history("error")
    warnings = [e.message for e in pipeline.events.history("warning")]
    assert any("640x480 px but the calibration says 320x240" in w and "scaled" in w for w in warnings)
    errs = [np.linalg.norm(r.pose_3d.points - vrig.truth(next(iter(r.frame_set.frames.values())).index)
                           .joints_3d[0, :17], axis=-1) for r in [pipeline.latest()]]
    assert np.nanmax(errs) < 1e-3  # scaled intrinsics: exact 2D still triangulates exactly
    reader = SessionReader(tmp_path / "take")
    assert reader.manifest.complete and reader.num_frames >= 5
    assert [m["action"] for m in reader.manifest.size_mismatches] == ["scale"] * 4
    assert reader.manifest.image_sizes[0] == [640, 480] and reader.rig[rig.names[0]].size == (640, 480)


def test_frames_the_calibration_cannot_describe_are_refused_before_capture(tmp_path):
    vrig = make_virtual_rig("stereo2", fps=15, seed=5)
    rig = vrig.studio.rig
    portrait = type(rig)([c.with_(size=(480, 640)) for c in rig], units=rig.units, up=rig.up)
    with pytest.raises(SizeMismatchError, match=r"frames are 640x480 px but the calibration says 480x640"):
        Pipeline(studio_sources(vrig), portrait, StudioTruthEstimator(vrig))


def test_recording_the_real_pose2sim_videos_keeps_every_frame_despite_the_8_px_mismatch(tmp_path, capsys):
    """The issue's case: cam_01/cam_02 videos are 1080x1920, the calibration says 1088x1920."""
    from app.cli import main
    from tests.conftest import shared_path

    base = shared_path("sessions", "pose2sim_balancing")
    rec = tmp_path / "take"
    args = ["run", "--calibration", str(base / "calibration.toml"), "--backend", "openpose-json",
            "--keypoints", str(base / "openpose_2d"), "--offline", "--headless", "--record", str(rec)]
    for i in range(1, 5):
        args += ["--source", f"cam_0{i}={base / 'videos' / f'cam0{i}.mp4'}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[warning] camera 'cam_01': frames are 1080x1920 px but the calibration says 1088x1920" in out
    assert "recorder failed" not in out and "errors: 0" in out
    reader = SessionReader(rec)
    assert reader.manifest.complete and reader.num_frames == 100
    assert reader.manifest.settings["recording"]["frames_written"] == 400
    assert reader.manifest.settings["recording"]["error"] is None
    assert [(m["camera"], m["action"], m["actual"]) for m in reader.manifest.size_mismatches] == [
        ("cam_01", "crop-pad", [1080, 1920]), ("cam_02", "crop-pad", [1080, 1920])]
    assert reader.rig["cam_01"].size == (1080, 1920) and reader.rig["cam_03"].size == (1088, 1920)
    import cv2

    for name, width in (("cam_01", 1080), ("cam_03", 1088)):
        cap = cv2.VideoCapture(str(rec / "videos" / f"{name}.avi"))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 100 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == width
        cap.release()
    assert len(Session(rec).results("live")) == 100


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from core.estimators.studio_truth import StudioTruthEstimator
    from core.pipeline import Pipeline
    from core.processing import PipelineSettings
    from core.studio.sources import make_virtual_rig, studio_sources
    vrig = make_virtual_rig("ring4", fps=15, seed=6)
    p = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig), PipelineSettings(filter=None))
    p.start()
    rec = p.start_recording({folder!r})
    while rec.stats()["sets_written"] < 30 or rec.results.count < 20:
        time.sleep(0.05)
    time.sleep(1.5)  # at least one more flush
    print("RECORDING", rec.stats()["sets_written"], flush=True)
    time.sleep(600)
""")


@pytest.mark.slow
def test_kill_9_in_the_middle_leaves_a_readable_session(tmp_path):
    folder = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(root=str(ROOT), folder=str(folder))],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    watchdog = threading.Timer(180, proc.kill)  # never hang the suite if the child stalls
    watchdog.start()
    try:
        line = proc.stdout.readline()
        assert line.startswith("RECORDING"), line
        written_before = int(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    reader = SessionReader(folder)
    assert not reader.manifest.complete
    assert reader.num_frames >= written_before - 15  # at most the last second is lost
    sets = list(Session(folder).frame_sets())
    decoded = sum(len(fs.frames) for fs in sets)
    assert len(sets) >= written_before - 15 and decoded >= 4 * (written_before - 20)
    live = Session(folder).results("live")
    assert not live.complete and len(live) >= 10
    assert np.isfinite(live.arrays["points_3d"]).any()
    assert (live.arrays["frame_index"] >= 0).sum() >= 5


def test_a_frame_set_without_a_person_keeps_the_other_rows_kept_tokens(tmp_path):
    """One frame set where nobody was found (no kept tokens, no crop affine) used to drop the tokens of its whole
    one-second chunk, so replay drew no token maps for frames the model did process."""
    from types import SimpleNamespace

    from core.geometry.skeletons import get_skeleton
    from core.records import Frame, FrameSet, Pose3D, Poses2D, StageTimings
    from core.session.recorder import ResultWriter

    sk = get_skeleton("h36m17")
    cams = ["a", "b"]
    C, J = len(cams), sk.num_joints
    writer = ResultWriter(tmp_path, "live", cams, sk, flush_s=1e9)

    def result(i, found):
        frames = {c: Frame(camera=c, index=i, t_capture_ns=1000 * i, t_wall=0.0, image=np.zeros((4, 4, 3), np.uint8))
                  for c in cams}
        tokens = {}
        if found:
            tokens = dict(kept_tokens=[np.tile(np.arange(5) + i, (C, 1)), np.tile(np.arange(2) + i, (C, 1))],
                          token_grid=(8, 6), token_stride=(4, 4), token_to_image=np.tile(np.eye(2, 3), (C, 1, 1)))
        p2 = Poses2D(cams, np.zeros((C, J, 2)), np.ones((C, J)), sk, frame_index=i,
                     boxes=np.ones((C, 4)) if found else np.full((C, 4), np.nan),
                     box_source=("tracked",) * C if found else ("none",) * C, **tokens)
        p3 = Pose3D(np.zeros((J, 3)), np.zeros((J, 3)), np.zeros(J), np.ones((C, J), bool), sk)
        return SimpleNamespace(frame_set=FrameSet(index=i, t_ns=1000 * i, frames=frames), poses_2d=p2,
                               pose_3d=p3, timings=StageTimings(*[1000 * i] * 6))

    for i in range(3):
        writer.add(result(i, found=i != 1), frame_index=i)
    writer.flush()  # chunk 1: rows 0-2 (row 1 without a person)
    writer.add(result(3, found=False), frame_index=3)
    writer.flush()  # chunk 2: no person at all
    writer.add(result(4, found=True), frame_index=4)
    writer.close()
    res = load_results(tmp_path, "live")
    np.testing.assert_array_equal(res.arrays["kept_tokens_0"][:, 0, 0], [0, -1, 2, -1, 4])
    for row, found in enumerate([True, False, True, False, True]):
        p2 = res.poses_2d(row, cams)
        assert bool(p2.kept_tokens) == found and np.isfinite(p2.boxes).all() == found
        if found:
            np.testing.assert_array_equal(p2.kept_tokens[1][0], np.arange(2) + row)
            assert p2.token_grid == (8, 6) and p2.box_source == ("tracked", "tracked")
