"""Fine-tune a pose model on the bootstrapped labels of one or more sessions: ``ppt-mocap finetune train``.

The run is an ordinary experiment of :mod:`core.train` (a strict :class:`~core.train.config.ExperimentConfig`,
written to the run folder as ``config.json``): ``[model] init`` is our weights file or an official checkpoint,
``[data]`` the ``session-labels`` kind with each session's last ``holdout`` share held out by time, Adam with one
learning-rate step at 70 % of the epochs, the keep ratio of the weights, and (multi-view) half of the steps unfused,
as the fine-tuned weights will run (a fifth when they are to run fused: they keep working view by view). The
trainer checkpoints every epoch (``last.pth``); running the same command again resumes, and the weights file is
written only when the run ends (atomically), so a run stopped at any point leaves earlier weights untouched.

Before training and after every epoch the held-out frames are evaluated against the labels
(:func:`core.finetune.evaluate.evaluate_labels`; ``progress.csv`` in the run folder, shown by the app as it
trains). The weights file's ``meta.finetune`` names the sessions, label sets, teacher, split, the figures before
and after, and the init weights; ``meta.lineage`` (written by :func:`core.train.export.export_weights`) adds this
run to the weights' training history.

Run folder (default ``FIRST_SESSION/finetune/<name>/``, name = the init file's stem): ``config.json``,
``last.pth``, ``metrics.csv``, ``progress.csv``, ``finetune.json`` (figures), ``weights.pth`` (the result,
unless ``out`` says otherwise). Several processes (``torchrun``, one per GPU) train with DDP; only rank 0
evaluates and writes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.finetune.evaluate import evaluate_labels
from core.finetune.labels import LabelSet
from core.inference.weights import NotAWeightsFileError, file_sha256, read_weights_file
from core.model import get_config
from core.train.config import ExperimentConfig
from core.train.export import export_weights
from core.train.trainer import Trainer

log = logging.getLogger(__name__)

FINETUNE_DIR = "finetune"
ProgressFn = Callable[[str, dict], None]


class FinetuneStopped(RuntimeError):
    """Raised when a fine-tuning run is asked to stop (the last epoch's checkpoint stays for resuming)."""


@dataclass
class FinetuneOptions:
    """One fine-tuning run.

    Attributes:
        sessions: session folders with label sets (``ppt-mocap finetune label``).
        init: our weights file or an official checkpoint (``preset`` says which architecture it is).
        labels: label-set name in every session (default: each session's only one).
        name: run name (default: the init file's stem); run_dir: run folder (default
            ``sessions[0]/finetune/<name>``); out: weights file (default ``run_dir/weights.pth``).
        holdout: share of each session held out at its end (by time).
        epochs, lr, batch_size: the schedule (batch: frame sets for multi-view models, crops for single-view).
        max_minutes: stop (checkpointed, resumable) after this wall time; 0 = none.
        device: ``auto``, ``cpu`` or ``cuda``; threads: torch threads (0: torch's default); workers: data workers.
        unfused_fraction: multi-view: share of steps without fusion (default: 0.5 when the weights will run each
            view alone, ``fuse`` false: on the Pose2Sim session lower held-out 3D than 0.2 on the labels' boxes in
            all five seeds measured and through the replay path on their mean; 0.2 when they will run fused).
        visible_only: train only on joints visible in each view.
        rotation: in-plane rotation of the training crops, degrees (each view on its own, with probability 0.6:
            ``clip(rotation * N(0, 1), +-2 rotation)``): a few dozen frame sets then teach limb angles they do not
            show (the Pose2Sim session's held-out 2D 21 -> 18 px, docs/BENCHMARKS.md); 0 = scale/shift jitter only.
        flip: mirror all views of half the training frame sets together, left/right labels swapped (multi-view
            models; single-view ones always flip, PPT_SPEC 4.2): each side of the body learns the poses the other
            side shows.
        fuse: multi-view models: whether the fine-tuned weights run their views fused (written to their metadata
            as ``fuse``; the held-out figures are measured the same way). Default: each view alone, the
            triangulation combining them: on the real Pose2Sim session the same fine-tuned weights' held-out 3D
            was about 2 mm lower that way (seven seeds; equal on a rendered session, docs/BENCHMARKS.md).
        fresh: discard an earlier run folder's checkpoint instead of resuming it.
        seed: random seed.
    """

    sessions: list
    init: str
    labels: str | None = None
    name: str | None = None
    run_dir: str | None = None
    out: str | None = None
    preset: str = "multiview_ppt_s"
    holdout: float = 0.3
    epochs: int = 20
    lr: float = 3e-4
    batch_size: int = 0
    max_minutes: float = 0.0
    device: str = "auto"
    threads: int = 0
    workers: int = 0
    unfused_fraction: float | None = None
    visible_only: bool = False
    rotation: float = 30.0
    flip: bool = True
    fuse: bool = False
    fresh: bool = False
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def resolved(self) -> "FinetuneOptions":
        if not self.sessions:
            raise ValueError("fine-tuning needs at least one session with labels")
        init = Path(self.init)
        if not init.is_file():
            raise FileNotFoundError(f"init weights not found: {init}")
        name = self.name or init.stem
        run_dir = Path(self.run_dir) if self.run_dir else Path(self.sessions[0]) / FINETUNE_DIR / name
        out = Path(self.out) if self.out else run_dir / "weights.pth"
        if out.resolve() == init.resolve():
            raise ValueError(f"the fine-tuned weights would overwrite the init weights {init}; choose another --out "
                             "(earlier weights are never replaced by a run that has not finished)")
        unfused = self.unfused_fraction if self.unfused_fraction is not None else (0.2 if self.fuse else 0.5)
        if not 0.0 <= unfused <= 1.0:
            raise ValueError(f"unfused_fraction must be within 0..1 (a share of the steps), got {unfused}")
        return dataclasses.replace(self, sessions=[str(s) for s in self.sessions], name=name, run_dir=str(run_dir),
                                   out=str(out), unfused_fraction=unfused)


def model_section(init, preset: str) -> dict:
    """``[model]`` of the run: our weights file describes its architecture (preset + overrides); any other file is
    an official checkpoint of ``preset``."""

    try:
        config, _ = read_weights_file(init)
    except NotAWeightsFileError:
        get_config(preset)  # a clear error for an unknown preset
        return {"preset": preset, "init": str(init)}
    base = get_config(config.name)
    overrides = {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
                 for f in dataclasses.fields(config) if f.name != "name" and getattr(config, f.name) != getattr(base, f.name)}
    return {"preset": config.name, "overrides": overrides, "init": str(init)}


def build_config(opts: FinetuneOptions) -> ExperimentConfig:
    """The strict experiment config of a (resolved) fine-tuning run."""
    model = model_section(opts.init, opts.preset)
    mcfg = get_config(model["preset"]).replace(**{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in model.get("overrides", {}).items()})
    data = {"kind": "session-labels", "sessions": list(opts.sessions), "holdout": opts.holdout,
            "labels": opts.labels or "", "visible_only": opts.visible_only}
    batch = opts.batch_size or (4 if mcfg.is_multiview else 16)
    raw = {
        "model": model,
        "data": {"train": {**data, "split": "train", "rotation": opts.rotation, "flip": opts.flip},
                 "val": {**data, "split": "held-out"}, "order": "shuffle"},
        "optim": {"lr": opts.lr, "epochs": opts.epochs, "milestones": [max(1, int(round(0.7 * opts.epochs)))],
                  "gamma": 0.1, "batch_size": batch},
        "keep_ratio": {"schedule": "fixed", "final": mcfg.keep_ratio},
        "train": {"out": opts.run_dir, "seed": opts.seed, "device": opts.device, "workers": opts.workers,
                  "threads": opts.threads, "log_every": 10, "checkpoint_every": 1, "max_minutes": opts.max_minutes,
                  "unfused_fraction": opts.unfused_fraction if mcfg.is_multiview else 0.0},
    }
    return ExperimentConfig.from_dict(raw, f"fine-tuning run {opts.run_dir}")


def _sha256(path, length: int = 16) -> str:

    return file_sha256(path, length)


class _Progress:
    """The epoch callback: held-out figures into the metrics and ``progress.csv``; step/epoch events out."""

    def __init__(self, trainer, label_sets, holdout: float, fuse: bool, state: dict, path: Path, on_progress, stop,
                 epochs: int) -> None:
        self.trainer, self.label_sets, self.holdout, self.fuse = trainer, label_sets, holdout, fuse
        self.state, self.path, self.on_progress, self.stop, self.epochs = state, path, on_progress, stop, epochs
        self.started = time.monotonic()

    def figures(self) -> dict:

        return evaluate_labels(self.trainer.model, self.label_sets, "held-out", self.holdout, fuse=self.fuse,
                               keep_ratio=self.trainer.config.keep_ratio.final, baseline=False)

    def __call__(self, kind: str, info: dict) -> None:
        if self.stop is not None and self.stop():
            raise FinetuneStopped("fine-tuning stopped; run it again to resume from the last finished epoch")
        if not self.trainer.is_main:
            return
        if kind == "step":
            if self.on_progress:
                done = info["epoch"] + info["iteration"] / max(1, info["iterations"])
                self.on_progress("step", {**info, "fraction": done / self.epochs})
            return
        figures = self.figures()
        info.update({f"heldout_{k}": v for k, v in figures.items() if k != "frames"})
        row = {"epoch": info["epoch"], "crops": self.trainer.crops_seen,
               "minutes": round(self.trainer.elapsed_minutes + (time.monotonic() - self.started) / 60, 3),
               "train_loss": info["train_loss"], "val_loss": info.get("val_loss", float("nan")), **figures}
        _append_csv(self.path / "progress.csv", row)
        self.state["history"] = self.state.get("history", []) + [row]
        _write_json(self.path / "finetune.json", self.state)
        log.info("epoch %d/%d: held-out %.1f px, 3D median %.1f mm (labels)", info["epoch"], self.epochs,
                 figures["median_px"], figures["median_mm"])
        if self.on_progress:
            self.on_progress("epoch", {**row, "fraction": info["epoch"] / self.epochs})


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row), extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_progress(run_dir) -> list[dict]:
    """Rows of a run's ``progress.csv`` (numbers as floats); [] when there are none yet."""
    path = Path(run_dir) / "progress.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
                for row in csv.DictReader(f)]


