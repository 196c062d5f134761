"""Every shipped experiment config parses strictly; the demo and GPU recipes run end to end on CPU (smoke)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
import torch

from core.train.config import ExperimentConfig
from core.train.corpus_render import CorpusSpec, render_corpus
from core.train.export import export_weights
from core.train.trainer import Trainer

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_parses(path):
    ExperimentConfig.load(path)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    render_corpus(folder, CorpusSpec(samples=4, views=4, seed=31, shard_size=4, crop_size=96))
    return folder


def _smoke(path: Path, corpus: Path, out: Path, init: str = "", batch: int = 4, **train) -> Trainer:
    """The config as shipped, with only what a CPU smoke run must change: device, data, budget, output."""
    raw = tomllib.loads(path.read_text())
    for split in ("train", "val"):
        raw["data"][split] = {**raw["data"][split], "path": str(corpus), "max_samples": 2}
    raw["model"]["init"] = init
    raw["model"].pop("continue_from", None)  # a fresh smoke run, not the committed demo run
    raw["optim"].update(batch_size=batch, iterations_per_epoch=1)
    views = raw["data"]["train"].get("views", 1)
    raw["train"].update(device="cpu", workers=0, threads=1, out=str(out), eval_every_crops=batch * views,
                        max_crops=2 * batch * views, **train)
    return Trainer(ExperimentConfig.from_dict(raw, str(path)))


def test_gpu_recipe_runs_both_stages_on_cpu(tiny_corpus, tmp_path):
    """configs/demo_gpu*.toml (the `make train-gpu` recipe): stage 1 exports weights that stage 2 starts from,
    and the exported file counts the crops of both stages."""
    configs = Path(__file__).resolve().parents[2] / "configs"
    torch.manual_seed(0)
    stage1 = _smoke(configs / "demo_gpu.toml", tiny_corpus, tmp_path / "s1")
    stage1.fit()
    assert (tmp_path / "s1" / "progress.csv").exists()
    weights = export_weights(tmp_path / "s1" / "last.pth", tmp_path / "s1.pth")
    stage2 = _smoke(configs / "demo_gpu_multiview.toml", tiny_corpus, tmp_path / "s2", init=str(weights), batch=1)
    stage2.fit()
    final = torch.load(export_weights(tmp_path / "s2" / "last.pth", tmp_path / "s2.pth"), weights_only=True)
    assert final["meta"]["crops_seen"] == stage1.crops_seen + stage2.crops_seen == 8 + 8
    assert [step["run"] for step in final["meta"]["lineage"]] == [str(tmp_path / "s1"), str(tmp_path / "s2")]


def test_cpu_demo_recipe_runs_both_stages(tiny_corpus, tmp_path):
    """configs/demo_single_view.toml then configs/demo_multiview.toml (the CPU curriculum of the shipped weights);
    the single-view stage's weights say they never trained fused views, stage 2's say they did."""
    configs = Path(__file__).resolve().parents[2] / "configs"
    stage1 = _smoke(configs / "demo_single_view.toml", tiny_corpus, tmp_path / "cpu")
    stage1.fit()
    assert stage1.crops_seen == 8
    weights = export_weights(tmp_path / "cpu" / "last.pth", tmp_path / "s1.pth")
    assert torch.load(weights, weights_only=True)["meta"]["fusion_trained"] is False
    stage2 = _smoke(configs / "demo_multiview.toml", tiny_corpus, tmp_path / "cpu2", init=str(weights), batch=1,
                    unfused_fraction=0.0)  # every smoke step fused
    stage2.fit()
    final = torch.load(export_weights(tmp_path / "cpu2" / "last.pth", tmp_path / "s2.pth"), weights_only=True)
    assert final["meta"]["fusion_trained"] is True and final["meta"]["crops_seen"] == 8 + 8
