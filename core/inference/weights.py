"""Weights files, read once: our own self-describing files and official PPT / TokenPose checkpoints.

    from core.inference.weights import read_weights, load_weights, load_demo_estimator
    w = read_weights("some.pth")                      # Weights: config (ours) or None (official), state_dict, meta
    model = load_weights("runs/demo_multiview/best.pth")   # any file our trainer or exporter wrote, ready
    est = load_demo_estimator()                       # PoseModelRunner on assets/weights/multiview_ppt_demo.pth

Our weights file holds ``state_dict`` (float16 or float32 tensors) and ``model_config`` (the fields of
:class:`core.model.ModelConfig`), so it rebuilds its own architecture, plus ``meta`` (what it was trained on); see
``assets/weights/MODEL_CARD.md``. Any other readable state dict is taken for an official checkpoint, whose
architecture the caller names (a preset). :func:`read_weights` is the one place a weights file is read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from core.inference.runner import PoseModelRunner
from core.model import ModelConfig, build_model, get_config, load_checkpoint
from core.model.checkpoints import load_torch_file

log = logging.getLogger(__name__)

#: The demo weights shipped in the repository (multi-view PPT trained on the virtual studio).
DEMO_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "weights" / "multiview_ppt_demo.pth"
#: The demo architecture and its training recipe (the [model] table is what the app builds without weights).
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo_multiview.toml"
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


def file_sha256(path, length: int = 16) -> str:
    """Hex SHA-256 of a file (first ``length`` characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


@dataclass(frozen=True, eq=False)
class Weights:
    """One weights file, read once.

    Attributes:
        path: the file; sha256: its hash (16 hex characters, for manifests).
        config: the architecture our self-describing files carry; ``None`` for an official checkpoint (the caller
            names its preset).
        state_dict: the tensors (an official file's object as saved: :func:`core.model.load_checkpoint` unwraps
            ``state_dict``/``model`` and ``module.`` prefixes).
        meta: what our files say about their training (``fusion_trained``, data, crops...); empty for official.
        raw: the whole file as saved (ours: ``state_dict``, ``model_config``, ``meta`` and what the trainer added).
    """

    path: Path
    sha256: str
    config: ModelConfig | None
    state_dict: object
    meta: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        return self.config is not None

    @property
    def fusion_trained(self) -> bool:
        """False when the file says its fusion layers never saw several views (run each view alone)."""
        return bool(self.meta.get("fusion_trained", True))

    @property
    def runs_fused(self) -> bool:
        """Whether the views run fused by default (:func:`runs_fused`)."""
        return runs_fused(self.meta)


def runs_fused(meta: dict) -> bool:
    """Whether weights with this metadata run their views fused by default: the file's own ``fuse`` (fine-tuning
    runs write it, false unless asked: ``docs/FINETUNE.md``) or, without one, whether its fusion layers were
    trained (``fusion_trained``)."""
    return bool(meta.get("fuse", meta.get("fusion_trained", True)))


def read_weights(path) -> Weights:
    """Read a weights file once: ours (``state_dict`` + ``model_config``) or an official checkpoint. A missing
    file raises ``FileNotFoundError``; a file torch cannot read says what it is and what was expected."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    data = load_torch_file(path)  # a file torch cannot read: says what it is and what was expected
    sha = file_sha256(path)
    if isinstance(data, dict) and "state_dict" in data and "model_config" in data:
        config = config_from_dict(dict(data["model_config"]), str(path))
        return Weights(path, sha, config, data["state_dict"], dict(data.get("meta") or {}), data)
    return Weights(path, sha, None, data)


def read_weights_file(path) -> tuple[ModelConfig, dict]:
    """(model config, raw file dict) of one of our weights files; :class:`NotAWeightsFileError` for anything else
    (e.g. an official checkpoint), ``FileNotFoundError`` for a missing file."""
    w = read_weights(path)
    if not w.ours:
        data = w.state_dict
        keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise NotAWeightsFileError(f"{path}: expected a ppt-mocap weights file with 'state_dict' and 'model_config' "
                                   f"(got {keys}); for official checkpoints build the preset and use "
                                   "core.model.load_checkpoint")
    return w.config, w.raw


def demo_model_config() -> ModelConfig:
    """The demo architecture (``configs/demo_multiview.toml`` [model]), else the plain ``multiview_ppt_s`` preset."""

    try:
        model = tomllib.loads(DEMO_CONFIG.read_text())["model"]
        cfg = get_config(model.get("preset", "multiview_ppt_s"))
        over = {k: tuple(v) if isinstance(v, list) else v for k, v in model.get("overrides", {}).items()}
        return dataclasses.replace(cfg, **over)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("demo model config unavailable (%s); using multiview_ppt_s", exc)
        return get_config("multiview_ppt_s")


def load_weights(path, expect: ModelConfig | str | None = None):
    """Build the model a weights file describes and load it (eval mode, float32).

    ``expect``: a preset name or config the file must match (architecture fields, not the name); a mismatch
    raises ``ValueError`` naming both.
    """
    config, data = read_weights_file(path)
    if expect is not None:

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
    """A ready :class:`core.inference.PoseModelRunner` on the demo weights (or ``path``).

    Weights whose metadata says their fusion layers were never trained (``meta.fusion_trained`` false: the
    single-view stage of the demo recipe) or that they run unfused (``meta.fuse`` false: a fine-tuning run's
    default) run each view alone unless ``fuse`` is given. Raises
    ``FileNotFoundError`` naming the expected file when the weights are missing.
    """

    path = Path(path) if path is not None else DEMO_WEIGHTS
    if not path.exists() and path.resolve() == DEMO_WEIGHTS:
        raise FileNotFoundError(
            f"demo weights not found: {path}. They ship with the repository (assets/weights/, Git LFS is not "
            "used); restore the file with `git checkout -- assets/weights`, train them with "
            "`ppt-mocap train --config configs/demo_single_view.toml` and export, or pass your own weights file")
    config, data = read_weights_file(path)
    model = build_model(config, init=False)
    load_checkpoint(model, data["state_dict"])
    if "fuse" not in estimator_options and not runs_fused(data.get("meta") or {}):
        estimator_options["fuse"] = False
    return PoseModelRunner(model.eval(), **estimator_options)
