"""Device selection, threads and the inference-only rewrites (BatchNorm folding, channels_last)."""

from __future__ import annotations

import pytest
import torch

from core.inference import fold_batchnorm, optimize_for_inference, select_device, set_threads
from core.inference.device import autocast_for
from core.model import build_model
from tests.model.models_cache import preset_model


def test_select_device():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device(None) == select_device("auto")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu-ish")


def test_set_threads():
    before = torch.get_num_threads()
    assert set_threads(None) == before
    assert set_threads(1) == 1
    with pytest.raises(ValueError, match="num_threads"):
        set_threads(0)
    torch.set_num_threads(before)


def test_autocast_is_a_noop_on_cpu():
    with autocast_for(torch.device("cpu")):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.parametrize("preset", ["ppt_s", "ppt_b"])
def test_fold_batchnorm_keeps_outputs(preset):
    torch.manual_seed(0)
    model = build_model(preset).eval()
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 256, 192)
    with torch.inference_mode():
        ref = model.backbone(x)
        fast = optimize_for_inference(model)
        out = fast.backbone(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert bns == (15 if preset == "ppt_s" else 155)  # every BatchNorm follows a convolution
    assert fold_batchnorm(build_model(preset).eval()) == bns
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # original untouched


def test_fold_batchnorm_needs_eval_mode():
    with pytest.raises(ValueError, match="eval"):
        fold_batchnorm(build_model("ppt_s").train())


def test_optimised_model_output_equals_original():
    model = preset_model("ppt_s")
    torch.manual_seed(1)
    x = torch.randn(2, 3, 256, 192)
    fast = optimize_for_inference(model)
    with torch.inference_mode():
        a = model(x)
        b = fast(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(b.heatmaps, a.heatmaps, atol=1e-4, rtol=0)
    for sa, sb in zip(a.stages, b.stages):
        assert torch.equal(sa.keep_index, sb.keep_index)


def test_compile_scope_is_checked():
    from core.inference import compile_model

    model = preset_model("ppt_s")
    assert compile_model(model, "none") is model
    with pytest.raises(ValueError, match="compile scope"):
        compile_model(model, "everything")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch's compiler stack
def test_compiled_backbone_gives_the_same_output():
    from core.inference import compile_model

    torch.manual_seed(2)
    x = torch.randn(1, 3, 256, 192).contiguous(memory_format=torch.channels_last)
    fast = optimize_for_inference(preset_model("ppt_s"))
    with torch.inference_mode():
        ref = fast(x).heatmaps
        out = compile_model(fast, "backbone")(x).heatmaps
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
