"""Human Token Identification (HTI): PPT's attention-guided visual-token pruning (PPT_SPEC.md section 2)."""

from __future__ import annotations

import math

import torch
from torch import nn


def keep_count(num_tokens: int, keep_ratio: float) -> int:
    """Visual tokens kept at one pruning step: ``ceil(n * r)`` (256 -> 180 -> 126 -> 89 at r = 0.7)."""
    return math.ceil(num_tokens * keep_ratio)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens along dim 1: ``(B or 1, n, C)`` with ``index (B, K)`` -> ``(B, K, C)``."""
    b, k = index.shape
    tokens = tokens.expand(b, -1, -1)
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(b, k, tokens.shape[-1]))


class HumanTokenIdentification(nn.Module):
    """Rank visual tokens by the attention the keypoint tokens pay to them and keep the top ``ceil(r n)``.

    Parameter-free. ``forward(tokens (B, J + n, D), kp_attn (B, heads, J, n), keep_ratio)`` returns
    ``(tokens_kept (B, J + K, D), keep_index (B, K), scores (B, K))``: keypoint tokens first and untouched, then the
    kept visual tokens in descending score order; ``keep_index`` indexes the ``n`` input visual tokens and
    ``scores`` are their HTI scores (head-mean attention summed over the J keypoint queries). Pruned tokens are
    dropped outright.
    """

    def forward(
        self, tokens: torch.Tensor, kp_attn: torch.Tensor, keep_ratio: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, heads, num_kp, n = kp_attn.shape
        if tokens.shape[1] != num_kp + n:
            raise ValueError(f"tokens carry {tokens.shape[1]} tokens, attention rows cover {num_kp} + {n}")
        scores = (kp_attn.sum(1) / heads).sum(1)  # (B, n)
        top_scores, keep_index = scores.topk(keep_count(n, keep_ratio), dim=1)
        kept = gather_tokens(tokens[:, num_kp:], keep_index)
        return torch.cat([tokens[:, :num_kp], kept], dim=1), keep_index, top_scores
