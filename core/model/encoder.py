"""Pre-norm transformer encoder layers with the official module names.

State-dict layout of layer ``i`` (``attention_naming="ppt"``, the PPT code)::

    layers.{i}.0.norm.*            LayerNorm before attention
    layers.{i}.0.fn.to_qkv.weight  Linear(D, 3D, bias=False): q, k, v chunks, each split head-major
    layers.{i}.0.fn.to_out.0.*     Linear(D, D)
    layers.{i}.1.fn.norm.*         LayerNorm before the FFN
    layers.{i}.1.fn.fn.net.0.*     Linear(D, mlp)   (GELU, exact)
    layers.{i}.1.fn.fn.net.3.*     Linear(mlp, D)

``attention_naming="tokenpose"`` (original TokenPose repository) wraps sub-block 0 in one more ``fn.``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection.

    ``forward(x (B, N, D), keypoints=J)`` returns ``(out (B, N, D), kp_attn)`` where ``kp_attn`` is
    ``(B, heads, J, N - J)``: the softmax probabilities of the first ``J`` queries (keypoint tokens) over the
    visual keys, or ``None`` when ``keypoints == 0``. The softmax is row-wise over all ``N`` keys, so those rows
    are identical to the corresponding rows of the full attention map; this lets the output use
    ``scaled_dot_product_attention`` (``use_sdpa``) while Human Token Identification still sees exact
    probabilities.
    """

    def __init__(self, dim: int, heads: int, scale: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.scale = scale
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))
        self.use_sdpa = True

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, N, D)`` -> q, k, v each ``(B, heads, N, D/heads)`` (views of one fused projection)."""
        b, n, d = x.shape
        qkv = self.to_qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def keypoint_attention(self, q: torch.Tensor, k: torch.Tensor, keypoints: int) -> torch.Tensor:
        """Softmax rows of the first ``keypoints`` queries over all keys, visual columns: ``(B, H, J, N - J)``."""
        dots = torch.matmul(q[:, :, :keypoints], k.transpose(-2, -1)) * self.scale
        return dots.softmax(dim=-1)[..., keypoints:]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention output of queries ``q (B, H, Nq, d)`` over all keys, projected: ``(B, Nq, D)``."""
        b, _, nq, _ = q.shape
        if self.use_sdpa:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        else:
            out = torch.matmul((torch.matmul(q, k.transpose(-2, -1)) * self.scale).softmax(dim=-1), v)
        return self.to_out(out.transpose(1, 2).reshape(b, nq, -1))

    def forward(self, x: torch.Tensor, keypoints: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = self.qkv(x)
        if keypoints and not self.use_sdpa:  # one explicit map serves both the output and HTI
            b, n, d = x.shape
            attn = (torch.matmul(q, k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d)
            return self.to_out(out), attn[:, :, :keypoints, keypoints:]
        kp_attn = self.keypoint_attention(q, k, keypoints) if keypoints else None
        return self.attend(q, k, v), kp_attn


class PreNorm(nn.Module):
    """``fn(LayerNorm(x))``."""

    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs):
        return self.fn(self.norm(x), **kwargs)


class Residual(nn.Module):
    """``x + fn(x)``."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


class FeedForward(nn.Module):
    """``Linear(D, mlp) -> GELU -> Dropout -> Linear(mlp, D)`` (indices 0 and 3 hold the weights)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EncoderLayer(nn.Module):
    """One pre-norm layer; sub-modules are named ``0`` (attention) and ``1`` (FFN) like the official code.

    The two halves are exposed separately because token pruning happens between them.
    """

    def __init__(
        self, dim: int, heads: int, mlp_dim: int, scale: float, dropout: float = 0.0, naming: str = "ppt"
    ) -> None:
        super().__init__()
        attention = PreNorm(dim, Attention(dim, heads, scale, dropout))
        self.add_module("0", Residual(attention) if naming == "tokenpose" else attention)
        self.add_module("1", Residual(PreNorm(dim, FeedForward(dim, mlp_dim, dropout))))

    @property
    def attention(self) -> PreNorm:
        block = self._modules["0"]
        return block.fn if isinstance(block, Residual) else block

    def attend(self, x: torch.Tensor, keypoints: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x + Attn(LN(x))`` and the keypoint-query attention rows (see :class:`Attention`)."""
        out, kp_attn = self.attention(x, keypoints=keypoints)
        return out + x, kp_attn

    def attend_queries(self, x: torch.Tensor, num_queries: int) -> torch.Tensor:
        """``(x + Attn(LN(x)))[:, :num_queries]`` computing only those query rows (all tokens stay keys)."""
        pre = self.attention
        q, k, v = pre.fn.qkv(pre.norm(x))
        return x[:, :num_queries] + pre.fn.attend(q[:, :, :num_queries], k, v)

    def attend_and_prune(
        self, x: torch.Tensor, keypoints: int, hti: nn.Module, keep_ratio: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention followed by HTI pruning, computing attention outputs only for the tokens that survive.

        Equal to ``hti(*self.attend(x, keypoints), keep_ratio)``: the scores need only the keypoint query rows, and
        gathering rows commutes with the row-wise residual ``x + Attn(LN(x))``. Returns HTI's
        ``(tokens_kept, keep_index, scores)``.
        """
        pre = self.attention
        q, k, v = pre.fn.qkv(pre.norm(x))
        kp_attn = pre.fn.keypoint_attention(q, k, keypoints)
        kept, keep, scores = hti(x, kp_attn, keep_ratio)  # pre-attention tokens, gathered
        b, heads, _, hd = q.shape
        rows = torch.cat([torch.arange(keypoints, device=x.device).expand(b, -1), keep + keypoints], dim=1)
        q_rows = torch.gather(q, 2, rows[:, None, :, None].expand(b, heads, rows.shape[1], hd))
        return kept + pre.fn.attend(q_rows, k, v), keep, scores

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + FFN(LN(x))``."""
        return self._modules["1"](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(self.attend(x)[0])


class Encoder(nn.Module):
    """A stack of :class:`EncoderLayer` under ``layers`` (the official ``transformer.layers.{i}`` keys)."""

    def __init__(
        self, depth: int, dim: int, heads: int, mlp_dim: int, scale: float, dropout: float = 0.0, naming: str = "ppt"
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(dim, heads, mlp_dim, scale, dropout, naming) for _ in range(depth)
        )

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> EncoderLayer:
        return self.layers[index]
