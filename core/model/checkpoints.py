"""Strict import of official PPT / TokenPose checkpoints (PPT_SPEC.md section 7).

Accepted layouts: a bare state dict, ``{'state_dict': ...}`` or ``{'model': ...}``; keys optionally prefixed with
``module.`` (DataParallel); attention sub-blocks named as in the PPT code (``layers.{i}.0.norm``,
``layers.{i}.0.fn.to_qkv``) or as in the original TokenPose repository (one more ``fn.``: ``layers.{i}.0.fn.norm``,
``layers.{i}.0.fn.fn.to_qkv``). Files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.model.config import get_config, preset_names
from core.model.models import build_model

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


#: What ``--weights`` may point at (named in errors about a file that is neither).
EXPECTED_WEIGHTS = ("a ppt-mocap weights file (written by `ppt-mocap train --export`, like "
                    "assets/weights/multiview_ppt_demo.pth) or an official PPT / TokenPose checkpoint (a state dict, "
                    "optionally under 'state_dict' or 'model', saved with torch.save)")


class NotAPyTorchFileError(ValueError):
    """A file ``torch.load(weights_only=True)`` cannot read; the message says what the file is instead."""


def describe_file(path: str | Path) -> str:
    """What a file is, from its size and first bytes, in a few words (for errors about files torch cannot read)."""
    import json
    import struct
    import zipfile

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return "an empty file (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return f"a damaged or truncated ZIP archive ({size} bytes)"
        if any(n.endswith("data.pkl") for n in names):
            return ("a PyTorch archive that stores Python objects besides tensors and plain containers (for example "
                    "a whole model saved with torch.save(model) rather than its state_dict); it is not read, because "
                    "reading it would mean unpickling it, which can run code from the file")
        return f"a ZIP archive without PyTorch's data.pkl (it holds {', '.join(names[:5]) or 'nothing'})"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return ("a Python pickle (or a legacy torch.save file) with objects beyond tensors and plain containers; it "
                "is not read, because unpickling it can run code from the file")
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (Keras / TensorFlow weights?)"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite model"
    if len(head) > 8 and head[8:10] == b'{"':
        n = struct.unpack("<Q", head[:8])[0]
        if 0 < n < size:
            return "a safetensors file (not a format read here)"
    if path.suffix.lower() == ".onnx":
        return "an ONNX model"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        if text.lstrip().startswith(("<!DOCTYPE", "<html", "<HTML")):
            return "an HTML page (a download that saved a web page instead of the file?)"
        try:
            json.loads(path.read_text()) if size < 10_000_000 else None
            return "a JSON text file"
        except (ValueError, UnicodeDecodeError):
            pass
        first = text.strip().splitlines()[0][:60] if text.strip() else ""
        return f"a text file ({size} bytes, starting {first!r})"
    return f"{size} bytes of unrecognised binary data (truncated or not a PyTorch file)"


def load_torch_file(path: str | Path, expected: str = EXPECTED_WEIGHTS):
    """``torch.load(path, weights_only=True)`` on the CPU; a file it cannot read raises :class:`NotAPyTorchFileError`
    saying what the file is and what was ``expected`` (never suggesting to unpickle an untrusted file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}" if path.suffix else f"file not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's notes on foreign pickle protocols
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # any unpickling failure; torch's own message suggests weights_only=False, never repeat it
        raise NotAPyTorchFileError(f"{path} cannot be read as weights: it is {describe_file(path)}. "
                                   f"Expected {expected}.") from None


def read_state_dict(source: str | Path | Mapping) -> tuple[dict[str, torch.Tensor], bool]:
    """Load a checkpoint file (or take a mapping) -> ``(state_dict, stripped_module_prefix)``.

    Unwraps ``{'state_dict': ...}`` / ``{'model': ...}`` and strips a ``module.`` prefix.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        obj = load_torch_file(path, "an official PPT / TokenPose checkpoint: a state dict (optionally under "
                              "'state_dict' or 'model') saved with torch.save")
    else:
        obj = source
    where = f"{source}: " if isinstance(source, (str, Path)) else ""
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}checkpoint must hold a state dict (a mapping), got {type(obj).__name__}; expected "
                         f"{EXPECTED_WEIGHTS}")
    for wrapper in ("state_dict", "model"):
        if wrapper in obj and isinstance(obj[wrapper], Mapping):
            obj = obj[wrapper]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{where}a PyTorch file without tensors (top-level keys: {list(obj)[:10]}), not weights; "
                         f"expected {EXPECTED_WEIGHTS}")
    stripped = all(k.startswith("module.") for k in tensors)
    if stripped:
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, stripped


@functools.lru_cache(maxsize=None)
def preset_signature(name: str) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a preset's state dict (built on the meta device, no memory or init cost)."""

    with torch.device("meta"):
        model = build_model(name, init=False)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def matching_presets(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Presets whose key names and shapes equal the state dict's (either attention naming)."""

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
