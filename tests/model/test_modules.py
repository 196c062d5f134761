"""Building blocks: tokenisation order, sine table, attention, HTI pruning, forward outputs and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from core.model import HumanTokenIdentification, PoseOutput, build_model
from core.model.encoder import Attention
from core.model.pruning import keep_count
from core.model.tokens import patchify, sine_position_table
from tests.model.models_cache import preset_model


def test_patchify_flatten_order():
    c, h, w, ph, pw = 5, 8, 6, 4, 3
    feat = torch.arange(2 * c * h * w, dtype=torch.float32).view(2, c, h, w)
    tokens = patchify(feat, (ph, pw))
    assert tokens.shape == (2, (h // ph) * (w // pw), ph * pw * c)
    cols = w // pw
    for b, row, col, pr, pc, ch in [(0, 0, 0, 0, 0, 0), (1, 1, 1, 3, 2, 4), (0, 1, 0, 2, 1, 3)]:
        token = row * cols + col
        index = (pr * pw + pc) * c + ch
        assert tokens[b, token, index] == feat[b, ch, row * ph + pr, col * pw + pc]


def test_patchify_accepts_channels_last():
    feat = torch.randn(2, 16, 8, 6)
    assert torch.equal(patchify(feat.contiguous(memory_format=torch.channels_last), (4, 3)), patchify(feat, (4, 3)))


def test_sine_table_matches_the_formula():
    rows, cols, dim = 16, 16, 192
    table = sine_position_table((rows, cols), dim)
    assert table.shape == (1, rows * cols, dim)
    half = dim // 2
    for i, j, k in [(0, 0, 0), (3, 7, 5), (15, 15, 95), (8, 2, 40)]:
        ey = (i + 1) / (rows + 1e-6) * 2 * math.pi
        ex = (j + 1) / (cols + 1e-6) * 2 * math.pi
        f = 10000 ** (2 * (k // 2) / half)
        fn = math.sin if k % 2 == 0 else math.cos
        assert table[0, i * cols + j, k].item() == pytest.approx(fn(ey / f), abs=1e-6)
        assert table[0, i * cols + j, half + k].item() == pytest.approx(fn(ex / f), abs=1e-6)


def test_attention_sdpa_equals_explicit_softmax_and_keypoint_rows():
    torch.manual_seed(0)
    attn = Attention(192, 8, 192**-0.5).eval()
    x = torch.randn(2, 40, 192)
    with torch.no_grad():
        attn.use_sdpa = False
        ref, ref_kp = attn(x, keypoints=17)
        attn.use_sdpa = True
        out, kp = attn(x, keypoints=17)
        # explicit full map for the keypoint rows
        q, k, _ = attn.to_qkv(x).view(2, 40, 3, 8, 24).permute(2, 0, 3, 1, 4)
        full = (q @ k.transpose(-2, -1) * 192**-0.5).softmax(-1)
    assert kp.shape == (2, 8, 17, 23)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(kp, full[:, :, :17, 17:], atol=1e-6, rtol=0)
    torch.testing.assert_close(ref_kp, full[:, :, :17, 17:], atol=1e-6, rtol=0)


def test_keep_counts_follow_ceil():
    counts = [256]
    for _ in range(3):
        counts.append(keep_count(counts[-1], 0.7))
    assert counts == [256, 180, 126, 89]


def test_hti_keeps_top_scored_tokens_and_keypoints():
    torch.manual_seed(1)
    b, heads, j, n, d = 2, 8, 17, 30, 8
    tokens = torch.randn(b, j + n, d)
    kp_attn = torch.rand(b, heads, j, n)
    kept, index, scores = HumanTokenIdentification()(tokens, kp_attn, 0.5)
    expected_scores = kp_attn.mean(1).sum(1)
    assert kept.shape == (b, j + 15, d) and index.shape == (b, 15) and scores.shape == (b, 15)
    torch.testing.assert_close(kept[:, :j], tokens[:, :j], rtol=0, atol=0)
    for i in range(b):
        top = expected_scores[i].argsort(descending=True)[:15]
        assert torch.equal(index[i], top)
        torch.testing.assert_close(kept[i, j:], tokens[i, j + top], rtol=0, atol=0)
        torch.testing.assert_close(scores[i], expected_scores[i, top], rtol=1e-6, atol=1e-7)
    assert (scores[:, :-1] >= scores[:, 1:]).all()


def test_hti_rejects_mismatched_attention():
    with pytest.raises(ValueError, match="tokens"):
        HumanTokenIdentification()(torch.randn(1, 20, 4), torch.rand(1, 2, 17, 5), 0.7)


@pytest.fixture(scope="module")
def ppt_s_output() -> tuple[PoseOutput, torch.Tensor]:
    torch.manual_seed(3)
    x = torch.randn(2, 3, 256, 192)
    with torch.inference_mode():
        return preset_model("ppt_s")(x), x


def test_ppt_s_output_shapes_and_stages(ppt_s_output):
    out, _ = ppt_s_output
    assert out.heatmaps.shape == (2, 17, 64, 48)
    assert [s.layer for s in out.stages] == [3, 6, 9]
    assert [tuple(s.keep_index.shape) for s in out.stages] == [(2, 180), (2, 126), (2, 89)]
    assert out.grid_shape == (16, 16) and out.token_stride == (16, 12)
    for prev, stage in zip(out.stages, out.stages[1:]):
        for i in range(2):  # indices refer to the original grid, so each stage keeps a subset of the previous
            assert set(stage.keep_index[i].tolist()) <= set(prev.keep_index[i].tolist())
    for stage in out.stages:
        assert stage.keep_index.min() >= 0 and stage.keep_index.max() < 256
        assert all(len(set(row.tolist())) == row.numel() for row in stage.keep_index)
        assert (stage.scores[:, :-1] >= stage.scores[:, 1:]).all()


def test_keep_ratio_one_equals_tokenpose_with_same_weights(ppt_s_output):
    _, x = ppt_s_output
    ppt, tokenpose = preset_model("ppt_s"), preset_model("tokenpose_s")
    tokenpose_copy = build_model("tokenpose_s").eval()
    tokenpose_copy.load_state_dict(ppt.state_dict())
    with torch.inference_mode():
        a = ppt(x, keep_ratio=1.0)
        b = tokenpose_copy(x)
    assert a.stages == [] and b.stages == []
    assert torch.equal(a.heatmaps, b.heatmaps)
    assert tokenpose.config.pruning_layers == ()


def test_keep_ratio_changes_token_counts(ppt_s_output):
    _, x = ppt_s_output
    with torch.inference_mode():
        out = preset_model("ppt_s")(x[:1], keep_ratio=0.5)
    assert [s.keep_index.shape[1] for s in out.stages] == [128, 64, 32]


@pytest.mark.parametrize(
    "shape, needle",
    [((2, 3, 256, 256), r"\(B, 3, 256, 192\)"), ((2, 1, 256, 192), "got \\(2, 1, 256, 192\\)"),
     ((3, 256, 192), "expected images")],
)
def test_bad_image_shapes_name_expected_and_actual(shape, needle):
    with pytest.raises(ValueError, match=needle):
        preset_model("ppt_s")(torch.zeros(shape))


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_bad_keep_ratio(ratio):
    with pytest.raises(ValueError, match="keep_ratio"):
        preset_model("ppt_s")(torch.zeros(1, 3, 256, 192), keep_ratio=ratio)


def test_multiview_shapes_and_errors():
    torch.manual_seed(4)
    model = preset_model("multiview_ppt_s")
    images = torch.randn(1, 2, 3, 256, 256)
    rays = torch.randn(1, 2, 256, 3)
    with torch.inference_mode():
        fused = model(images, rays, fuse=True)
        alone = model(images, fuse=False)
    assert fused.heatmaps.shape == (1, 2, 17, 64, 64) and fused.fused and not alone.fused
    assert [tuple(s.keep_index.shape) for s in fused.stages] == [(1, 2, 180), (1, 2, 126), (1, 2, 89)]
    assert not torch.equal(fused.heatmaps, alone.heatmaps)
    with pytest.raises(ValueError, match="ray directions"):
        model(images, None, fuse=True)
    with pytest.raises(ValueError, match=r"\(1, 2, 256, 3\)"):
        model(images, torch.randn(1, 3, 256, 3), fuse=True)
    with pytest.raises(ValueError, match=r"\(B, V, 3, 256, 256\)"):
        model(torch.randn(3, 3, 256, 256), rays)


def test_multiview_views_are_independent_without_fusion():
    torch.manual_seed(5)
    model = preset_model("multiview_ppt_s")
    images = torch.randn(1, 2, 3, 256, 256)
    with torch.inference_mode():
        both = model(images, fuse=False).heatmaps
        first = model(images[:, :1], fuse=False).heatmaps
    torch.testing.assert_close(both[:, :1], first, atol=1e-5, rtol=0)


def test_tokenpose_l_d6_forward():
    with torch.inference_mode():
        out = preset_model("tokenpose_l_d6")(torch.randn(1, 3, 256, 192))
    assert out.heatmaps.shape == (1, 17, 64, 48) and out.stages == []


def test_ppt_l_d6_prunes_once():
    with torch.inference_mode():
        out = preset_model("ppt_l_d6")(torch.randn(1, 3, 256, 192))
    assert [s.layer for s in out.stages] == [3] and out.stages[0].keep_index.shape == (1, 180)


def test_training_step_runs():
    torch.manual_seed(6)
    model = build_model("ppt_s").train()
    out = model(torch.randn(1, 3, 256, 192))
    out.heatmaps.square().mean().backward()
    assert model.features.patch_to_embedding.weight.grad is not None
    assert model.features.pos_embedding.grad is None


def test_shortcuts_equal_the_full_computation():
    """``attend_and_prune`` / ``attend_queries`` compute only surviving / used rows but give the same values."""
    from core.model.encoder import EncoderLayer

    torch.manual_seed(7)
    layer = EncoderLayer(192, 8, 576, 192**-0.5).eval()
    x = torch.randn(2, 17 + 60, 192)
    hti = HumanTokenIdentification()
    with torch.no_grad():
        full, kp_attn = layer.attend(x, keypoints=17)
        ref = hti(full, kp_attn, 0.7)
        fast = layer.attend_and_prune(x, 17, hti, 0.7)
        torch.testing.assert_close(fast[0], ref[0], atol=1e-5, rtol=0)
        assert torch.equal(fast[1], ref[1])
        torch.testing.assert_close(layer.attend_queries(x, 17), full[:, :17], atol=1e-5, rtol=0)


def test_skip_unused_keeps_model_outputs():
    model = build_model("ppt_s").eval()
    torch.manual_seed(8)
    x = torch.randn(1, 3, 256, 192)
    with torch.inference_mode():
        ref = model(x)
        model.features.skip_unused = True
        fast = model(x)
    torch.testing.assert_close(fast.heatmaps, ref.heatmaps, atol=1e-5, rtol=0)
    assert all(torch.equal(a.keep_index, b.keep_index) for a, b in zip(fast.stages, ref.stages))
