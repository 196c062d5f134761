"""The token part of TokenPose / PPT: keypoint tokens, patch embedding, positional encodings, encoder, head.

State-dict keys (relative to this module): ``keypoint_token``, ``pos_embedding`` (fixed sine table, a
non-trainable parameter as in the official code), ``pos_3d_linear`` (multi-view only), ``patch_to_embedding``,
``transformer.layers.{i}...`` (or ``transformer{1,2,3}.layers...`` for grouped TokenPose-L), ``mlp_head.{0..3}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from core.model.backbones import HRNetStem
from core.model.config import ModelConfig
from core.model.encoder import Encoder
from core.model.outputs import PruneStage
from core.model.pruning import HumanTokenIdentification, gather_tokens
from core.model.tokens import make_heatmap_head, patchify, sine_position_table


@dataclass
class TokenState:
    """Per-token bookkeeping while layers run on a shrinking token set.

    ``pos``: ``(1 or B, n, D)`` 2D sine PE of the current visual tokens; ``pos3d``: ``(B, n, D)`` 3D ray PE or
    ``None``; ``index``: ``(B, n)`` original grid index of each current token (``None`` until the first prune).
    """

    pos: torch.Tensor
    pos3d: torch.Tensor | None = None
    index: torch.Tensor | None = None
    stages: list[PruneStage] = field(default_factory=list)

    def prune(self, keep: torch.Tensor, scores: torch.Tensor, layer: int) -> None:
        self.pos = gather_tokens(self.pos, keep)
        if self.pos3d is not None:
            self.pos3d = gather_tokens(self.pos3d, keep)
        self.index = keep if self.index is None else torch.gather(self.index, 1, keep)
        self.stages.append(PruneStage(layer=layer, keep_index=self.index, scores=scores))


class PoseTransformer(nn.Module):
    """Feature map ``(B, C, Hf, Wf)`` -> keypoint tokens -> heatmaps ``(B, J, Hh, Wh)``, with optional pruning."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        d = cfg.dim
        self.keypoint_token = nn.Parameter(torch.zeros(1, cfg.num_keypoints, d))
        self.pos_embedding = nn.Parameter(sine_position_table(cfg.grid_size, d), requires_grad=False)
        if cfg.is_multiview:
            self.pos_3d_linear = nn.Linear(3, d)
        self.patch_to_embedding = nn.Linear(cfg.patch_dim, d)
        group_depth = cfg.depth // cfg.layer_groups
        args = (group_depth, d, cfg.heads, cfg.mlp_dim, cfg.attention_scale, cfg.dropout, cfg.attention_naming)
        if cfg.layer_groups == 1:
            self.transformer = Encoder(*args)
        else:
            for g in range(cfg.layer_groups):
                self.add_module(f"transformer{g + 1}", Encoder(*args))
        self.mlp_head = make_heatmap_head(d * cfg.layer_groups, cfg.head_hidden, cfg.heatmap_size)
        self.hti = HumanTokenIdentification()
        # Inference shortcut (exact): skip work whose result is discarded - attention rows of tokens pruned right
        # after, and visual-token outputs of the final layer. Off by default so that complexity counting sees the
        # official computation; ``core.inference.optimize_for_inference`` switches it on.
        self.skip_unused = False
        nn.init.trunc_normal_(self.keypoint_token, std=0.02)

    @property
    def encoders(self) -> list[Encoder]:
        cfg = self.config
        if cfg.layer_groups == 1:
            return [self.transformer]
        return [getattr(self, f"transformer{g + 1}") for g in range(cfg.layer_groups)]

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, Hf, Wf)`` -> ``(B, J + N, D)``: keypoint tokens first, then patch embeddings + 2D PE."""
        x = self.patch_to_embedding(patchify(features, self.config.patch_size))
        x = x + self.pos_embedding
        kp = self.keypoint_token.expand(x.shape[0], -1, -1).to(x.dtype)
        return torch.cat((kp, x), dim=1)

    def new_state(self) -> TokenState:
        return TokenState(pos=self.pos_embedding)

    def run_layers(
        self,
        x: torch.Tensor,
        state: TokenState,
        layers: range,
        keep_ratio: float,
        encoder: Encoder | None = None,
        final_queries: int | None = None,
    ) -> torch.Tensor:
        """Run encoder layers ``layers`` (indices into ``encoder``) on ``x (B, J + n, D)``.

        Before every layer with index > 0 the current 2D PE is added to the visual tokens; at the configured
        pruning layers (when ``keep_ratio < 1``) HTI runs between attention and FFN and ``state`` is updated.
        ``final_queries``: only the first that many output tokens of the last layer are used by the caller (with
        ``skip_unused`` the last layer then returns just those).
        """
        encoder = self.transformer if encoder is None else encoder
        num_kp = self.config.num_keypoints
        prune_at = self.config.pruning_layers if keep_ratio < 1.0 else ()
        last = layers[-1] if len(layers) else None
        for i in layers:
            layer = encoder[i]
            if i > 0:
                x[:, num_kp:] += state.pos  # x is a fresh residual sum here, so in place is safe
            if i in prune_at:
                if self.skip_unused:
                    x, keep, scores = layer.attend_and_prune(x, num_kp, self.hti, keep_ratio)
                else:
                    x, kp_attn = layer.attend(x, keypoints=num_kp)
                    x, keep, scores = self.hti(x, kp_attn, keep_ratio)
                state.prune(keep, scores, layer=i)
            elif self.skip_unused and i == last and final_queries is not None:
                x = layer.attend_queries(x, final_queries)
            else:
                x = layer.attend(x)[0]
            x = layer.feed_forward(x)
        return x

    def head(self, keypoint_tokens: torch.Tensor) -> torch.Tensor:
        """``(B, J, D_head)`` -> heatmaps ``(B, J, Hh, Wh)``."""
        b, j, _ = keypoint_tokens.shape
        return self.mlp_head(keypoint_tokens).view(b, j, *self.config.heatmap_size)

    def forward(self, features: torch.Tensor, keep_ratio: float) -> tuple[torch.Tensor, list[PruneStage]]:
        """Feature map -> ``(heatmaps (B, J, Hh, Wh), stages)``."""
        x = self.embed(features)
        state = self.new_state()
        num_kp = self.config.num_keypoints
        outputs = []
        encoders = self.encoders  # one encoder, or the three groups of TokenPose-L
        for g, encoder in enumerate(encoders):
            final = num_kp if g == len(encoders) - 1 else None
            x = self.run_layers(x, state, range(len(encoder)), keep_ratio, encoder, final_queries=final)
            outputs.append(x[:, :num_kp])
        return self.head(torch.cat(outputs, dim=-1)), state.stages


class StemPoseTransformer(PoseTransformer, HRNetStem):
    """PPT-S / TokenPose-S ``features``: the HRNet stem and the token part under one prefix."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self._build_stem()
