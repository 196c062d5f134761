"""Preset models built once per test session (building the B/L models costs ~0.3 s each)."""

from __future__ import annotations

import torch

from core.model import build_model

_CACHE: dict[str, torch.nn.Module] = {}


def preset_model(name: str) -> torch.nn.Module:
    """A seeded, eval-mode model of a preset shared between tests (do not modify it in place)."""
    if name not in _CACHE:
        torch.manual_seed(0)
        _CACHE[name] = build_model(name).eval()
    return _CACHE[name]
