"""The training loop: one experiment config in, checkpoints and metric logs out.

Follows the official recipe (PPT_SPEC sections 4-5): Adam without weight decay, MultiStepLR, the keep-ratio
schedule, the official heatmap losses; fixed seeds; CPU or CUDA (mixed precision on CUDA); several GPUs or
machines through ``torch.distributed`` (launch with ``torchrun``: DistributedDataParallel, gloo on CPU, NCCL on
CUDA). Checkpoints (``last.pth``) hold everything needed to resume an interrupted run.

Batches are dicts: ``image`` (B, 3, H, W) or (B, V, 3, H, W) float, ``heatmap`` (B[, V], J, h, w),
``weight`` (B[, V], J), and for multi-view ``rays`` (B, V, N, 3) world-frame viewing directions.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from tqdm import tqdm

from core.model import build_model, get_config, load_checkpoint
from core.train.config import ExperimentConfig
from core.train.datasets import build_dataset
from core.train.aids import TrainingAids, foreground_weighted_mse
from core.train.losses import joints_mse_multi_view, joints_mse_single_view
from core.train.progress import escaped, pose_progress
from core.train.schedules import keep_ratio_at

log = logging.getLogger(__name__)


def single_threaded_worker(worker_id: int) -> None:
    """DataLoader worker init: one thread for OpenCV and torch, so data workers do not compete with the
    training step's intra-op threads for the cores."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def model_config_from(config: ExperimentConfig):
    overrides = dict(config.model.overrides)
    for key in ("image_size", "patch_size", "pruning_layers"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    return get_config(config.model.preset).replace(**overrides)


def init_lineage(path) -> list[dict]:
    """The training lineage stored in one of our weights files (``meta.lineage``); [] for other checkpoints."""
    state = torch.load(path, map_location="cpu", weights_only=True)  # already read once by load_checkpoint
    meta = state.get("meta", {}) if isinstance(state, dict) else {}
    lineage = list(meta.get("lineage", []))
    return lineage or ([{"run": str(path), "crops": int(meta.get("crops_seen", 0)),
                         "minutes": float(meta.get("minutes_trained", 0.0))}] if meta else [])


class StreamSampler(Sampler):
    """Indices in order, each epoch continuing where the last one stopped (``[data] order = "stream"``).

    For on-the-fly datasets whose samples are already random functions of their index and that cache work
    shared by consecutive indices (the studio's rooms and cameras): a shuffle would defeat that cache, and
    restarting at 0 every epoch would show the same samples again. ``per_epoch`` indices per process and epoch;
    with several processes, rank ``r`` takes every ``world``-th index.
    """

    def __init__(self, length: int, per_epoch: int, rank: int = 0, world: int = 1) -> None:
        self.length, self.per_epoch, self.rank, self.world = length, per_epoch, rank, world
        self.start = 0  # global position of this epoch's first index (the trainer advances and saves it)

    def set_epoch(self, epoch: int) -> None:
        pass  # the position is set by the trainer (self.start), so a changed epoch size continues seamlessly

    def __len__(self) -> int:
        return self.per_epoch

    def __iter__(self):
        start = self.start
        return iter([(start + k * self.world + self.rank) % self.length for k in range(self.per_epoch)])


class Trainer:
    """Runs one experiment. ``rank``/``world_size`` come from torchrun's environment when present."""

    def __init__(self, config: ExperimentConfig, resume: bool = True) -> None:
        self.config = config
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(config.train.device)
        if self.device.type == "cuda" and self.world_size > 1:
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        seed_everything(config.train.seed + self.rank)
        self.out = Path(config.train.out)
        self.model_config = model_config_from(config)
        self.model = build_model(self.model_config).to(self.device)
        # Runs this model descends from (our weights files carry it in their meta), so exported weights say how
        # many crops and minutes of training they hold in total.
        self.lineage: list[dict] = []
        if config.model.init:
            load_checkpoint(self.model, config.model.init)
            self.lineage = init_lineage(config.model.init)
        self.multiview = self.model_config.is_multiview
        self.train_set = build_dataset(config.data.train, self.model_config)
        self.val_set = build_dataset(config.data.val, self.model_config) if config.data.val else None
        batch = config.optim.batch_size
        if config.data.order == "stream":
            full = len(self.train_set) // (batch * self.world_size)
            iters = min(full, config.optim.iterations_per_epoch) if config.optim.iterations_per_epoch else full
            self.sampler = StreamSampler(len(self.train_set), iters * batch, self.rank, self.world_size)
        else:
            self.sampler = DistributedSampler(self.train_set, self.world_size, self.rank, shuffle=True,
                                              seed=config.train.seed) if self.world_size > 1 else None
        generator = torch.Generator().manual_seed(config.train.seed)
        self.loader = DataLoader(self.train_set, batch_size=config.optim.batch_size, shuffle=self.sampler is None,
                                 sampler=self.sampler, num_workers=config.train.workers, drop_last=True,
                                 generator=generator, persistent_workers=config.train.workers > 0,
                                 worker_init_fn=single_threaded_worker if config.train.workers > 0 else None)
        if len(self.loader) == 0:
            raise ValueError(f"the training set has {len(self.train_set)} samples, fewer than one batch of "
                             f"{config.optim.batch_size}")
        self.net = (torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=[self.local_rank] if self.device.type == "cuda" else None,
            find_unused_parameters=config.train.unfused_fraction > 0)  # pos_3d_linear idles in unfused steps
            if self.world_size > 1 else self.model)
        # Training aids (core/train/aids.py): hooks and heads outside the model, saved in the checkpoint for resume
        # only, never exported.
        aids = config.aids
        self.aids = (TrainingAids(self.model, aids).to(self.device) if aids.any or aids.stem_pretrain_crops
                     else None)
        params = list(self.model.parameters()) + (list(self.aids.parameters()) if self.aids else [])
        self.optimizer = torch.optim.Adam(params, lr=config.optim.lr)  # no weight decay
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(config.optim.milestones),
                                                              config.optim.gamma)
        self.use_amp = config.train.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.start_epoch = 0
        self.elapsed_minutes = 0.0  # training time of earlier runs of this experiment (from the checkpoint)
        self.stream_position = 0
        self.crops_seen = 0  # training crops (images of one view) so far, summed over resumes
        self.fused_crops = 0  # of those, crops trained with multi-view fusion (several views, fuse on)
        self._val_batches = None
        self.best_val = math.inf
        # Observers of the run, called as callback(kind, info) with kind "step" (epoch, iteration, iterations, crops,
        # loss) or "epoch" (the epoch's metrics dict, before it is logged: a callback may add figures to it). An
        # exception raised by a callback stops the run; the last epoch's checkpoint stays for resuming.
        self.callbacks: list = []
        if resume and (self.out / "last.pth").exists():
            self._load(self.out / "last.pth")
        elif resume and config.model.continue_from:
            self._continue_from(Path(config.model.continue_from))

    # ------------------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def iterations_per_epoch(self) -> int:
        n = len(self.loader)
        return min(n, self.config.optim.iterations_per_epoch) if self.config.optim.iterations_per_epoch else n

    def step_mode(self, epoch: int, iteration: int, ratio: float) -> tuple[float, bool]:
        """(keep ratio, fuse) of one training step: ``full_fraction`` of the steps at keep 1.0 and
        ``unfused_fraction`` without fusion, drawn from a generator seeded by (seed, epoch, iteration) so a
        resumed run makes the same choices."""
        cfg = self.config
        rng = np.random.default_rng([cfg.train.seed, epoch, iteration])
        a, b = rng.random(2)
        if a < cfg.keep_ratio.full_fraction:
            ratio = 1.0
        return ratio, not (self.multiview and b < cfg.train.unfused_fraction)

    @property
    def in_stem_stage(self) -> bool:
        """Staged pretraining (``[aids] stem_pretrain_crops``): only the CNN stem and its heat map head train."""
        return self.aids is not None and self.net.training and self.crops_seen < self.config.aids.stem_pretrain_crops

    def _forward_loss(self, batch: dict, keep_ratio: float, fuse: bool = True) -> torch.Tensor:
        image = batch["image"].to(self.device, non_blocking=True)
        target = batch["heatmap"].to(self.device, non_blocking=True)
        weight = batch["weight"].to(self.device, non_blocking=True)
        if self.in_stem_stage:
            with torch.autocast(self.device.type, enabled=self.use_amp):
                return self.aids.stem_only_loss(image, target, weight)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            if self.multiview:
                out = self.net(image, batch["rays"].to(self.device), fuse=fuse, keep_ratio=keep_ratio)
            else:
                out = self.net(image, keep_ratio=keep_ratio)
        heatmaps = out.heatmaps.float()
        aids = self.config.aids
        if aids.foreground and self.net.training:
            scale = aids.foreground * aids.scale_at(self.crops_seen)
            loss = foreground_weighted_mse(heatmaps, target, weight, scale, self.multiview)
        elif self.multiview:
            loss = joints_mse_multi_view(heatmaps, target, weight)
        else:
            loss = joints_mse_single_view(heatmaps, target, weight)
        if self.aids is not None:
            if self.net.training:
                joints = batch["joints"].to(self.device) if "joints" in batch else None
                extra = self.aids.loss(out, target, weight, joints, fuse, self.crops_seen)
                self.last_aid_losses = {k: v.item() for k, v in extra.items()}
                loss = loss + sum(extra.values())
            else:
                self.aids.clear()
        return loss

    def fit(self) -> dict:
        """Train from ``start_epoch`` to the configured number of epochs; returns the last metrics."""
        cfg = self.config
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, default=list))
        writer = self._tensorboard()
        started = time.monotonic()
        metrics: dict = {}
        iters = self.iterations_per_epoch()
        for epoch in range(self.start_epoch, cfg.optim.epochs):
            if cfg.train.max_crops and self.crops_seen >= cfg.train.max_crops:
                break  # a resumed run that already trained its budget
            if self.sampler is not None:
                self.sampler.set_epoch(epoch)
            if isinstance(self.sampler, StreamSampler):
                self.sampler.start = self.stream_position
            self.net.train()
            losses = []
            t0 = time.monotonic()
            bar = tqdm(total=iters, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", disable=not self.is_main,
                       leave=False)
            for i, batch in enumerate(self.loader):
                if i >= iters:
                    break
                ratio = keep_ratio_at(epoch, i, iters, cfg.keep_ratio.schedule, cfg.keep_ratio.final,
                                      cfg.keep_ratio.warmup_epochs, cfg.keep_ratio.anneal_epochs)
                if cfg.optim.milestone_unit == "minute":
                    self._set_time_lr(self.elapsed_minutes + (time.monotonic() - started) / 60)
                ratio, fuse = self.step_mode(epoch, i, ratio)
                loss = self._forward_loss(batch, ratio, fuse)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}, iteration {i}")
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                losses.append(loss.item())
                crops = batch["image"][..., 0, 0, 0].numel()  # images of one view in the batch
                if fuse and self.multiview and batch["image"].shape[1] > 1:
                    self.fused_crops += crops * self.world_size
                before, self.crops_seen = self.crops_seen, self.crops_seen + crops * self.world_size
                every = cfg.train.eval_every_crops
                if every and self.crops_seen // every > before // every:
                    self.log_progress(started)
                if cfg.train.max_crops and self.crops_seen >= cfg.train.max_crops:
                    break
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3e}", r=f"{ratio:.2f}")
                self._notify("step", {"epoch": epoch, "iteration": i + 1, "iterations": iters,
                                      "crops": self.crops_seen, "loss": losses[-1]})
                step = epoch * iters + i
                if writer and i % max(1, cfg.train.log_every) == 0:
                    writer.add_scalar("train/loss", loss.item(), step)
                    writer.add_scalar("train/keep_ratio", ratio, step)
                    writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], step)
            bar.close()
            if cfg.optim.milestone_unit == "epoch":
                self.scheduler.step()
            if isinstance(self.sampler, StreamSampler):
                self.stream_position += self.sampler.per_epoch * self.world_size
            seconds = time.monotonic() - t0
            samples = len(losses) * cfg.optim.batch_size * self.world_size
            metrics = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "lr": self.optimizer.param_groups[0]["lr"],
                       "keep_ratio": ratio, "samples_per_s": samples / max(seconds, 1e-9), "seconds": seconds}
            if self.val_set is not None:
                metrics["val_loss"] = self.validate()
            self._notify("epoch", metrics)
            if self.is_main:
                self._log_csv(metrics)
                if writer:
                    for key in ("val_loss", "samples_per_s"):
                        if key in metrics:
                            writer.add_scalar(f"epoch/{key}", metrics[key], epoch + 1)
                log.info("epoch %d: %s", epoch + 1, {k: round(v, 6) if isinstance(v, float) else v
                                                     for k, v in metrics.items()})
            out_of_time = bool(cfg.train.max_minutes and (time.monotonic() - started) / 60 >= cfg.train.max_minutes)
            out_of_crops = bool(cfg.train.max_crops and self.crops_seen >= cfg.train.max_crops)
            if self.is_main and ((epoch + 1) % max(1, cfg.train.checkpoint_every) == 0
                                 or epoch + 1 == cfg.optim.epochs or out_of_time or out_of_crops):
                self._save(epoch + 1, metrics, self.elapsed_minutes + (time.monotonic() - started) / 60)
            if out_of_time or out_of_crops:
                log.info("stopping after %.1f minutes and %d crops (max_minutes / max_crops); resume continues "
                         "from epoch %d", (time.monotonic() - started) / 60, self.crops_seen, epoch + 2)
                break
        if writer:
            writer.close()
        if self.world_size > 1:
            dist.barrier()
        return metrics

    def _notify(self, kind: str, info: dict) -> None:
        for callback in self.callbacks:
            callback(kind, info)

    def _follow_config_milestones(self) -> None:
        """A resumed run keeps the config's ``[optim]`` lr, milestones and gamma (epoch unit), not the checkpoint's:
        editing them and resuming moves the learning-rate steps (e.g. an earlier x0.1 to finish a run)."""
        from collections import Counter

        cfg = self.config.optim
        if cfg.milestone_unit != "epoch":
            return
        self.scheduler.milestones = Counter(cfg.milestones)
        self.scheduler.gamma = cfg.gamma
        passed = sum(self.scheduler.last_epoch >= m for m in cfg.milestones)
        for group in self.optimizer.param_groups:
            group["initial_lr"] = cfg.lr
            group["lr"] = cfg.lr * cfg.gamma ** passed
        self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _set_time_lr(self, minutes: float) -> None:
        """``milestone_unit = "minute"``: lr x gamma for every milestone (minutes of training) already passed."""
        cfg = self.config.optim
        lr = cfg.lr * cfg.gamma ** sum(minutes >= m for m in cfg.milestones)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    @torch.inference_mode()
    def validate(self) -> float:
        """Mean loss over the validation set at the schedule's final keep ratio (batches kept in memory after
        the first pass, so on-the-fly datasets are generated once)."""
        self.net.eval()
        total, count = 0.0, 0
        for batch in self.held_out_batches():
            total += self._forward_loss(batch, self.config.keep_ratio.final).item() * len(batch["image"])
            count += len(batch["image"])
        return total / max(count, 1)

    def held_out_batches(self):
        """Batches of the validation set (kept in memory when it has at most 512 items, so on-the-fly datasets
        are generated once)."""
        if self._val_batches is None:
            loader = DataLoader(self.val_set, batch_size=self.config.optim.batch_size, shuffle=False)
            self._val_batches = list(loader) if len(self.val_set) <= 512 else loader
        return self._val_batches

    def progress_batches(self):
        """Held-out batches for :func:`core.train.progress.pose_progress`: the validation set when its items
        carry ``to_image`` / ``joints_image`` (corpus items); ``None`` otherwise."""
        if self.val_set is None:
            return None
        batches = self.held_out_batches()
        return batches if "joints_image" in next(iter(batches)) else None

    def log_progress(self, started: float) -> dict | None:
        """Append one row to ``progress.csv``: crops, minutes, median px error and JDR beside the mean-pose
        baseline (the learning curve of ``docs/BENCHMARKS.md``)."""
        batches = self.progress_batches()
        if batches is None or not self.is_main:
            return None
        row = {"crops": self.crops_seen,
               "minutes": round(self.elapsed_minutes + (time.monotonic() - started) / 60, 2)}
        row.update(pose_progress(self.model, batches, keep_ratio=self.config.keep_ratio.final))
        row["escaped"] = escaped(row)
        row.update({f"aid_{k}": v for k, v in getattr(self, "last_aid_losses", {}).items()})
        path = self.out / "progress.csv"
        self.out.mkdir(parents=True, exist_ok=True)
        fields = list(row)
        if path.exists():  # keep the columns of the first row (aid losses may appear later)
            with open(path, newline="") as f:
                fields = next(csv.reader(f))
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
        log.info("progress at %d crops: median %.1f px (mean pose %.1f px), JDR %.1f %%, spread %.1f px",
                 row["crops"], row["median_px"], row["baseline_px"], 100 * row["jdr"], row["spread_px"])
        return row

    # ------------------------------------------------------------------------------------------------
    def _tensorboard(self):
        if not self.is_main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("tensorboard is not installed: metrics go to metrics.csv only")
            return None
        return SummaryWriter(str(self.out / "tensorboard"))

    def _log_csv(self, metrics: dict) -> None:
        path = self.out / "metrics.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(metrics))
            if new:
                writer.writeheader()
            writer.writerow(metrics)

    def _save(self, epoch: int, metrics: dict, elapsed_minutes: float = 0.0) -> None:
        state = {
            "elapsed_minutes": elapsed_minutes,
            "stream_position": self.stream_position,
            "crops_seen": self.crops_seen,
            "fused_crops": self.fused_crops,
            "lineage": self.lineage + [{"run": str(self.out), "crops": self.crops_seen, "fused_crops": self.fused_crops,
                                        "minutes": round(elapsed_minutes, 2), "data": dict(self.config.data.train),
                                        "aids": {k: v for k, v in asdict(self.config.aids).items() if v}}],
            "state_dict": self.model.state_dict(),
            "preset": self.config.model.preset,
            "model_config": asdict(self.model_config),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": epoch,
            "metrics": metrics,
            "torch_rng": torch.get_rng_state(),
        }
        if self.aids is not None:
            state["aids"] = self.aids.state_dict()
        tmp = self.out / "last.pth.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / "last.pth")  # atomic: a kill never leaves a half-written checkpoint
        if metrics.get("val_loss", math.inf) < self.best_val:
            self.best_val = metrics["val_loss"]
            torch.save({"state_dict": self.model.state_dict(), "model_config": asdict(self.model_config),
                        "epoch": epoch, "metrics": metrics}, self.out / "best.pth")

    def _continue_from(self, path: Path) -> None:
        """Continue this run from its exported weights (committed at the end of a working session) when the run
        folder is gone: model weights, epoch, crops and minutes come back, so the keep-ratio and learning-rate
        schedules and ``max_crops`` continue where they were; the optimizer state starts afresh."""
        if not path.exists():
            raise FileNotFoundError(f"[model] continue_from: weights file not found: {path}")
        load_checkpoint(self.model, path)
        meta = torch.load(path, map_location="cpu", weights_only=True).get("meta", {})
        lineage = list(meta.get("lineage", []))
        if not lineage:
            raise ValueError(f"{path}: no training lineage in its meta; use [model] init to start a new run from it")
        last = lineage.pop()
        self.lineage = lineage
        self.start_epoch = int(meta.get("epoch", 0))
        self.crops_seen = int(last.get("crops", 0))
        self.fused_crops = int(last.get("fused_crops", 0))
        self.elapsed_minutes = float(last.get("minutes", 0.0))
        self.scheduler.last_epoch = self.start_epoch  # the learning rate continues where the run was, too
        self._follow_config_milestones()
        log.info("continuing from %s at epoch %d, %d crops, lr %.1e (optimizer state starts afresh)", path,
                 self.start_epoch, self.crops_seen, self.optimizer.param_groups[0]["lr"])

    def _load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("preset") != self.config.model.preset:
            raise ValueError(f"{path} was trained as {state.get('preset')!r}, the config asks for "
                             f"{self.config.model.preset!r}; use another train.out folder")
        self.model.load_state_dict(state["state_dict"])
        if self.aids is not None and "aids" in state:
            self.aids.load_state_dict(state["aids"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._follow_config_milestones()
        self.scaler.load_state_dict(state["scaler"])
        self.start_epoch = int(state["epoch"])
        last = state.get("metrics", {})  # checkpoints written before these fields: estimate from the last epoch
        self.elapsed_minutes = float(state.get("elapsed_minutes", self.start_epoch * last.get("seconds", 0.0) / 60))
        self.stream_position = int(state.get("stream_position", self.start_epoch * round(
            last.get("samples_per_s", 0.0) * last.get("seconds", 0.0))))
        self.crops_seen = int(state.get("crops_seen", 0))
        self.fused_crops = int(state.get("fused_crops", 0))
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed from %s at epoch %d", path, self.start_epoch)
