"""``ppt-mocap bench train``: training crops per second fed from a rendered corpus and from on-the-fly rendering.

One model (the demo model of ``--config``), one optimizer, the same batch size and step; two data sources
measured in alternating rounds in one run:

* ``corpus``: items cut from the corpus shards (``[data] kind = "corpus"``, JPEG decode + affine crop + targets);
* ``render``: the studio rendered inside the loop (``studio-multi``, as the first demo run trained), with one
  DataLoader worker rendering while the step runs.

Both stages of the demo recipe are measured: single-view items (``views = 1``, unfused) and 4-view items
(fused). Figures are crops (images of one view) per second, medians over the rounds, and their ratio; the
reference is the 4.6 crops/s of the first demo run (``assets/weights/MODEL_CARD.md`` history).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch.utils.data import DataLoader

NAME = "train"
HELP = "training crops/s of the demo model fed from the rendered corpus vs on-the-fly rendering (target >= 5x 4.6)"
REFERENCE_CROPS_PER_S = 4.6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/demo_single_view.toml",
                        help="experiment config whose model is measured (default configs/demo_single_view.toml)")
    parser.add_argument("--corpus", default="runs/corpus/studio_train", help="corpus folder")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per source (default 3)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round (default 6)")
    parser.add_argument("--batch", type=int, default=16, help="crops per step (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the step (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of both sources (default 1)")


def _steps(model, optimizer, iterator, steps: int, fuse: bool) -> float:
    """Seconds for ``steps`` training steps drawing batches from ``iterator``."""
    from core.train.losses import joints_mse_multi_view

    t0 = time.perf_counter()
    for _ in range(steps):
        batch = next(iterator)
        out = model(batch["image"], batch["rays"], fuse=fuse, keep_ratio=1.0)
        loss = joints_mse_multi_view(out.heatmaps, batch["heatmap"], batch["weight"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t0


def _loader(dataset, batch: int, workers: int):
    from core.train.trainer import single_threaded_worker

    loader = DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=workers, drop_last=True,
                        persistent_workers=workers > 0,
                        worker_init_fn=single_threaded_worker if workers > 0 else None)
    while True:
        yield from loader


def run(args: argparse.Namespace) -> dict:
    from core.model import build_model
    from core.train.config import ExperimentConfig
    from core.train.datasets import build_dataset
    from core.train.trainer import model_config_from

    if args.rounds < 1 or args.steps < 1 or args.batch < 4:
        raise ValueError("--rounds and --steps must be >= 1 and --batch >= 4")
    torch.set_num_threads(args.threads)
    cfg = model_config_from(ExperimentConfig.load(args.config))
    if not cfg.is_multiview:
        raise ValueError(f"{args.config}: bench train measures the multi-view demo model family, got {cfg.name}")
    model = build_model(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}, "
                                f"torch {torch.__version__}, {args.threads} threads, {args.workers} worker(s)",
                     "model": f"{cfg.name} {cfg.image_size[0]}x{cfg.image_size[1]}, patch {cfg.patch_size}, "
                              f"dim {cfg.dim}, depth {cfg.depth}",
                     "crops_per_step": args.batch}
    for stage, views, fuse in (("single_view", 1, False), ("four_view", 4, True)):
        samples = max(1, args.batch // views)
        corpus = build_dataset({"kind": "corpus", "path": args.corpus, "views": views}, cfg)
        render = build_dataset({"kind": "studio-multi", "length": 100000, "seed": 1, "views": views, "reuse": 8}, cfg)
        sources = {"corpus": _loader(corpus, samples, args.workers), "render": _loader(render, samples, args.workers)}
        for it in sources.values():  # warm-up: worker start, first render stage, allocator
            _steps(model, optimizer, it, 1, fuse)
        rates = {name: [] for name in sources}
        for _ in range(args.rounds):
            for name, it in sources.items():
                seconds = _steps(model, optimizer, it, args.steps, fuse)
                rates[name].append(args.steps * samples * views / seconds)
        corpus_rate, render_rate = statistics.median(rates["corpus"]), statistics.median(rates["render"])
        figures[stage] = {"corpus_crops_per_s": round(corpus_rate, 2), "render_crops_per_s": round(render_rate, 2),
                          "corpus_over_render": round(corpus_rate / render_rate, 2),
                          "corpus_over_reference_4.6": round(corpus_rate / REFERENCE_CROPS_PER_S, 2)}
    return figures
