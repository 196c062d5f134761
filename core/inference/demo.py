"""Our own trained weights: self-describing files (``state_dict`` + ``model_config``) and the demo estimator.

    from core.inference.demo import load_demo_estimator, load_weights
    est = load_demo_estimator()                       # PoseEstimator2D on assets/weights/multiview_ppt_demo.pth
    model = load_weights("runs/demo_multiview/best.pth")   # any checkpoint our trainer or exporter wrote

A weights file holds ``state_dict`` (float16 or float32 tensors) and ``model_config`` (the fields of
:class:`core.model.ModelConfig`), so it rebuilds its own architecture; see ``assets/weights/MODEL_CARD.md``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from core.model import ModelConfig, build_model, load_checkpoint
from core.model.checkpoints import load_torch_file

#: The demo weights shipped in the repository (multi-view PPT trained on the virtual studio).
DEMO_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "weights" / "multiview_ppt_demo.pth"
_TUPLE_FIELDS = ("image_size", "patch_size", "pruning_layers")


def config_from_dict(data: dict, where: str = "weights file") -> ModelConfig:
    """A :class:`ModelConfig` from its saved fields (lists back to tuples); unknown fields are named."""
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: model_config has unknown field(s) {unknown}; expected some of {sorted(known)}")
    values = {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in data.items()}
    return ModelConfig(**values)


class NotAWeightsFileError(ValueError):
    """A readable PyTorch file that is not a ppt-mocap weights file (e.g. an official checkpoint)."""


def read_weights_file(path) -> tuple[ModelConfig, dict]:
    """(model config, raw file dict) of a weights file; clear errors for a missing or foreign file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    data = load_torch_file(path)  # a file torch cannot read: says what it is and what was expected
    if not isinstance(data, dict) or "state_dict" not in data or "model_config" not in data:
        keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise NotAWeightsFileError(f"{path}: expected a ppt-mocap weights file with 'state_dict' and 'model_config' "
                         f"(got {keys}); for official checkpoints build the preset and use "
                         "core.model.load_checkpoint")
    return config_from_dict(dict(data["model_config"]), str(path)), data


def load_weights(path, expect: ModelConfig | str | None = None):
    """Build the model a weights file describes and load it (eval mode, float32).

    ``expect``: a preset name or config the file must match (architecture fields, not the name); a mismatch
    raises ``ValueError`` naming both.
    """
    config, data = read_weights_file(path)
    if expect is not None:
        from core.model import get_config

        want = get_config(expect) if isinstance(expect, str) else expect
        diff = {f.name: (getattr(config, f.name), getattr(want, f.name)) for f in dataclasses.fields(ModelConfig)
                if f.name != "name" and getattr(config, f.name) != getattr(want, f.name)}
        if diff:
            raise ValueError(f"{path} holds a different architecture than {want.name!r}: "
                             + ", ".join(f"{k} {a} (file) vs {b}" for k, (a, b) in sorted(diff.items())))
    model = build_model(config, init=False)
    load_checkpoint(model, data["state_dict"])
    return model.eval()


def load_demo_estimator(path=None, **estimator_options):
    """A ready :class:`core.inference.PoseEstimator2D` on the demo weights (or ``path``).

    Weights whose metadata says their fusion layers were never trained (``meta.fusion_trained`` false: the
    single-view stage of the demo recipe) run each view alone unless ``fuse`` is given. Raises
    ``FileNotFoundError`` naming the expected file when the weights are missing.
    """
    from core.inference.estimator import PoseEstimator2D

    path = Path(path) if path is not None else DEMO_WEIGHTS
    if not path.exists() and path.resolve() == DEMO_WEIGHTS:
        raise FileNotFoundError(
            f"demo weights not found: {path}. They ship with the repository (assets/weights/, Git LFS is not "
            "used); restore the file with `git checkout -- assets/weights`, train them with "
            "`ppt-mocap train --config configs/demo_single_view.toml` and export, or pass your own weights file")
    config, data = read_weights_file(path)
    model = build_model(config, init=False)
    load_checkpoint(model, data["state_dict"])
    if "fuse" not in estimator_options and not data.get("meta", {}).get("fusion_trained", True):
        estimator_options["fuse"] = False
    return PoseEstimator2D(model.eval(), **estimator_options)
