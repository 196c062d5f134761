"""Presets, configs and parameter counts (PPT_SPEC.md sections 3 and 5.1)."""

from __future__ import annotations

import pytest

from core.model import ModelConfig, build_model, get_config, preset_names
from tests.model.models_cache import preset_model

# (total params, trainable params, state-dict entries) measured on the official classes.
EXPECTED = {
    "tokenpose_s": (6_669_888, 6_620_736, 234),
    "ppt_s": (6_669_888, 6_620_736, 234),
    "tokenpose_b": (13_514_368, 13_465_216, 1074),
    "ppt_b": (13_514_368, 13_465_216, 1074),
    "ppt_l_d6": (20_349_216, 20_300_064, 1008),
    "tokenpose_l_d6": (20_864_928, 20_815_776, 1004),
    "multiview_ppt_s": (7_810_752, 7_761_600, 236),
}


def test_registry_lists_all_presets():
    assert set(preset_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_counts_equal_official(name):
    model = preset_model(name)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert (total, trainable, len(model.state_dict())) == EXPECTED[name]


def test_pos_embedding_is_a_fixed_parameter_in_the_state_dict():
    model = preset_model("ppt_s")
    pe = model.features.pos_embedding
    assert not pe.requires_grad and tuple(pe.shape) == (1, 256, 192)
    assert "features.pos_embedding" in model.state_dict()


def test_derived_sizes():
    s, mv, b = get_config("ppt_s"), get_config("multiview_ppt_s"), get_config("ppt_b")
    assert s.grid_size == (16, 16) and s.token_stride == (16, 12) and s.patch_dim == 3072
    assert mv.grid_size == (16, 16) and mv.token_stride == (16, 16) and mv.patch_dim == 4096
    assert mv.head_hidden == 512 and s.head_hidden == 384
    assert b.patch_dim == 384 and b.attention_scale == pytest.approx(24**-0.5)
    assert s.attention_scale == pytest.approx(192**-0.5)
    assert get_config("ppt_l_d6").pruning_layers == (3,)


def test_config_is_frozen():
    cfg = get_config("ppt_s")
    with pytest.raises(Exception):
        cfg.depth = 3  # type: ignore[misc]
    assert cfg.replace(keep_ratio=0.5).keep_ratio == 0.5


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"backbone": "resnet"}, "backbone"),
        ({"image_size": (250, 192)}, "divisible by 4"),
        ({"patch_size": (5, 3)}, "patch_size"),
        ({"keep_ratio": 0.0}, "keep_ratio"),
        ({"pruning_layers": (12,)}, "pruning_layers"),
        ({"layer_groups": 5}, "layer_groups"),
        ({"dim": 190}, "heads"),
    ],
)
def test_bad_config_values_raise(changes, needle):
    with pytest.raises(ValueError, match=needle):
        ModelConfig(name="bad", **changes)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="ppt_s"):
        build_model("ppt_xl")
    with pytest.raises(ValueError, match="ModelConfig"):
        build_model(42)  # type: ignore[arg-type]
