"""``PoseModelRunner``: geometry end to end with a stand-in network, real-model smoke, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.inference import PoseModelRunner
from core.inference.preprocess import box_to_center_scale, crop_affine, token_rays
from core.model import MultiViewOutput, PoseOutput
from tests.model.models_cache import preset_model


def _blob_image(x: float, y: float, shape=(480, 640), sigma=5.0) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat((g * 250).astype(np.uint8)[..., None], 3, axis=2)


class _BlobNet:
    """Stand-in network: a heatmap peak at the intensity centroid of each crop (mapped to heatmap pixels)."""

    def __init__(self, cfg, unbiased: bool, multiview: bool):
        self.cfg, self.unbiased, self.multiview = cfg, unbiased, multiview
        self.rays = None

    def _heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.cfg.image_size
        hh, hw = self.cfg.heatmap_size
        img = x.float().sum(1)  # (V, H, W), brighter = larger after normalisation
        img = img - img.amin(dim=(1, 2), keepdim=True)
        img = torch.where(img > 0.5 * img.amax(dim=(1, 2), keepdim=True), img, torch.zeros_like(img))
        ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        cx = (img * xs).sum((1, 2)) / img.sum((1, 2))
        cy = (img * ys).sum((1, 2)) / img.sum((1, 2))
        sx, sy = ((hw - 1) / (w - 1), (hh - 1) / (h - 1)) if self.unbiased else (hw / w, hh / h)
        yy, xx = torch.meshgrid(torch.arange(hh).float(), torch.arange(hw).float(), indexing="ij")
        g = torch.exp(-((xx - (cx * sx)[:, None, None]) ** 2 + (yy - (cy * sy)[:, None, None]) ** 2) / 8.0)
        return g[:, None].expand(-1, self.cfg.num_keypoints, -1, -1)

    def __call__(self, x, rays=None, fuse=False, keep_ratio=None):
        if self.multiview:
            self.rays = rays
            return MultiViewOutput(heatmaps=self._heatmaps(x[0])[None], fused=fuse)
        return PoseOutput(heatmaps=self._heatmaps(x))


@pytest.mark.parametrize("preset, recipe", [("ppt_s", "darkpose"), ("multiview_ppt_s", "hrnet")])
def test_keypoints_land_on_the_blob_in_original_pixels(preset, recipe):
    est = PoseModelRunner(preset_model(preset), "cpu", recipe=recipe, optimize=False)
    est._forward = _BlobNet(est.config, recipe == "darkpose", est.multiview)
    truth = np.array([[210.4, 305.7], [400.2, 120.9], [333.3, 240.0]])
    images = [_blob_image(x, y) for x, y in truth]
    boxes = np.array([[150, 220, 120, 160], [330, 40, 150, 200], [np.nan] * 4])  # last view: full frame
    res = est.estimate(images, boxes)
    assert res.keypoints.shape == (3, 17, 2) and res.confidence.shape == (3, 17)
    hm_tol = 0.05 if recipe == "darkpose" else 0.3  # DARK is sub-pixel; argmax steps by a quarter pixel
    for v in range(3):  # one heatmap px = 4 / |A00| original px
        np.testing.assert_allclose(res.keypoints[v, 0], truth[v], atol=4 * hm_tol / abs(res.crop_affines[v, 0, 0]))


def test_multiview_rays_reach_the_model():
    est = PoseModelRunner(preset_model("multiview_ppt_s"), "cpu", optimize=False)
    net = _BlobNet(est.config, False, True)
    est._forward = net
    K = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]])
    cams = [(K, np.eye(3), np.zeros(3)), SimpleNamespace(K=K, R=np.diag([1.0, -1, -1]), t=np.ones(3))]
    images = [_blob_image(300, 200), _blob_image(100, 100)]
    boxes = np.array([[200, 100, 200, 200], [50, 50, 100, 100]])
    res = est.estimate(images, boxes, cameras=cams)
    assert res.fused and net.rays.shape == (1, 2, 256, 3)
    for v, cam in enumerate([cams[0], (cams[1].K, cams[1].R, cams[1].t)]):
        expected = token_rays(cam[0], cam[1], res.crop_affines[v], (16, 16), (16, 16))
        np.testing.assert_allclose(net.rays[0, v].numpy(), expected, atol=1e-6)
    res = est.estimate(images, boxes)  # no cameras: every view alone
    assert not res.fused


def test_real_models_smoke():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (300, 400, 3), dtype=np.uint8) for _ in range(2)]
    est = PoseModelRunner(preset_model("ppt_s"), "auto", num_threads=1)
    res = est.estimate(images, np.array([[50, 20, 100, 200], [0, 0, 400, 300]]))
    assert res.keypoints.shape == (2, 17, 2) and np.isfinite(res.keypoints).all()
    assert [k.shape for k in res.kept_tokens] == [(2, 180), (2, 126), (2, 89)]
    assert [s.shape for s in res.token_scores] == [(2, 180), (2, 126), (2, 89)]
    assert res.stage_layers == [3, 6, 9] and res.grid_shape == (16, 16) and res.token_stride == (16, 12)
    assert res.crop_affines.shape == (2, 2, 3) and res.input_size == (256, 192)
    assert set(res.timings) == {"preprocess_ms", "forward_ms", "decode_ms", "total_ms"}
    corners = res.token_corners(0)
    assert corners.shape == (2, 180, 4, 2)

    mv = PoseModelRunner(preset_model("multiview_ppt_s"), "cpu", keep_ratio=1.0, return_heatmaps=True)
    K = np.array([[500.0, 0, 200], [0, 500, 150], [0, 0, 1]])
    res = mv.estimate(images, cameras=[(K, np.eye(3), np.zeros(3))] * 2)
    assert res.fused and res.kept_tokens == [] and res.heatmaps.shape == (2, 17, 64, 64)


def test_token_corners_are_token_boundaries():
    est = PoseModelRunner(preset_model("ppt_s"), "cpu", optimize=False)
    est._forward = _BlobNet(est.config, True, False)
    res = est.estimate([_blob_image(100, 100)], np.array([[50, 50, 120, 160]]))
    res.kept_tokens = [np.array([[0, 17]])]
    corners = res.token_corners(0)
    crop = np.einsum("ij,vknj->vkni", res.crop_affines[0, :, :2], corners) + res.crop_affines[0, :, 2]
    np.testing.assert_allclose(crop[0, 0], [[-0.5, -0.5], [11.5, -0.5], [11.5, 15.5], [-0.5, 15.5]], atol=1e-9)
    np.testing.assert_allclose(crop[0, 1, 0], [12 - 0.5, 16 - 0.5], atol=1e-9)


def test_nan_box_falls_back_to_the_full_frame():
    est = PoseModelRunner(preset_model("ppt_s"), "cpu", optimize=False)
    est._forward = _BlobNet(est.config, True, False)
    img = _blob_image(100, 100)
    res = est.estimate([img], np.array([[np.nan, 0, 0, 0]]))
    c, s = box_to_center_scale(np.array([[0, 0, 640, 480]]), 0.75, 1.25, "unbiased")
    np.testing.assert_allclose(res.crop_affines[0], crop_affine(c[0], s[0], (256, 192)))


def test_bad_input_is_named():
    single = PoseModelRunner(preset_model("ppt_s"), "cpu", optimize=False)
    multi = PoseModelRunner(preset_model("multiview_ppt_s"), "cpu", optimize=False)
    img = np.zeros((100, 120, 3), np.uint8)
    K = np.eye(3)
    with pytest.raises(ValueError, match="uint8"):
        single.estimate([img.astype(np.float32)])
    with pytest.raises(ValueError, match="HxWx3"):
        single.estimate([np.zeros((100, 120), np.uint8)])
    with pytest.raises(ValueError, match="one array"):
        single.estimate(img)
    with pytest.raises(ValueError, match=r"boxes of shape \(2, 4\)"):
        single.estimate([img, img], np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2 views but 1 cameras"):
        multi.estimate([img, img], cameras=[(K, K, np.zeros(3))])
    with pytest.raises(ValueError, match=r"camera 0: expected K \(3, 3\)"):
        multi.estimate([img], cameras=[(np.eye(2), K, np.zeros(3))])
    with pytest.raises(ValueError, match="multi-view model"):
        single.estimate([img], fuse=True)
    with pytest.raises(ValueError, match="needs cameras"):
        multi.estimate([img], fuse=True)
    with pytest.raises(ValueError, match="PoseModel"):
        PoseModelRunner(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            PoseModelRunner(preset_model("ppt_s"), "cuda")
