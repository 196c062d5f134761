"""Typed model outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class PruneStage:
    """What one Human Token Identification step kept.

    ``keep_index``: ``(B, K)`` (single view) or ``(B, V, K)`` (multi-view) indices into the original row-major
    visual-token grid (``token = row * grid_cols + col``), in descending score order. ``scores``: same shape, the
    HTI score of each kept token. ``layer``: 0-based encoder layer after whose attention the step ran.
    """

    layer: int
    keep_index: torch.Tensor
    scores: torch.Tensor


@dataclass
class PoseOutput:
    """Single-view result. ``heatmaps``: ``(B, J, Hh, Wh)``.

    ``stages``: one :class:`PruneStage` per pruning step (empty when nothing was pruned, e.g. TokenPose or
    ``keep_ratio=1``). ``grid_shape``: (rows, cols) of the token grid; ``token_stride``: (rows, cols) of model
    input pixels per token, so token ``t`` covers rows ``[r*sy, (r+1)*sy)`` and cols ``[c*sx, (c+1)*sx)`` of the
    model input with ``r, c = divmod(t, cols)``.
    """

    heatmaps: torch.Tensor
    stages: list[PruneStage] = field(default_factory=list)
    grid_shape: tuple[int, int] = (16, 16)
    token_stride: tuple[int, int] = (16, 12)


@dataclass
class MultiViewOutput:
    """Multi-view result. ``heatmaps``: ``(B, V, J, Hh, Wh)``; ``stages[s].keep_index``: ``(B, V, K_s)``.

    ``fused``: whether the last layers attended jointly over the kept tokens of all views.
    """

    heatmaps: torch.Tensor
    stages: list[PruneStage] = field(default_factory=list)
    grid_shape: tuple[int, int] = (16, 16)
    token_stride: tuple[int, int] = (16, 16)
    fused: bool = False
