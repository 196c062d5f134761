import numpy as np
import pytest
import torch

from core.geometry.camera import Camera
from core.inference.preprocess import apply_affine, invert_affine, token_centers
from core.train.datasets import build_dataset
from core.train.studio_crops import StudioMultiView, StudioSingleView


@pytest.fixture(scope="module")
def single():
    return StudioSingleView(8, image_size=(128, 96), seed=0, train=True, render_size=(320, 240))


@pytest.fixture(scope="module")
def multi():
    return StudioMultiView(4, views=3, image_size=(128, 128), seed=0, render_size=(320, 240), reuse=2)


def test_single_view_sample(single):
    item = single[1]
    assert item["image"].shape == (3, 128, 96) and item["image"].dtype == torch.float32
    assert item["heatmap"].shape == (17, 32, 24) and item["weight"].shape == (17,)
    s = single.sample(1)
    assert s["crop"].shape == (128, 96, 3)
    # Each weighted heatmap peaks at its joint (heatmap px = joint through the heatmap affine, ~crop px / 4).
    for j in np.nonzero(s["weight"])[0]:
        y, x = np.unravel_index(np.argmax(s["heatmap"][j]), s["heatmap"][j].shape)
        hx, hy = s["joints"][j] * (23 / 95, 31 / 127)
        assert abs(x - hx) <= 1.0 and abs(y - hy) <= 1.0
    np.testing.assert_array_equal(single.sample(1)["crop"], s["crop"])  # deterministic


def test_multi_view_sample_targets_and_rays(multi):
    item = multi[0]
    assert item["image"].shape == (3, 3, 128, 128)
    assert item["heatmap"].shape == (3, 17, 32, 32) and item["weight"].shape == (3, 17)
    assert item["rays"].shape == (3, 64, 3)
    s = multi.sample(0)
    uv = token_centers((8, 8), (16, 16))
    assert uv[0].tolist() == [7.5, 7.5] and uv[9].tolist() == [23.5, 23.5]
    for v in range(3):
        cam = Camera(name="c", size=(320, 240), K=s["K"][v], dist=s["dist"][v], R=s["R"][v], t=s["t"][v])
        px = apply_affine(invert_affine(s["affine"][v]), uv)
        np.testing.assert_allclose(s["rays"][v], cam.rays(px), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(s["rays"][v], axis=1), 1.0, atol=1e-6)
        # The ray of the token under the pelvis points at the 3D pelvis (within the token's footprint).
        pelvis_px = s["joints_crop"][v][0]
        k = int(pelvis_px[1] // 16) * 8 + int(pelvis_px[0] // 16)
        to_pelvis = s["joints_3d"][0] - cam.center
        cos = s["rays"][v][k] @ to_pelvis / np.linalg.norm(to_pelvis)
        assert cos > np.cos(np.radians(6))
        # HRNet targets: rounded centre.
        for j in np.nonzero(s["weight"][v])[0]:
            y, x = np.unravel_index(np.argmax(s["heatmap"][v, j]), (32, 32))
            assert (x, y) == (int(s["joints_crop"][v, j, 0] / 4 + 0.5), int(s["joints_crop"][v, j, 1] / 4 + 0.5))


def test_registry_builds_both_kinds():
    from core.model.config import get_config

    cfg = get_config("multiview_ppt_s").replace(image_size=(64, 64))
    ds = build_dataset({"kind": "studio-multi", "length": 2, "seed": 3, "render_size": (160, 120)}, cfg)
    assert ds[0]["rays"].shape == (4, 16, 3)
    cfg1 = get_config("ppt_s").replace(image_size=(64, 48))
    ds1 = build_dataset({"kind": "studio-single", "length": 2, "render_size": (160, 120)}, cfg1)
    assert ds1[0]["heatmap"].shape == (17, 16, 12)


def test_bad_input():
    with pytest.raises(ValueError, match="length"):
        StudioSingleView(0)
    with pytest.raises(ValueError, match="motion"):
        StudioSingleView(4, motion="dance")
    with pytest.raises(ValueError, match="rig"):
        StudioMultiView(4, rig="ring5")
    with pytest.raises(IndexError):
        StudioSingleView(2, render_size=(64, 48)).sample(5)


def test_samples_do_not_depend_on_access_order():
    a = StudioSingleView(12, image_size=(64, 48), seed=7, render_size=(160, 120))
    b = StudioSingleView(12, image_size=(64, 48), seed=7, render_size=(160, 120))
    for i in (0, 3, 9):
        b.sample(i)
    np.testing.assert_array_equal(a.sample(5)["crop"], b.sample(5)["crop"])
    np.testing.assert_array_equal(a.sample(5)["heatmap"], b.sample(5)["heatmap"])
