"""Output parity with the official PPT code (../shared/data/ppt_parity): max |diff| must stay below 1e-4.

The fixtures are the official classes' heatmaps for fixed float16-exact weights and inputs: PPT-S and PPT-B at
keep 0.7 and 1.0 (= TokenPose), Multi-view PPT-S with and without human-area fusion (with the 3D encoding).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.inference.optimize import optimize_for_inference, set_attention_impl
from core.model import build_model, load_checkpoint
from tests.conftest import shared_path

TOL = 1e-4


def _loaded(preset: str, weights: str) -> torch.nn.Module:
    model = build_model(preset, init=False).eval()
    load_checkpoint(model, shared_path("ppt_parity", weights))
    return model


@pytest.fixture(scope="module")
def single_view():
    return {
        name: (_loaded(name, f"{name}_official_layout_fp16.pth"), np.load(shared_path("ppt_parity", f"{name}_io.npz")))
        for name in ("ppt_s", "ppt_b")
    }


@pytest.fixture(scope="module")
def multi_view():
    model = _loaded("multiview_ppt_s", "multiview_ppt_s_official_layout_fp16.pth")
    io = np.load(shared_path("ppt_parity", "multiview_ppt_s_io.npz"))
    rays = torch.from_numpy(io["ray_points"]) - torch.from_numpy(io["camera_centers"])[:, :, None]
    return model, io, F.normalize(rays, dim=-1)


def _max_diff(a: torch.Tensor, b: np.ndarray) -> float:
    assert tuple(a.shape) == b.shape
    return float(np.abs(a.float().numpy() - b).max())


@pytest.mark.parametrize(
    "preset, sdpa",
    [("ppt_s", True), ("ppt_s", False), ("ppt_b", True)],
    ids=["ppt_s-sdpa", "ppt_s-softmax", "ppt_b-sdpa"],
)
def test_single_view_parity(single_view, preset, sdpa):
    model, io = single_view[preset]
    set_attention_impl(model, sdpa)
    x = torch.from_numpy(io["input"])
    with torch.inference_mode():
        pruned = model(x, keep_ratio=0.7)
        full = model(x, keep_ratio=1.0)
    assert _max_diff(pruned.heatmaps, io["heatmaps_keep07"]) < TOL
    assert _max_diff(full.heatmaps, io["heatmaps_keep10"]) < TOL
    assert [s.keep_index.shape[1] for s in pruned.stages] == [180, 126, 89]


@pytest.mark.parametrize("preset", ["ppt_s", "ppt_b"])
def test_single_view_parity_of_the_optimised_runtime_model(single_view, preset):
    model, io = single_view[preset]
    fast = optimize_for_inference(model)  # folded BN, channels_last, SDPA
    x = torch.from_numpy(io["input"]).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert _max_diff(fast(x, keep_ratio=0.7).heatmaps, io["heatmaps_keep07"]) < TOL
        assert _max_diff(fast(x, keep_ratio=1.0).heatmaps, io["heatmaps_keep10"]) < TOL


@pytest.mark.parametrize("sdpa", [True, False], ids=["sdpa", "softmax"])
def test_multiview_parity(multi_view, sdpa):
    model, io, rays = multi_view
    set_attention_impl(model, sdpa)
    images = torch.from_numpy(io["images"])
    with torch.inference_mode():
        fused = model(images, rays, fuse=True, keep_ratio=0.7)
        alone = model(images, fuse=False, keep_ratio=0.7)
    assert fused.fused and not alone.fused
    assert _max_diff(fused.heatmaps, io["heatmaps_fused"]) < TOL
    assert _max_diff(alone.heatmaps, io["heatmaps_unfused"]) < TOL


def test_multiview_parity_of_the_optimised_runtime_model(multi_view):
    model, io, rays = multi_view
    fast = optimize_for_inference(model)
    images = torch.from_numpy(io["images"])[0].contiguous(memory_format=torch.channels_last)[None]
    with torch.inference_mode():
        assert _max_diff(fast(images, rays, fuse=True).heatmaps, io["heatmaps_fused"]) < TOL
