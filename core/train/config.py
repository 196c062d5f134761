"""Experiment configuration: one TOML file per experiment, checked strictly (unknown keys are named).

    [model]
    preset = "multiview_ppt_s"      # a core.model preset
    overrides = { image_size = [128, 128] }   # optional ModelConfig field changes
    init = ""                       # optional checkpoint to start from (official or ours)
    continue_from = ""              # our weights file of this same run, used when train.out has no last.pth

    [data]
    train = { kind = "studio-multi", length = 20000, seed = 0 }
    val = { kind = "studio-multi", length = 200, seed = 1000 }
    order = "shuffle"               # or "stream": indices in order, continuing across epochs (see trainer)

    [optim]
    lr = 1e-3
    epochs = 20
    milestones = [10, 15]           # MultiStepLR, x gamma
    milestone_unit = "epoch"        # or "minute": decay after that many minutes of training (summed over resumes)
    gamma = 0.1
    batch_size = 8

    [keep_ratio]                    # PPT_SPEC section 2
    schedule = "fixed"              # "fixed" (multi-view) or "cosine" (single-view: 1.0, then cosine to final)
    final = 0.7
    warmup_epochs = 10
    anneal_epochs = 100
    full_fraction = 0.0             # share of steps at keep 1.0, so the same weights also run as TokenPose

    [train]
    out = "runs/demo"
    seed = 0
    device = "auto"
    amp = true                      # CUDA only
    workers = 1
    threads = 2
    log_every = 20
    checkpoint_every = 1            # epochs
    max_minutes = 0                 # stop (with a checkpoint) after this wall time; 0 = no limit
    unfused_fraction = 0.0          # multi-view: share of steps without fusion (the single-view baseline)
    eval_every_crops = 0            # > 0: progress.csv (median px error vs the mean-pose baseline) this often
    max_crops = 0                   # stop (with a checkpoint) after this many training crops; 0 = no limit

    [aids]                          # training-only aids against the mean pose (core/train/aids.py); 0 = off
    attention = 0.0                 # keypoint-token attention vs the pooled ground-truth heat map
    token_heatmap = 0.0             # dense joint classifier on the visual tokens
    simcc = 0.0                     # auxiliary SimCC head on the keypoint tokens
    foreground = 0.0                # heat map MSE weight 1 + foreground near the joints
    stem = 0.0                      # conv heat map head on the CNN stem
    stem_pretrain_crops = 0         # staged: train only the stem and its head for this many crops first
    fade_crops = 0                  # aids fade to 0 over this many crops (0: constant)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class ModelSection:
    preset: str = "ppt_s"
    overrides: dict = field(default_factory=dict)
    init: str = ""
    continue_from: str = ""  # exported weights of this run: continue it when train.out/last.pth is gone


@dataclass(frozen=True)
class DataSection:
    train: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    order: str = "shuffle"  # "shuffle", or "stream": in index order, continuing across epochs (on-the-fly data)


@dataclass(frozen=True)
class OptimSection:
    lr: float = 1e-3
    epochs: int = 20
    milestones: tuple[int, ...] = (10, 15)
    gamma: float = 0.1
    batch_size: int = 8
    iterations_per_epoch: int = 0  # 0: one pass over the training set
    milestone_unit: str = "epoch"  # "epoch" (MultiStepLR) or "minute": decay after that much training time


@dataclass(frozen=True)
class KeepRatioSection:
    schedule: str = "fixed"
    final: float = 0.7
    warmup_epochs: int = 10
    anneal_epochs: int = 100
    full_fraction: float = 0.0  # fraction of training steps run at keep 1.0 (TokenPose mode of the same weights)


@dataclass(frozen=True)
class TrainSection:
    out: str = "runs/experiment"
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    workers: int = 0
    threads: int = 0
    log_every: int = 20
    checkpoint_every: int = 1
    max_minutes: float = 0.0
    unfused_fraction: float = 0.0  # multi-view: fraction of steps run without fusion (single-view mode)
    eval_every_crops: int = 0  # > 0: write progress.csv (core.train.progress) every this many training crops
    max_crops: int = 0  # stop after this many training crops (summed over resumes); 0 = no limit


@dataclass(frozen=True)
class AidWeights:
    """``[aids]``: loss weights of the training aids of :mod:`core.train.aids` (0 = off) and their options."""

    attention: float = 0.0
    token_heatmap: float = 0.0
    simcc: float = 0.0
    simcc_split: float = 2.0
    simcc_sigma: float = 2.0  # label sigma in SimCC bins
    foreground: float = 0.0
    stem: float = 0.0
    stem_pretrain_crops: int = 0
    fade_crops: int = 0  # > 0: every aid's weight falls linearly to 0 over this many crops after the stem stage

    @property
    def any(self) -> bool:
        return any((self.attention, self.token_heatmap, self.simcc, self.foreground, self.stem))

    def scale_at(self, crops: int) -> float:
        """Multiplier of the aid weights after ``crops`` training crops (1 without fading)."""
        if self.fade_crops <= 0:
            return 1.0
        t = max(0, crops - self.stem_pretrain_crops)
        return max(0.0, 1.0 - t / self.fade_crops)


@dataclass(frozen=True)
class ExperimentConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    keep_ratio: KeepRatioSection = field(default_factory=KeepRatioSection)
    train: TrainSection = field(default_factory=TrainSection)
    aids: AidWeights = field(default_factory=AidWeights)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "ExperimentConfig":
        sections = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(raw) - set(sections))
        if unknown:
            raise ValueError(f"{source}: unknown section(s) {unknown}; expected {sorted(sections)}")
        built = {}
        for name, section_cls in ((f.name, f.default_factory) for f in fields(cls)):
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ValueError(f"{source}: [{name}] must be a table, got {type(values).__name__}")
            allowed = {f.name: f for f in fields(section_cls)}
            bad = sorted(set(values) - set(allowed))
            if bad:
                raise ValueError(f"{source}: unknown key(s) {bad} in [{name}]; expected some of {sorted(allowed)}")
            coerced = {}
            for key, value in values.items():
                default = getattr(section_cls(), key)
                if isinstance(default, tuple):
                    value = tuple(value)
                elif isinstance(default, bool):
                    if not isinstance(value, bool):
                        raise ValueError(f"{source}: [{name}] {key} must be true or false, got {value!r}")
                elif isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                    raise ValueError(f"{source}: [{name}] {key} must be a number, got {value!r}")
                coerced[key] = type(default)(value) if isinstance(default, (int, float)) and not isinstance(
                    default, bool) else value
            built[name] = section_cls(**coerced)
        config = cls(**built)
        config.validate(source)
        return config

    @classmethod
    def load(cls, path) -> "ExperimentConfig":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"experiment config not found: {path}")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_dict(raw, str(path))

    def validate(self, source: str = "config") -> None:
        if self.keep_ratio.schedule not in ("fixed", "cosine"):
            raise ValueError(f"{source}: [keep_ratio] schedule must be 'fixed' or 'cosine', "
                             f"got {self.keep_ratio.schedule!r}")
        if not 0 < self.keep_ratio.final <= 1:
            raise ValueError(f"{source}: [keep_ratio] final must be in (0, 1], got {self.keep_ratio.final}")
        if self.optim.epochs < 1 or self.optim.batch_size < 1 or self.optim.lr <= 0:
            raise ValueError(f"{source}: [optim] needs epochs >= 1, batch_size >= 1, lr > 0")
        if self.optim.milestone_unit not in ("epoch", "minute"):
            raise ValueError(f"{source}: [optim] milestone_unit must be 'epoch' or 'minute', "
                             f"got {self.optim.milestone_unit!r}")
        if self.data.order not in ("shuffle", "stream"):
            raise ValueError(f"{source}: [data] order must be 'shuffle' or 'stream', got {self.data.order!r}")
        for name, value in (("keep_ratio.full_fraction", self.keep_ratio.full_fraction),
                            ("train.unfused_fraction", self.train.unfused_fraction)):
            if not 0 <= value <= 1:
                raise ValueError(f"{source}: {name} must be in [0, 1], got {value}")
        if not self.data.train:
            raise ValueError(f"{source}: [data] train = {{ kind = ... }} is required")
