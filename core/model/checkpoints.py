"""Strict import of official PPT / TokenPose checkpoints (PPT_SPEC.md section 7).

Accepted layouts: a bare state dict, ``{'state_dict': ...}`` or ``{'model': ...}``; keys optionally prefixed with
``module.`` (DataParallel); attention sub-blocks named as in the PPT code (``layers.{i}.0.norm``,
``layers.{i}.0.fn.to_qkv``) or as in the original TokenPose repository (one more ``fn.``: ``layers.{i}.0.fn.norm``,
``layers.{i}.0.fn.fn.to_qkv``). Files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

_TP_ATTN = re.compile(r"(layers\.\d+\.0\.)fn\.(norm\.|fn\.)")  # tokenpose naming -> ppt naming
_PPT_ATTN = re.compile(r"(layers\.\d+\.0\.)(norm\.|fn\.to_)")  # ppt naming -> tokenpose naming


class CheckpointMismatchError(ValueError):
    """The checkpoint's keys or shapes do not match the model; lists what differs."""

    def __init__(self, message: str, missing: list[str], unexpected: list[str], mismatched: list[str],
                 looks_like: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected
        self.mismatched = mismatched
        self.looks_like = looks_like


@dataclass
class LoadReport:
    """What :func:`load_checkpoint` did: tensors loaded, key conversions applied, and (non-strict) what was skipped."""

    loaded: int
    source_naming: str
    stripped_prefix: bool
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


def attention_naming(state_dict: Mapping[str, torch.Tensor]) -> str:
    """``"tokenpose"`` if attention blocks carry the extra ``fn.`` level, else ``"ppt"``."""
    return "tokenpose" if any(re.search(r"layers\.\d+\.0\.fn\.(norm|fn)\.", k) for k in state_dict) else "ppt"


def convert_attention_naming(state_dict: Mapping[str, torch.Tensor], to: str) -> dict[str, torch.Tensor]:
    """Rename attention sub-block keys between the PPT (``"ppt"``) and original TokenPose (``"tokenpose"``) layouts."""
    if to not in ("ppt", "tokenpose"):
        raise ValueError(f"attention naming must be 'ppt' or 'tokenpose', got {to!r}")
    if attention_naming(state_dict) == to:
        return dict(state_dict)
    if to == "ppt":
        return {_TP_ATTN.sub(r"\1\2", k): v for k, v in state_dict.items()}
    return {_PPT_ATTN.sub(r"\1fn.\2", k): v for k, v in state_dict.items()}


def read_state_dict(source: str | Path | Mapping) -> tuple[dict[str, torch.Tensor], bool]:
    """Load a checkpoint file (or take a mapping) -> ``(state_dict, stripped_module_prefix)``.

    Unwraps ``{'state_dict': ...}`` / ``{'model': ...}`` and strips a ``module.`` prefix.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling errors of many kinds; name the file
            raise ValueError(f"cannot read checkpoint {path} with torch.load(weights_only=True): {exc}") from exc
    else:
        obj = source
    if not isinstance(obj, Mapping):
        raise ValueError(f"checkpoint must hold a state dict (a mapping), got {type(obj).__name__}")
    for wrapper in ("state_dict", "model"):
        if wrapper in obj and isinstance(obj[wrapper], Mapping):
            obj = obj[wrapper]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"checkpoint holds no tensors (top-level keys: {list(obj)[:10]})")
    stripped = all(k.startswith("module.") for k in tensors)
    if stripped:
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, stripped


@functools.lru_cache(maxsize=None)
def preset_signature(name: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a preset's state dict (built on the meta device, no memory or init cost)."""
    from core.model.models import build_model

    with torch.device("meta"):
        model = build_model(name, init=False)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def matching_presets(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Presets whose key names and shapes equal the state dict's (either attention naming)."""
    from core.model.config import get_config, preset_names

    found = []
    for name in preset_names():
        sd = convert_attention_naming(state_dict, get_config(name).attention_naming)
        sig = preset_signature(name)
        if set(sd) == set(sig) and all(tuple(sd[k].shape) == sig[k] for k in sig):
            found.append(name)
    return found


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
    return f"{len(items)} {title}: {shown}"


def load_checkpoint(model: nn.Module, source: str | Path | Mapping, strict: bool = True) -> LoadReport:
    """Load an official (or our own) checkpoint into ``model``.

    Strict (default): every key and shape must match after unwrapping and renaming, otherwise a
    :class:`CheckpointMismatchError` (a ``ValueError``) lists missing / unexpected keys and shape mismatches and
    names the preset the file looks like. Non-strict: loads the tensors that match and reports the rest.
    Floating-point tensors are cast to the model's dtype (e.g. float16 files).
    """
    sd, stripped = read_state_dict(source)
    source_naming = attention_naming(sd)
    cfg = getattr(model, "config", None)
    sd = convert_attention_naming(sd, cfg.attention_naming if cfg is not None else "ppt")
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    mismatched = [
        f"{k} (checkpoint {tuple(sd[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if strict and (missing or unexpected or mismatched):
        looks_like = matching_presets(sd)
        name = cfg.name if cfg is not None else type(model).__name__
        parts = [f"checkpoint does not match model {name!r}"]
        if looks_like:
            parts.append(f"the file looks like preset {' / '.join(looks_like)}")
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape mismatches", mismatched)):
            if items:
                parts.append(_listing(title, items))
        raise CheckpointMismatchError("; ".join(parts), missing, unexpected, mismatched, looks_like)
    if strict:
        model.load_state_dict(sd, strict=True)
        loaded = len(sd)
    else:
        bad = {m.split(" ")[0] for m in mismatched}
        usable = {k: v for k, v in sd.items() if k in own and k not in bad}
        model.load_state_dict(usable, strict=False)
        loaded = len(usable)
    return LoadReport(loaded, source_naming, stripped, missing, unexpected, mismatched)
