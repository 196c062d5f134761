"""Single-view and multi-view TokenPose / PPT models and ``build_model``."""

from __future__ import annotations

import torch
from torch import nn

from core.model.backbones import HRNetBackbone
from core.model.config import ModelConfig, get_config
from core.model.outputs import MultiViewOutput, PoseOutput, PruneStage
from core.model.pose_transformer import PoseTransformer, StemPoseTransformer
from core.model.tokens import ray_directions_unit


def _check_keep_ratio(keep_ratio: float) -> float:
    if not 0.0 < float(keep_ratio) <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    return float(keep_ratio)


def _check_images(images: torch.Tensor, cfg: ModelConfig, lead: str) -> None:
    """Raise ``ValueError`` unless ``images`` is ``(*lead, 3, H, W)`` with (H, W) = ``cfg.image_size``."""
    ndim = len(lead.split(","))
    h, w = cfg.image_size
    expected = f"({lead}, 3, {h}, {w})"
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{cfg.name}: expected a torch.Tensor of shape {expected}, got {type(images).__name__}")
    if images.dim() != ndim + 3 or images.shape[-3] != 3 or tuple(images.shape[-2:]) != (h, w):
        raise ValueError(f"{cfg.name}: expected images of shape {expected}, got {tuple(images.shape)}")


class PoseModel(nn.Module):
    """Single-view TokenPose / PPT: normalised images ``(B, 3, H, W)`` -> :class:`PoseOutput`.

    Stem models (S) keep everything under ``features.``; HRNet models (B, L) use ``pre_feature.`` (CNN) and
    ``transformer.`` (token part), exactly as the official checkpoints.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.is_multiview:
            raise ValueError(f"{cfg.name} is a multi-view config; build it with MultiViewPoseModel")
        self.config = cfg
        if cfg.backbone == "stem":
            self.features = StemPoseTransformer(cfg)
        else:
            self.pre_feature = HRNetBackbone(cfg.feature_channels)
            self.transformer = PoseTransformer(cfg)

    @property
    def body(self) -> PoseTransformer:
        """The token part (``features`` for stem models, ``transformer`` otherwise)."""
        return self.features if self.config.backbone == "stem" else self.transformer

    def backbone(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, C, H/4, W/4)``."""
        return self.features.stem(images) if self.config.backbone == "stem" else self.pre_feature(images)

    def forward(self, images: torch.Tensor, keep_ratio: float | None = None) -> PoseOutput:
        """``images (B, 3, H, W)`` -> heatmaps ``(B, J, H/4, W/4)`` and the kept tokens of each pruning stage.

        ``keep_ratio`` defaults to the config's (0.7 for PPT, 1.0 for TokenPose); at 1.0 nothing is pruned and the
        output equals TokenPose's with the same weights.
        """
        cfg = self.config
        _check_images(images, cfg, "B")
        ratio = _check_keep_ratio(cfg.keep_ratio if keep_ratio is None else keep_ratio)
        heatmaps, stages = self.body(self.backbone(images), ratio)
        return PoseOutput(heatmaps=heatmaps, stages=stages, grid_shape=cfg.grid_size, token_stride=cfg.token_stride)


