"""Trainer mechanics on a tiny model and a random dataset: config checks, loss decrease, resume, DDP."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from core.train.config import ExperimentConfig
from core.train.datasets import build_dataset, register_dataset
from core.train.schedules import keep_ratio_at
from core.train.trainer import Trainer

TINY = {"image_size": [64, 48], "depth": 4, "pruning_layers": [1, 2], "dim": 32, "heads": 4}


class BlobDataset(Dataset):
    """Images with one bright blob per joint and matching Gaussian heatmaps (learnable in a few steps)."""

    def __init__(self, cfg, length=32, seed=0):
        self.cfg, self.length, self.seed = cfg, length, seed

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        rng = np.random.default_rng(self.seed * 100003 + i)
        H, W = self.cfg.image_size
        h, w = self.cfg.heatmap_size
        J = self.cfg.num_keypoints
        xy = rng.uniform([2, 2], [w - 3, h - 3], (J, 2))
        yy, xx = np.mgrid[0:h, 0:w]
        heat = np.exp(-((xx[None] - xy[:, 0, None, None]) ** 2 + (yy[None] - xy[:, 1, None, None]) ** 2) / 8)
        image = np.repeat(np.kron(heat.max(0), np.ones((4, 4)))[None], 3, 0)
        return {"image": torch.tensor(image, dtype=torch.float32), "heatmap": torch.tensor(heat, dtype=torch.float32),
                "weight": torch.ones(J)}


@register_dataset("blobs")
def _blobs(cfg, length=32, seed=0):
    return BlobDataset(cfg, length, seed)


def tiny_config(tmp_path, **train):
    return ExperimentConfig.from_dict({
        "model": {"preset": "ppt_s", "overrides": TINY},
        "data": {"train": {"kind": "blobs", "length": 32}, "val": {"kind": "blobs", "length": 8, "seed": 1}},
        "optim": {"lr": 1e-3, "epochs": 3, "milestones": [2], "batch_size": 8},
        "keep_ratio": {"schedule": "cosine", "warmup_epochs": 1, "anneal_epochs": 1},
        "train": {"out": str(tmp_path / "run"), "workers": 0, "threads": 1, **train},
    })


def test_config_names_unknown_keys_and_sections():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrate'\] in \[optim\]"):
        ExperimentConfig.from_dict({"data": {"train": {"kind": "x"}}, "optim": {"lrate": 1}})
    with pytest.raises(ValueError, match=r"unknown section\(s\) \['optimiser'\]"):
        ExperimentConfig.from_dict({"optimiser": {}})
    with pytest.raises(ValueError, match="schedule"):
        ExperimentConfig.from_dict({"data": {"train": {"kind": "x"}}, "keep_ratio": {"schedule": "linear"}})
    with pytest.raises(ValueError, match="must be a number"):
        ExperimentConfig.from_dict({"data": {"train": {"kind": "x"}}, "optim": {"lr": "fast"}})


def test_unknown_dataset_kind():
    from core.model import get_config

    with pytest.raises(ValueError, match="unknown dataset kind 'nope'"):
        build_dataset({"kind": "nope"}, get_config("ppt_s"))


def test_keep_ratio_schedules():
    assert keep_ratio_at(3, 0, 10, "fixed") == 0.7
    assert keep_ratio_at(9, 5, 10, "cosine") == 1.0
    assert keep_ratio_at(10, 0, 10, "cosine") == pytest.approx(1.0)
    assert keep_ratio_at(60, 0, 10, "cosine") == pytest.approx(0.85)
    assert keep_ratio_at(110, 0, 10, "cosine") == pytest.approx(0.7)
    assert keep_ratio_at(200, 3, 10, "cosine") == 0.7


def test_training_reduces_loss_writes_logs_and_resumes(tmp_path):
    torch.manual_seed(0)
    trainer = Trainer(tiny_config(tmp_path, max_minutes=0))
    first = trainer.fit()
    out = tmp_path / "run"
    assert (out / "last.pth").exists() and (out / "metrics.csv").exists()
    assert any((out / "tensorboard").iterdir())
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # header + 3 epochs
    losses = [float(r.split(",")[1]) for r in rows[1:]]
    assert losses[-1] < losses[0]
    # Resume: a config with more epochs continues from epoch 3.
    cfg = tiny_config(tmp_path)
    cfg = ExperimentConfig.from_dict({**{k: v for k, v in {
        "model": {"preset": "ppt_s", "overrides": TINY},
        "data": {"train": {"kind": "blobs", "length": 32}},
        "optim": {"epochs": 4, "milestones": [2], "batch_size": 8},
        "train": {"out": str(out), "threads": 1}}.items()}})
    resumed = Trainer(cfg)
    assert resumed.start_epoch == 3
    metrics = resumed.fit()
    assert metrics["epoch"] == 4 and first["epoch"] == 3


def test_resume_follows_the_configs_milestones(tmp_path):
    """Moving [optim] milestones and resuming moves the lr steps (the checkpoint's scheduler state does not win)."""
    torch.manual_seed(0)
    out = tmp_path / "run"

    def config(epochs, milestones):
        return ExperimentConfig.from_dict({
            "model": {"preset": "ppt_s", "overrides": TINY}, "data": {"train": {"kind": "blobs", "length": 16}},
            "optim": {"epochs": epochs, "milestones": milestones, "batch_size": 8, "lr": 1e-3, "gamma": 0.1},
            "train": {"out": str(out), "threads": 1}})

    assert Trainer(config(2, [10])).fit()["lr"] == pytest.approx(1e-3)
    resumed = Trainer(config(3, [2]))  # the step at epoch 2 has already passed: lr x0.1 from the first epoch on
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert resumed.fit()["lr"] == pytest.approx(1e-4)
    assert Trainer(config(4, [3]))._follow_config_milestones() is None  # epoch 3 reached: still x0.1 after it
    assert Trainer(config(4, [3])).optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_resume_refuses_another_preset(tmp_path):
    Trainer(tiny_config(tmp_path)).fit()
    cfg = ExperimentConfig.from_dict({"model": {"preset": "tokenpose_s", "overrides": TINY},
                                      "data": {"train": {"kind": "blobs"}},
                                      "train": {"out": str(tmp_path / "run")}})
    with pytest.raises(ValueError, match="was trained as 'ppt_s'"):
        Trainer(cfg)


@pytest.mark.slow
def test_distributed_two_processes_gloo(tmp_path):
    """torchrun with two CPU processes (gloo): both ranks train, rank 0 writes the checkpoint."""
    script = tmp_path / "ddp_train.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})\n"
        "import tests.train.test_trainer as t\n"
        "from pathlib import Path\n"
        "from core.train.trainer import Trainer\n"
        "import torch.distributed as dist\n"
        "cfg = t.tiny_config(Path(sys.argv[1]))\n"
        "tr = Trainer(cfg)\n"
        "m = tr.fit()\n"
        "sys.stdout.write(f\"rank {tr.rank} world {tr.world_size} epoch {m['epoch']}\\n\")\n"  # one atomic write
        "sys.stdout.flush()\n"
        "dist.destroy_process_group()\n")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 0 world 2 epoch 3" in proc.stdout and "rank 1 world 2 epoch 3" in proc.stdout
    assert (tmp_path / "run" / "last.pth").exists()


