"""``ppt-mocap train --config FILE``: train a pose model from one experiment config (resumes by default)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a PPT/TokenPose model from an experiment config (TOML)",
        description="Train from one TOML experiment config (see core/train/config.py and configs/). "
        "An interrupted run resumes from train.out/last.pth. For several GPUs or machines launch with "
        "torchrun, e.g. `torchrun --nproc_per_node 4 -m app.cli train --config FILE`.")
    p.add_argument("--config", required=True, type=Path, help="experiment config (.toml)")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if a checkpoint exists")
    p.add_argument("--export", type=Path, default=None,
                   help="after training, write the last checkpoint as a small fp16 weights file here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.train.config import ExperimentConfig
    from core.train.trainer import Trainer

    config = ExperimentConfig.load(args.config)
    trainer = Trainer(config, resume=not args.no_resume)
    metrics = trainer.fit()
    if trainer.is_main:
        print(f"done: {metrics}; checkpoint {trainer.out / 'last.pth'}")
        if args.export is not None:
            from core.train.export import export_weights

            print(f"weights written to {export_weights(trainer.out / 'last.pth', args.export)}")
    return 0