class MultiViewPoseModel(nn.Module):
    """Multi-view PPT (PPT_SPEC.md section 5): ``(B, V, 3, H, W)`` + rays -> :class:`MultiViewOutput`.

    All views run through the CNN and the first ``depth - fusion_layers`` layers as one batch of ``B*V`` (shared
    weights, pruning per view). With ``fuse=True`` the last ``fusion_layers`` layers attend over one sequence per
    sample, ``[keypoint tokens of views 1..V ; kept visual tokens of views 1..V]``, with the 2D sine PE plus the 3D
    PE ``pos_3d_linear(ray direction)`` added to the visual tokens before each fusion layer. With ``fuse=False``
    each view is plain PPT.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not cfg.is_multiview:
            raise ValueError(f"{cfg.name} is a single-view config; build it with PoseModel")
        self.config = cfg
        self.features = StemPoseTransformer(cfg)

    @property
    def body(self) -> PoseTransformer:
        return self.features

    def _check_rays(self, rays: torch.Tensor | None, b: int, v: int) -> None:
        expected = (b, v, self.config.num_patches, 3)
        if rays is None:
            raise ValueError(f"fuse=True needs ray directions of shape {expected} (B, V, tokens, 3), got None")
        if tuple(rays.shape) != expected:
            raise ValueError(f"expected ray directions of shape {expected} (B, V, tokens, 3), got {tuple(rays.shape)}")

    def forward(
        self,
        images: torch.Tensor,
        rays: torch.Tensor | None = None,
        fuse: bool = True,
        keep_ratio: float | None = None,
    ) -> MultiViewOutput:
        """``images (B, V, 3, H, W)``, ``rays (B, V, N, 3)`` world-frame viewing directions of the N patch centres
        (normalised here) -> heatmaps ``(B, V, J, H/4, W/4)`` and per-stage kept tokens ``(B, V, K_s)``."""
        cfg = self.config
        _check_images(images, cfg, "B, V")
        b, v = images.shape[:2]
        ratio = _check_keep_ratio(cfg.keep_ratio if keep_ratio is None else keep_ratio)
        body = self.features
        x = body.embed(body.stem(images.flatten(0, 1)))  # (B*V, J + N, D)
        state = body.new_state()
        if fuse:
            self._check_rays(rays, b, v)
            directions = ray_directions_unit(rays.to(x.dtype)).flatten(0, 1)  # (B*V, N, 3)
            state.pos3d = body.pos_3d_linear(directions)
            x = body.run_layers(x, state, range(cfg.depth - cfg.fusion_layers), ratio)
            kp = self._fuse(x, state, b, v)
        else:
            kp = body.run_layers(x, state, range(cfg.depth), ratio, final_queries=cfg.num_keypoints)
            kp = kp[:, : cfg.num_keypoints]
        heatmaps = body.head(kp).view(b, v, cfg.num_keypoints, *cfg.heatmap_size)
        stages = [
            PruneStage(s.layer, s.keep_index.view(b, v, -1), s.scores.view(b, v, -1)) for s in state.stages
        ]
        return MultiViewOutput(
            heatmaps=heatmaps, stages=stages, grid_shape=cfg.grid_size, token_stride=cfg.token_stride, fused=fuse
        )

    def _fuse(self, x: torch.Tensor, state, b: int, v: int) -> torch.Tensor:
        """Human-area fusion: ``x (B*V, J + K, D)`` -> keypoint tokens ``(B*V, J, D)`` after the joint layers."""
        cfg = self.config
        j = cfg.num_keypoints
        bv, t, d = x.shape
        k = t - j
        x = x.view(b, v, t, d)
        seq = torch.cat([x[:, :, :j].reshape(b, v * j, d), x[:, :, j:].reshape(b, v * k, d)], dim=1)
        pos = (state.pos.expand(bv, -1, -1) + state.pos3d).reshape(b, v * k, d)
        encoder = self.features.transformer
        for i in range(cfg.depth - cfg.fusion_layers, cfg.depth):
            seq[:, v * j :] += pos  # fresh tensor (cat / residual sum)
            if self.features.skip_unused and i == cfg.depth - 1:  # only the keypoint outputs are used
                seq = encoder[i].attend_queries(seq, v * j)
            else:
                seq = encoder[i].attend(seq)[0]
            seq = encoder[i].feed_forward(seq)
        return seq[:, : v * j].reshape(bv, j, d)


def init_weights(model: nn.Module) -> None:
    """Official initialisation: Linear trunc-normal(0.02) / bias 0, LayerNorm (1, 0), Conv N(0, 0.001), BN (1, 0)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(name_or_config: str | ModelConfig, init: bool = True) -> PoseModel | MultiViewPoseModel:
    """Build a preset by name (``ppt_s``, ``multiview_ppt_s``, ...) or from a :class:`ModelConfig`.

    Returns a :class:`PoseModel` or :class:`MultiViewPoseModel` in training mode (call ``.eval()`` for inference).
    """
    cfg = get_config(name_or_config) if isinstance(name_or_config, str) else name_or_config
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"build_model takes a preset name or a ModelConfig, got {type(name_or_config).__name__}")
    model = MultiViewPoseModel(cfg) if cfg.is_multiview else PoseModel(cfg)
    if init:
        init_weights(model)
    return model
