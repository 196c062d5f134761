"""Heatmap losses of the official code (PPT_SPEC sections 4.4 and 5.3)."""

from __future__ import annotations

import torch


def joints_mse_single_view(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``pred``/``target`` (B, J, H, W), ``weight`` (B, J): per joint ``0.5 * mean((p w - t w)^2)`` over batch
    and pixels, averaged over joints."""
    w = weight[..., None, None].to(pred.dtype)
    return 0.5 * ((pred * w - target * w) ** 2).mean(dim=(0, 2, 3)).mean()


def joints_mse_multi_view(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``pred``/``target`` (B, V, J, H, W), ``weight`` (B, V, J): for each view, the sum over joints of
    ``mean((p w - t w)^2)`` (over batch and pixels), summed over views."""
    w = weight[..., None, None].to(pred.dtype)
    return ((pred * w - target * w) ** 2).mean(dim=(0, 3, 4)).sum()
