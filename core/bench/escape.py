"""``ppt-mocap bench escape``: training crops until a from-scratch model leaves the mean pose, per training aid.

Each variant is an experiment config in ``configs/escape/`` (the demo model's single-view stage, keep 1.0, the
same corpus, seed, batch and learning rate; only the ``[aids]`` table differs). The job trains every variant up
to its ``[train] max_crops`` (resuming runs already in ``runs/escape/``), then prints, from each run's
``progress.csv``, the mean-pose baseline beside the model: the crops seen until the held-out median 2D error is
half the baseline's (``escaped``), the crops until it is below the baseline, and the last figures. Counting
crops, not time, makes the table independent of the machine's load.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

NAME = "escape"
HELP = "crops until the held-out 2D error is half the mean-pose baseline's, per training aid (configs/escape/)"
VARIANTS = ("official", "attention", "stem", "foreground", "simcc", "token_heatmap", "combined")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"variants (default: {' '.join(VARIANTS)})")
    parser.add_argument("--configs", default="configs/escape", help="folder of the variant configs")
    parser.add_argument("--report-only", action="store_true", help="only read the runs' progress.csv, train nothing")
    parser.add_argument("--plot", default=None, help="also draw the learning curves into this PNG")


def first_crossing(rows: list[dict], factor: float) -> int | None:
    """Crops of the first row whose median error is <= ``factor`` x the baseline's, or None."""
    for row in rows:
        if float(row["median_px"]) <= factor * float(row["baseline_px"]):
            return int(row["crops"])
    return None


def read_progress(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summarize(name: str, rows: list[dict]) -> dict:
    if not rows:
        return {"variant": name, "runs": "no progress.csv yet"}
    last = rows[-1]
    best = min(rows, key=lambda r: float(r["median_px"]))
    half, below = first_crossing(rows, 0.5), first_crossing(rows, 1.0)
    return {
        "baseline_median_px": round(float(last["baseline_px"]), 2),
        "crops_to_half_baseline": half if half is not None else f"not within {last['crops']}",
        "crops_to_below_baseline": below if below is not None else f"not within {last['crops']}",
        "last_crops": int(last["crops"]), "last_median_px": round(float(last["median_px"]), 2),
        "last_jdr_%": round(100 * float(last["jdr"]), 1), "best_median_px": round(float(best["median_px"]), 2),
        "last_spread_px": round(float(last["spread_px"]), 2), "minutes": float(last["minutes"]),
    }


def run(args: argparse.Namespace) -> dict:
    from core.train.config import ExperimentConfig
    from core.train.trainer import Trainer

    unknown = [v for v in args.variants if not (Path(args.configs) / f"{v}.toml").exists()]
    if unknown:
        raise FileNotFoundError(f"no config for variant(s) {unknown} in {args.configs}")
    figures: dict = {}
    curves = {}
    for name in args.variants:
        config = ExperimentConfig.load(Path(args.configs) / f"{name}.toml")
        if not args.report_only:
            log.info("escape variant %s: training to %d crops", name, config.train.max_crops)
            Trainer(config).fit()
        rows = read_progress(Path(config.train.out) / "progress.csv")
        figures[name] = summarize(name, rows)
        if rows:
            curves[name] = rows
    if args.plot and curves:
        from core.train.progress import plot_progress

        plot_progress(curves, args.plot)
        figures["plot"] = str(args.plot)
    return figures