def test_stream_sampler_continues_across_epochs():
    from core.train.trainer import StreamSampler

    s = StreamSampler(length=10, per_epoch=4)
    assert list(s) == [0, 1, 2, 3] and len(s) == 4
    s.start = 8
    assert list(s) == [8, 9, 0, 1]  # wraps around the dataset
    r1 = StreamSampler(length=100, per_epoch=3, rank=1, world=2)
    r1.start = 6
    assert list(r1) == [7, 9, 11]


def test_stream_order_minute_milestones_and_step_modes(tmp_path):
    """order = "stream" saves its position; minute milestones decay by training time, across resumes."""
    raw = {"model": {"preset": "ppt_s", "overrides": TINY},
           "data": {"train": {"kind": "blobs", "length": 64}, "order": "stream"},
           "optim": {"lr": 1e-3, "epochs": 1, "milestones": [0, 1000], "milestone_unit": "minute", "gamma": 0.5,
                     "batch_size": 8, "iterations_per_epoch": 2},
           "keep_ratio": {"full_fraction": 0.5},
           "train": {"out": str(tmp_path / "run"), "threads": 1}}
    trainer = Trainer(ExperimentConfig.from_dict(raw))
    modes = [trainer.step_mode(0, i, 0.7) for i in range(200)]
    assert modes == [trainer.step_mode(0, i, 0.7) for i in range(200)]  # reproducible (resume)
    assert 60 < sum(r == 1.0 for r, _ in modes) < 140 and all(f for _, f in modes)  # single-view: always "fused"
    metrics = trainer.fit()
    assert metrics["lr"] == pytest.approx(5e-4)  # the 0-minute milestone passed, the 1000-minute one not
    state = torch.load(tmp_path / "run" / "last.pth", weights_only=True)
    assert state["stream_position"] == 16 and state["elapsed_minutes"] > 0
    raw["optim"]["epochs"] = 2
    resumed = Trainer(ExperimentConfig.from_dict(raw))
    assert resumed.stream_position == 16 and resumed.elapsed_minutes == pytest.approx(state["elapsed_minutes"])
    resumed.fit()
    assert torch.load(tmp_path / "run" / "last.pth", weights_only=True)["stream_position"] == 32
    with pytest.raises(ValueError, match="milestone_unit"):
        ExperimentConfig.from_dict({**raw, "optim": {"milestone_unit": "hour"}})
    with pytest.raises(ValueError, match="order must be"):
        ExperimentConfig.from_dict({**raw, "data": {"train": {"kind": "blobs"}, "order": "random"}})


