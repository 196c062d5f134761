"""Tokenisation, positional encodings and the heatmap head (PPT_SPEC.md sections 1.1, 1.2, 1.4, 5.2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def patchify(features: torch.Tensor, patch_size: tuple[int, int]) -> torch.Tensor:
    """Cut a feature map into non-overlapping patches: ``(B, C, H, W) -> (B, (H/ph)(W/pw), ph*pw*C)``.

    Tokens are row-major over the patch grid; inside a patch the vector index is
    ``(p_row * pw + p_col) * C + c`` (row slowest, channel fastest), the layout ``patch_to_embedding`` expects.
    """
    b, c, h, w = features.shape
    ph, pw = patch_size
    x = features.view(b, c, h // ph, ph, w // pw, pw).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // ph) * (w // pw), ph * pw * c)


def sine_position_table(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """The fixed 2D "sine-full" table, ``(1, rows*cols, dim)``.

    Cell (i, j): ``ey = (i+1)/(rows+1e-6)*2pi``, ``ex = (j+1)/(cols+1e-6)*2pi``; with ``half = dim/2`` and
    ``f_k = T^(2*floor(k/2)/half)`` channel ``k < half`` is ``sin(ey/f_k)`` for even k and ``cos(ey/f_k)`` for
    odd k; channels ``half + k`` repeat this with ``ex``.
    """
    rows, cols = grid
    half = dim // 2
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, rows + 1, dtype=torch.float32) / (rows + eps) * scale
    x = torch.arange(1, cols + 1, dtype=torch.float32) / (cols + eps) * scale
    freq = temperature ** (2 * torch.div(torch.arange(half), 2, rounding_mode="floor") / half)

    def encode(e: torch.Tensor) -> torch.Tensor:  # (L,) -> (L, half)
        v = e[:, None] / freq
        return torch.stack((v[:, 0::2].sin(), v[:, 1::2].cos()), dim=2).flatten(1)

    pe_y = encode(y)[:, None, :].expand(rows, cols, half)
    pe_x = encode(x)[None, :, :].expand(rows, cols, half)
    return torch.cat((pe_y, pe_x), dim=2).reshape(1, rows * cols, dim)


def ray_directions_unit(rays: torch.Tensor) -> torch.Tensor:
    """Normalise ray directions along the last axis (``F.normalize``, as the official 3D encoding does)."""
    return F.normalize(rays, p=2, dim=-1)


def make_heatmap_head(in_dim: int, hidden: int, heatmap_size: tuple[int, int]) -> nn.Sequential:
    """``LN -> Linear(in, hidden) -> LN -> Linear(hidden, Hh*Wh)`` if ``in <= hidden/2``, else ``LN -> Linear``."""
    out = heatmap_size[0] * heatmap_size[1]
    if in_dim <= hidden * 0.5:
        return nn.Sequential(
            nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.Linear(hidden, out)
        )
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out))
