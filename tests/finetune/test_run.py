"""Fine-tuning runs (tiny model, one or two epochs): config, progress, weights metadata, stop and resume, the
command line."""

import json

import numpy as np
import pytest
import torch

from app.cli import main
from core.finetune.labels import LabelSettings, make_labels
from core.finetune.run import (FinetuneOptions, FinetuneStopped, build_config, finetune, finetuned_weights,
                               list_runs, read_progress)


@pytest.fixture
def labelled(take):
    make_labels(take, teacher="recorded", result="teacher", settings=LabelSettings(min_frames=5))
    return take


def options(session, init, **kw):
    return FinetuneOptions(sessions=[str(session)], init=str(init), epochs=kw.pop("epochs", 1), threads=1,
                           device="cpu", **kw)


def test_config_is_a_strict_experiment_with_the_weights_architecture(labelled, tiny_weights):
    opts = options(labelled, tiny_weights).resolved()
    assert opts.run_dir == str(labelled / "finetune" / "tiny") and opts.out.endswith("finetune/tiny/weights.pth")
    cfg = build_config(opts)
    assert cfg.model.preset == "multiview_ppt_s" and cfg.model.overrides["dim"] == 32
    assert cfg.model.overrides["image_size"] == [64, 64] and cfg.model.init == str(tiny_weights)
    assert cfg.data.train["kind"] == "session-labels" and cfg.data.train["split"] == "train"
    assert cfg.data.val["split"] == "held-out" and cfg.optim.batch_size == 4 and cfg.keep_ratio.final == 0.7
    # Training crops turn (a few frame sets then teach limb angles they do not show); held-out crops do not.
    assert cfg.data.train["rotation"] == 30.0 and "rotation" not in cfg.data.val
    assert build_config(options(labelled, tiny_weights, rotation=0.0).resolved()).data.train["rotation"] == 0.0
    assert cfg.data.train["flip"] is True and "flip" not in cfg.data.val
    assert build_config(options(labelled, tiny_weights, flip=False).resolved()).data.train["flip"] is False
    # Half of the steps unfused when the weights will run view by view (the default), a fifth when fused.
    assert cfg.train.unfused_fraction == 0.5
    assert build_config(options(labelled, tiny_weights, fuse=True).resolved()).train.unfused_fraction == 0.2
    assert build_config(options(labelled, tiny_weights, unfused_fraction=1.0).resolved()).train.unfused_fraction == 1.0
    with pytest.raises(ValueError, match="unfused_fraction must be within 0..1"):
        options(labelled, tiny_weights, unfused_fraction=1.5).resolved()
    with pytest.raises(ValueError, match="would overwrite the init weights"):
        options(labelled, tiny_weights, out=str(tiny_weights)).resolved()
    with pytest.raises(FileNotFoundError, match="init weights not found"):
        options(labelled, labelled / "none.pth").resolved()


def test_finetune_writes_weights_with_sessions_teacher_and_figures(labelled, tiny_weights):
    events = []
    summary = finetune(options(labelled, tiny_weights), on_progress=lambda k, i: events.append((k, i)))
    kinds = [k for k, _ in events]
    assert kinds[0] == "start" and "step" in kinds and kinds.count("epoch") == 1 and kinds[-1] == "done"
    start = events[0][1]
    assert start["split"]["take"] == {"train": 21, "held_out": 9, "frames": 30}
    for key in ("median_px", "median_mm", "mpjpe_mm", "baseline_median_mm"):
        assert np.isfinite(start["before"][key])
    out = labelled / "finetune" / "tiny" / "weights.pth"
    assert summary["weights"] == str(out) and out.exists()
    meta = torch.load(out, weights_only=True)["meta"]
    ft = meta["finetune"]
    assert ft["sessions"] == [str(labelled.resolve())] and ft["teacher"][0]["result"] == "teacher"
    assert ft["teacher"][0]["skeleton"] == "coco17" and ft["labels"][0]["name"] == "teacher"
    assert ft["holdout"] == 0.3 and set(ft["before"]) >= {"median_px", "median_mm"} and "median_mm" in ft["after"]
    assert meta["lineage"][-1]["data"]["kind"] == "session-labels" and meta["crops_seen"] > 0
    rows = read_progress(out.parent)
    assert len(rows) == 1 and rows[0]["epoch"] == 1 and np.isfinite(rows[0]["median_mm"])
    runs = list_runs(labelled)
    assert runs[0]["name"] == "tiny" and runs[0]["complete"] and runs[0]["weights"] == str(out)
    assert finetuned_weights(labelled.parent) == [("take/tiny", out)]
    # The weights run as a backend of the app and of `ppt-mocap run`.
    from core.estimators import build_backend

    est = build_backend("ppt", weights=out, num_threads=1, device="cpu")
    assert est.config.image_size == (64, 64)
    # Fine-tuned weights run each view alone by default (their metadata says so), fused only when asked.
    assert meta["fuse"] is False and ft["fuse"] is False and not est.fuse
    assert build_backend("ppt", weights=out, num_threads=1, device="cpu", fuse=True).fuse
    from core.inference.weights import load_demo_estimator, read_weights

    assert not read_weights(out).runs_fused
    assert not load_demo_estimator(out, device="cpu").fuse and read_weights(tiny_weights).runs_fused


