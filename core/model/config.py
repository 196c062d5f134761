"""Frozen model configurations and the registry of named presets.

A :class:`ModelConfig` fully describes one member of the TokenPose / PPT family; :func:`core.model.build_model`
is the one place that unpacks it. Presets follow the official code (``PPT_SPEC.md`` sections 3 and 5):

==================  ==========  =========  =====  =============  ==========================================
preset              backbone    input      depth  pruning        notes
==================  ==========  =========  =====  =============  ==========================================
``tokenpose_s``     HRNet stem  256x192    12     none           TokenPose-S-v1, scale ``192**-0.5``
``ppt_s``           HRNet stem  256x192    12     3, 6, 9 @0.7   PPT-S
``tokenpose_b``     HRNet-W32   256x192    12     none           scale ``24**-0.5``
``ppt_b``           HRNet-W32   256x192    12     3, 6, 9 @0.7   PPT-B
``ppt_l_d6``        HRNet-W48   256x192    6      3 @0.7         "L/D6" as the PPT code builds it (20.35M)
``tokenpose_l_d6``  HRNet-W48   256x192    3x2    none           original TokenPose-L/D6 (20.86M)
``multiview_ppt_s`` HRNet stem  256x256    12     3, 6, 9 @0.7   human-area fusion in the last 2 layers
==================  ==========  =========  =====  =============  ==========================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Literal

Backbone = Literal["stem", "hrnet_w32", "hrnet_w48"]
AttentionNaming = Literal["ppt", "tokenpose"]

#: Channels of the feature map each backbone hands to the tokenizer.
BACKBONE_CHANNELS: dict[str, int] = {"stem": 256, "hrnet_w32": 32, "hrnet_w48": 48}


@dataclass(frozen=True)
class ModelConfig:
    """One TokenPose / PPT variant. Sizes are (height, width) in pixels of the model input / feature map.

    ``pruning_layers`` are 0-based encoder layer indices where Human Token Identification (HTI) runs;
    ``keep_ratio`` is the default fraction of visual tokens kept at each of them (1.0 = TokenPose).
    ``layer_groups > 1`` is the original TokenPose-L layout: ``depth`` layers split into equal groups whose
    keypoint tokens are concatenated for the head. ``fusion_layers > 0`` makes a multi-view model whose last
    ``fusion_layers`` layers attend jointly over the kept tokens of all views (with ``pos_3d_linear``).
    ``attention_naming`` selects the state-dict layout of the attention sub-block: ``"ppt"`` (``0.norm``,
    ``0.fn.to_qkv``) as in the PPT code, or ``"tokenpose"`` (``0.fn.norm``, ``0.fn.fn.to_qkv``) as in the
    original TokenPose repository.
    """

    name: str
    backbone: Backbone = "stem"
    image_size: tuple[int, int] = (256, 192)
    patch_size: tuple[int, int] = (4, 3)
    num_keypoints: int = 17
    dim: int = 192
    depth: int = 12
    heads: int = 8
    mlp_ratio: int = 3
    scale_with_head: bool = False
    pruning_layers: tuple[int, ...] = ()
    keep_ratio: float = 1.0
    layer_groups: int = 1
    fusion_layers: int = 0
    attention_naming: AttentionNaming = "ppt"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONE_CHANNELS:
            raise ValueError(f"backbone must be one of {sorted(BACKBONE_CHANNELS)}, got {self.backbone!r}")
        fh, fw = self.feature_size
        if self.image_size[0] % 4 or self.image_size[1] % 4:
            raise ValueError(f"image_size must be divisible by 4 (stride of the CNN), got {self.image_size}")
        if fh % self.patch_size[0] or fw % self.patch_size[1]:
            raise ValueError(f"feature map {self.feature_size} is not divisible by patch_size {self.patch_size}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} must be divisible by heads {self.heads}")
        if not 0.0 < self.keep_ratio <= 1.0:
            raise ValueError(f"keep_ratio must be in (0, 1], got {self.keep_ratio}")
        if any(not 0 <= i < self.depth for i in self.pruning_layers):
            raise ValueError(f"pruning_layers {self.pruning_layers} must lie in [0, depth={self.depth})")
        if self.layer_groups < 1 or self.depth % self.layer_groups:
            raise ValueError(f"depth {self.depth} must split into layer_groups={self.layer_groups} equal groups")
        if self.layer_groups > 1 and (self.pruning_layers or self.fusion_layers):
            raise ValueError("grouped (TokenPose-L) models support neither pruning nor multi-view fusion")
        if self.fusion_layers and self.backbone != "stem":
            raise ValueError("multi-view fusion is implemented for the stem backbone (the official multi-view PPT)")
        if any(i >= self.depth - self.fusion_layers for i in self.pruning_layers):
            raise ValueError("pruning layers must come before the fusion layers")

    # ---- derived sizes -------------------------------------------------------------------------------
    @property
    def feature_size(self) -> tuple[int, int]:
        """(H, W) of the CNN feature map (1/4 of the input) = heatmap size."""
        return self.image_size[0] // 4, self.image_size[1] // 4

    @property
    def heatmap_size(self) -> tuple[int, int]:
        return self.feature_size

    @property
    def grid_size(self) -> tuple[int, int]:
        """(rows, cols) of the visual-token grid (16x16 for every preset)."""
        return self.feature_size[0] // self.patch_size[0], self.feature_size[1] // self.patch_size[1]

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    @property
    def token_stride(self) -> tuple[int, int]:
        """(rows, cols) of input pixels covered by one visual token (e.g. 16x12)."""
        return 4 * self.patch_size[0], 4 * self.patch_size[1]

    @property
    def feature_channels(self) -> int:
        return BACKBONE_CHANNELS[self.backbone]

    @property
    def patch_dim(self) -> int:
        return self.feature_channels * self.patch_size[0] * self.patch_size[1]

    @property
    def mlp_dim(self) -> int:
        return self.dim * self.mlp_ratio

    @property
    def head_hidden(self) -> int:
        """Hidden width of the heatmap head: Hh*Wh // 8 (the YAML's HIDDEN_HEATMAP_DIM is ignored)."""
        return self.heatmap_size[0] * self.heatmap_size[1] // 8

    @property
    def attention_scale(self) -> float:
        return (self.dim // self.heads if self.scale_with_head else self.dim) ** -0.5

    @property
    def is_multiview(self) -> bool:
        return self.fusion_layers > 0

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


_PRESETS: dict[str, Callable[[], ModelConfig]] = {}


def register_preset(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Decorator: register a zero-argument config factory under its function name."""
    _PRESETS[fn.__name__] = fn
    return fn


def preset_names() -> list[str]:
    return list(_PRESETS)


def get_config(name: str) -> ModelConfig:
    """The config of a named preset; ``ValueError`` naming the known presets otherwise."""
    try:
        return _PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; known presets: {', '.join(_PRESETS)}") from None


@register_preset
def tokenpose_s() -> ModelConfig:
    return ModelConfig(name="tokenpose_s", backbone="stem")


@register_preset
def ppt_s() -> ModelConfig:
    return ModelConfig(name="ppt_s", backbone="stem", pruning_layers=(3, 6, 9), keep_ratio=0.7)


@register_preset
def tokenpose_b() -> ModelConfig:
    return ModelConfig(name="tokenpose_b", backbone="hrnet_w32", scale_with_head=True)


@register_preset
def ppt_b() -> ModelConfig:
    return ModelConfig(
        name="ppt_b", backbone="hrnet_w32", scale_with_head=True, pruning_layers=(3, 6, 9), keep_ratio=0.7
    )


@register_preset
def ppt_l_d6() -> ModelConfig:
    # The PPT code's "L/D6": B architecture with HRNet-W48 and 6 layers; only index 3 exists of [3, 6, 9].
    return ModelConfig(
        name="ppt_l_d6", backbone="hrnet_w48", depth=6, scale_with_head=True, pruning_layers=(3,), keep_ratio=0.7
    )


@register_preset
def tokenpose_l_d6() -> ModelConfig:
    # The original TokenPose-L/D6: three 2-layer transformers, keypoint outputs concatenated (3 x 192).
    return ModelConfig(
        name="tokenpose_l_d6",
        backbone="hrnet_w48",
        depth=6,
        layer_groups=3,
        scale_with_head=True,
        attention_naming="tokenpose",
    )


@register_preset
def multiview_ppt_s() -> ModelConfig:
    return ModelConfig(
        name="multiview_ppt_s",
        backbone="stem",
        image_size=(256, 256),
        patch_size=(4, 4),
        pruning_layers=(3, 6, 9),
        keep_ratio=0.7,
        fusion_layers=2,
    )
