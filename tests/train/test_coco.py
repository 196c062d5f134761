import cv2
import numpy as np
import pytest

from core.inference.decode import decode_argmax
from core.train.coco import CocoKeypoints
from core.train.targets import rounded_gaussian_targets, unbiased_gaussian_targets
from tests.conftest import shared_path


def test_targets_peak_where_the_joint_is():
    heat, w = unbiased_gaussian_targets(np.array([[10.3, 20.7], [100, 100]]), np.array([1, 1]), (64, 48))
    assert heat.shape == (2, 64, 48) and w.tolist() == [1, 0]
    assert np.unravel_index(heat[0].argmax(), heat[0].shape) == (21, 10)
    heat, w = rounded_gaussian_targets(np.array([[10.6, 5.2], [-20, 5]]), np.array([1, 1]), (64, 64))
    assert heat[0, 5, 11] == 1.0 and w.tolist() == [1, 0] and heat[1].max() == 0


def test_coco_crops_and_targets_land_on_the_people(tmp_path):
    ds = CocoKeypoints(shared_path("poses", "coco", "test_coco.json"))
    assert len(ds) > 5
    for i in range(len(ds)):
        s = ds.sample(i)
        assert s["crop"].shape == (256, 192, 3)
        vis = s["visible"] > 0
        # Decoded target peaks (heatmap px x4) agree with the keypoints mapped into the crop.
        coords, _ = decode_argmax(s["heatmap"][None])
        inside = vis & (s["weight"] > 0)
        err = np.linalg.norm(coords[0][inside] * 4 - s["joints"][inside], axis=1)
        assert np.all(err < 4.0)
    # Draw one for a person to look at.
    s = ds.sample(0)
    img = s["crop"].copy()
    for (x, y), v in zip(s["joints"], s["visible"]):
        if v:
            cv2.circle(img, (int(x), int(y)), 3, (0, 255, 0), -1)
    cv2.imwrite(str(tmp_path / "coco_crop.png"), img)


def test_coco_augmentation_is_deterministic_by_seed_and_flips_pairs():
    ds = CocoKeypoints(shared_path("poses", "coco", "test_coco.json"), train=True)
    a = ds.sample(0, np.random.default_rng(5))
    b = ds.sample(0, np.random.default_rng(5))
    np.testing.assert_array_equal(a["crop"], b["crop"])
    item = ds[1]
    assert item["image"].shape == (3, 256, 192) and item["heatmap"].shape == (17, 64, 48)


def test_coco_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        CocoKeypoints(tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"images": []}')
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        CocoKeypoints(tmp_path / "x.json")
