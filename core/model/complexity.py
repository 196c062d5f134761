"""Complexity counting the way the paper's tables were made (PPT_SPEC.md section 6).

* :func:`summary_gflops` - Table 1: the HRNet ``get_model_summary`` rule over forward hooks: Conv2d
  ``numel(weight) * H_out * W_out`` (batch ignored), Linear ``numel(output) * input.shape[1]`` (for token inputs
  that multiplies by the token count, a quirk kept on purpose); attention matmuls not counted; / 1024^3.
* :func:`count_macs` - Table 4: proper multiply-accumulates of convolutions, linear layers and the two attention
  matmuls (``2 * B * N^2 * D`` per attention call), e.g. / 2^30 for the "9.6G / 9.7G" figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.model.encoder import Attention


@dataclass(frozen=True)
class MacCount:
    """Multiply-accumulates by kind (absolute counts)."""

    conv: int
    linear: int
    attention: int

    @property
    def total(self) -> int:
        return self.conv + self.linear + self.attention


def _with_hooks(model: nn.Module, hooks: dict[type, Callable], run: Callable[[], Any]) -> None:
    handles = [m.register_forward_hook(hooks[t]) for m in model.modules() for t in hooks if isinstance(m, t)]
    try:
        with torch.inference_mode():
            run()
    finally:
        for h in handles:
            h.remove()


def summary_gflops(model: nn.Module, run: Callable[[], Any]) -> float:
    """Table-1 GFLOPs of ``run()`` (which calls ``model``) with the ``get_model_summary`` rule, / 1024^3."""
    total = [0]

    def conv(m: nn.Conv2d, inputs, out) -> None:
        total[0] += m.weight.numel() * out.shape[2] * out.shape[3]

    def linear(m: nn.Linear, inputs, out) -> None:
        total[0] += out.numel() * inputs[0].shape[1]

    _with_hooks(model, {nn.Conv2d: conv, nn.Linear: linear}, run)
    return total[0] / 1024**3


def count_macs(model: nn.Module, run: Callable[[], Any]) -> MacCount:
    """Conv, linear and attention-matmul MACs of ``run()`` (batch included)."""
    counts = {"conv": 0, "linear": 0, "attention": 0}

    def conv(m: nn.Conv2d, inputs, out) -> None:
        counts["conv"] += out.numel() * m.weight[0].numel()  # (Cin/groups) * kh * kw per output

    def linear(m: nn.Linear, inputs, out) -> None:
        counts["linear"] += out.numel() * m.in_features

    def attention(m: Attention, inputs, out) -> None:
        b, n, d = inputs[0].shape
        counts["attention"] += 2 * b * n * n * d  # q k^T and attn v

    _with_hooks(model, {nn.Conv2d: conv, nn.Linear: linear, Attention: attention}, run)
    return MacCount(**counts)