def test_training_aids_train_resume_and_stay_out_of_the_weights(tmp_path):
    """The aids (core/train/aids.py) add to the training loss, learn, are checkpointed for resume, are not part of
    the model or its exported weights, and validation (eval mode) sees the model's loss alone."""
    from core.train.aids import TrainingAids
    from core.train.export import export_weights

    torch.manual_seed(0)
    aids = {"attention": 1.0, "token_heatmap": 1.0, "stem": 1.0, "foreground": 5.0}
    config = ExperimentConfig.from_dict({**_raw(tmp_path), "aids": aids})
    trainer = Trainer(config)
    assert isinstance(trainer.aids, TrainingAids)
    before = trainer.aids.token_head.weight.detach().clone()
    batch = next(iter(trainer.loader))
    trainer.net.train()
    with_aids = trainer._forward_loss(batch, 0.7)
    assert set(trainer.last_aid_losses) == {"attention", "token_heatmap", "stem"}
    assert all(v > 0 for v in trainer.last_aid_losses.values())
    trainer.net.eval()
    with torch.no_grad():
        without = trainer._forward_loss(batch, 0.7)
    assert with_aids.item() > without.item() + 1e-6
    trainer.fit()
    assert not torch.equal(trainer.aids.token_head.weight, before)
    state = torch.load(tmp_path / "run" / "last.pth", weights_only=True)
    assert "aids" in state and set(state["state_dict"]) == set(trainer.model.state_dict())
    exported = torch.load(export_weights(tmp_path / "run" / "last.pth", tmp_path / "w.pth"), weights_only=True)
    assert set(exported["state_dict"]) == set(trainer.model.state_dict())
    resumed = Trainer(config)
    assert torch.equal(resumed.aids.token_head.weight, trainer.aids.token_head.weight)


def _raw(tmp_path):
    return {
        "model": {"preset": "ppt_s", "overrides": TINY},
        "data": {"train": {"kind": "blobs", "length": 32}, "val": {"kind": "blobs", "length": 8, "seed": 1}},
        "optim": {"lr": 1e-3, "epochs": 2, "milestones": [2], "batch_size": 8},
        "train": {"out": str(tmp_path / "run"), "workers": 0, "threads": 1},
    }


def test_stem_stage_trains_only_the_stem_then_max_crops_stops(tmp_path):
    """Staged pretraining: for stem_pretrain_crops only the CNN stem (and its head) change; max_crops ends the run
    and a resumed run that trained its budget does nothing."""
    torch.manual_seed(0)
    raw = _raw(tmp_path)
    raw["aids"] = {"stem": 1.0, "stem_pretrain_crops": 16}
    raw["train"] = {**raw["train"], "max_crops": 16}
    trainer = Trainer(ExperimentConfig.from_dict(raw))
    keypoints = trainer.model.features.keypoint_token.detach().clone()
    conv = trainer.model.features.conv1.weight.detach().clone()
    trainer.fit()
    assert trainer.crops_seen == 16
    assert torch.equal(trainer.model.features.keypoint_token, keypoints)  # the transformer did not train
    assert not torch.equal(trainer.model.features.conv1.weight, conv)
    resumed = Trainer(ExperimentConfig.from_dict(raw))
    assert resumed.crops_seen == 16
    resumed.fit()
    assert resumed.crops_seen == 16


def test_a_run_continues_from_its_exported_weights_when_the_run_folder_is_gone(tmp_path):
    """[model] continue_from: with no last.pth the run picks up the exported weights' epoch, crops and lineage."""
    import shutil

    from core.train.export import export_weights

    torch.manual_seed(0)
    raw = _raw(tmp_path)
    first = Trainer(ExperimentConfig.from_dict(raw))
    first.fit()
    weights = export_weights(tmp_path / "run" / "last.pth", tmp_path / "committed.pth")
    shutil.rmtree(tmp_path / "run")
    raw["model"] = {**raw["model"], "continue_from": str(weights)}
    raw["optim"] = {**raw["optim"], "epochs": 3, "milestones": [2], "gamma": 0.1}
    again = Trainer(ExperimentConfig.from_dict(raw))
    assert again.start_epoch == 2 and again.crops_seen == first.crops_seen == 64
    assert again.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)  # the lr step at epoch 2 has passed
    torch.testing.assert_close(again.model.features.keypoint_token, first.model.features.keypoint_token,
                               atol=1e-3, rtol=1e-3)  # the file is fp16
    again.fit()
    meta = torch.load(export_weights(tmp_path / "run" / "last.pth", tmp_path / "w2.pth"), weights_only=True)["meta"]
    assert meta["crops_seen"] == 96 and len(meta["lineage"]) == 1