def test_fused_finetuning_writes_weights_that_run_fused(labelled, tiny_weights, monkeypatch):
    import core.finetune.run as run

    seen = []
    evaluate = run.evaluate_labels
    monkeypatch.setattr(run, "evaluate_labels", lambda *a, **k: seen.append(k["fuse"]) or evaluate(*a, **k))
    summary = finetune(options(labelled, tiny_weights, fuse=True, name="fused"))
    assert seen and all(seen)  # the held-out figures are measured as the weights will run
    assert torch.load(summary["weights"], weights_only=True)["meta"]["fuse"] is True
    from core.estimators import build_backend

    assert build_backend("ppt", weights=summary["weights"], num_threads=1, device="cpu").fuse


def test_a_stopped_run_keeps_earlier_weights_and_resumes(labelled, tiny_weights):
    run = labelled / "finetune" / "tiny"
    run.mkdir(parents=True)
    (run / "weights.pth").write_bytes(b"earlier weights")
    steps = []

    def stop():  # stop at the first step of the second epoch (epoch 1 is checkpointed)
        return len(steps) > 0 and steps[-1]["epoch"] == 1

    with pytest.raises(FinetuneStopped):
        finetune(options(labelled, tiny_weights, epochs=2),
                 on_progress=lambda k, i: steps.append(i) if k == "step" else None, stop=stop)
    assert (run / "weights.pth").read_bytes() == b"earlier weights"  # untouched
    assert (run / "last.pth").exists() and len(read_progress(run)) == 1
    summary = finetune(options(labelled, tiny_weights, epochs=2))
    assert summary["epochs"] == 2 and len(read_progress(run)) == 2  # resumed at epoch 2, not started again
    assert torch.load(run / "weights.pth", weights_only=True)["meta"]["epoch"] == 2
    state = json.loads((run / "finetune.json").read_text())
    assert state["complete"] and [r["epoch"] for r in state["history"]] == [1, 2]


def test_command_line_label_train_status_and_errors(take, tiny_weights, capsys, tmp_path):
    assert main(["finetune", "label", str(take), "--teacher", "recorded", "--result", "teacher", "--min-frames",
                 "5", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts["reliable"] == 30
    out = tmp_path / "mine.pth"
    assert main(["finetune", "train", str(take), "--init", str(tiny_weights), "--epochs", "1", "--threads", "1",
                 "--device", "cpu", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "before: held-out 2D" in text and "epoch 1:" in text and f"weights written to {out}" in text
    assert main(["finetune", "status", str(take)]) == 0
    assert "labels teacher: teacher recorded (teacher), 30 of 30" in capsys.readouterr().out
    # Bad input: exit code 2 and a message naming the problem.
    (take / "calibration.toml").unlink()
    assert main(["finetune", "label", str(take), "--teacher", "recorded"]) == 2
    assert "has no calibration" in capsys.readouterr().err
    assert main(["finetune", "train", str(take), "--init", str(tmp_path / "none.pth")]) == 2
    assert "init weights not found" in capsys.readouterr().err


def test_torchrun_command_repeats_the_options():
    import argparse

    from app.commands.finetune import torchrun_command

    args = argparse.Namespace(sessions=["a", "b"], init="w.pth", preset="multiview_ppt_s", labels=None, name="n",
                              run_dir=None, out=None, holdout=0.3, epochs=5, lr=1e-4, batch_size=0, max_minutes=0.0,
                              device="auto", threads=0, workers=0, visible_only=False, fresh=True, json=False,
                              rotation=15.0, flip=False, fuse=True)
    cmd = torchrun_command(args, 2)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert cmd[cmd.index("app.cli") + 1:cmd.index("app.cli") + 5] == ["finetune", "train", "a", "b"]
    assert "--processes" in cmd and "--fresh" in cmd and "--labels" not in cmd and "--epochs" in cmd
    assert cmd[cmd.index("--rotation") + 1] == "15.0" and "--no-flip" in cmd and "--fuse" in cmd