def finetune(options: FinetuneOptions, on_progress: ProgressFn | None = None,
             stop: Callable[[], bool] | None = None) -> dict:
    """Run (or resume) a fine-tuning run; returns its summary (also in ``run_dir/finetune.json`` and the weights'
    metadata). ``on_progress(kind, info)``: ``"start"``, ``"step"``, ``"epoch"`` (held-out figures), ``"done"``;
    ``stop()`` returning True stops the run (:class:`FinetuneStopped`) at the next step."""

    opts = options.resolved()
    run_dir = Path(opts.run_dir)
    if opts.fresh and (run_dir / "last.pth").exists():
        for name in ("last.pth", "best.pth", "metrics.csv", "progress.csv", "finetune.json"):
            (run_dir / name).unlink(missing_ok=True)
    label_sets = [LabelSet(s, opts.labels) for s in opts.sessions]
    config = build_config(opts)
    started = time.monotonic()
    trainer = Trainer(config, resume=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "finetune.json"
    state = json.loads(state_path.read_text()) if state_path.exists() and trainer.start_epoch > 0 else {}
    if state.get("history"):  # epochs evaluated after the checkpoint a stopped run resumes from are run again
        state["history"] = [r for r in state["history"] if r["epoch"] <= trainer.start_epoch]
        (run_dir / "progress.csv").unlink(missing_ok=True)
        for row in state["history"]:
            _append_csv(run_dir / "progress.csv", row)
    elif (run_dir / "progress.csv").exists():
        (run_dir / "progress.csv").unlink()
    split = {ls.session.name: {"train": len(ls.frames("train", opts.holdout)),
                               "held_out": len(ls.frames("held-out", opts.holdout)), "frames": ls.num_frames}
             for ls in label_sets}
    progress = _Progress(trainer, label_sets, opts.holdout, opts.fuse, state, run_dir, on_progress, stop,
                         opts.epochs)
    if trainer.is_main and "before" not in state:
        state.update(before=evaluate_labels(trainer.model, label_sets, "held-out", opts.holdout, fuse=opts.fuse,
                                            keep_ratio=config.keep_ratio.final), history=[])
        _write_json(state_path, state)
    if on_progress and trainer.is_main:
        on_progress("start", {"before": state.get("before"), "epoch": trainer.start_epoch, "epochs": opts.epochs,
                              "split": split, "run_dir": str(run_dir)})
    trainer.callbacks.append(progress)
    trainer.fit()
    summary: dict = {}
    if trainer.is_main:
        after = state["history"][-1] if state.get("history") else progress.figures()
        after = {k: after[k] for k in ("median_px", "mpjpe_mm", "median_mm") if k in after}
        minutes = trainer.elapsed_minutes + (time.monotonic() - started) / 60
        teachers = sorted({json.dumps(ls.info["teacher"], sort_keys=True) for ls in label_sets})
        summary = {
            "sessions": [str(Path(s).resolve()) for s in opts.sessions],
            "labels": [{"session": ls.session.name, "name": ls.name, "counts": ls.info["counts"]} for ls in label_sets],
            "teacher": [json.loads(t) for t in teachers],
            "holdout": opts.holdout, "split": split,
            "init": {"path": str(Path(opts.init).resolve()), "sha256": _sha256(opts.init)},
            "before": {k: v for k, v in state["before"].items()}, "after": after,
            "epochs": int(state["history"][-1]["epoch"]) if state.get("history") else trainer.start_epoch,
            "epochs_planned": opts.epochs, "fuse": opts.fuse, "device": str(trainer.device),
            "processes": trainer.world_size,
            "figures_against": "the labels' held-out frames (teacher-derived, not ground truth)",
        }
        out = export_weights(run_dir / "last.pth", opts.out, meta={"finetune": summary, "fuse": opts.fuse,
                                                                 "description": f"fine-tuned on {split}"})
        summary.update(weights=str(out), minutes=round(minutes, 2))
        state.update(after=after, weights=str(out), complete=True)
        _write_json(state_path, state)
        log.info("fine-tuned weights written to %s (held-out 3D median %.1f -> %.1f mm against the labels)", out,
                 state["before"]["median_mm"], after.get("median_mm", float("nan")))
        if on_progress:
            on_progress("done", summary)
    return summary


def list_runs(session) -> list[dict]:
    """Fine-tuning runs in ``SESSION/finetune/``: name, folder, epochs evaluated, complete, weights (or None), the
    last held-out figures."""
    root = Path(session) / FINETUNE_DIR
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        state_path = folder / "finetune.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        weights = Path(state.get("weights") or folder / "weights.pth")
        out.append({"name": folder.name, "folder": str(folder), "epochs": len(state.get("history", [])),
                    "complete": bool(state.get("complete")), "weights": str(weights) if weights.exists() else None,
                    "before": state.get("before"), "after": state.get("after")})
    return out


def finetuned_weights(sessions_root) -> list[tuple[str, Path]]:
    """Weights written by fine-tuning runs of the sessions under ``sessions_root``: (``session/run`` label, file),
    newest first (what the app offers as backends)."""
    root = Path(sessions_root)
    found = []
    for path in root.glob(f"*/{FINETUNE_DIR}/*/weights.pth") if root.is_dir() else []:
        found.append((path.stat().st_mtime, f"{path.parents[2].name}/{path.parent.name}", path))
    return [(label, path) for _, label, path in sorted(found, reverse=True)]
