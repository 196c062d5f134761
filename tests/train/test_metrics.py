import json

import numpy as np
import pytest

from core.train.metrics import coco_keypoint_ap, joint_detection_rate, mpjpe, pa_mpjpe, pck, procrustes_align
from tests.conftest import shared_path


def test_jdr_threshold_and_per_joint():
    gt = np.zeros((4, 2, 2))
    pred = gt.copy()
    pred[:, 0, 0] = [1, 12.8, 13, np.nan]
    rate, per_joint = joint_detection_rate(pred, gt)
    np.testing.assert_allclose(per_joint, [0.5, 1.0])
    assert rate == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same shape"):
        joint_detection_rate(np.zeros((4, 2, 2)), np.zeros((4, 3, 2)))


def test_pck_with_per_sample_threshold():
    gt = np.zeros((2, 3, 2))
    pred = gt + [[[1, 0]], [[3, 0]]]
    assert pck(pred, gt, np.array([2.0, 2.0])) == pytest.approx(0.5)


def test_mpjpe_and_pa_mpjpe():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3)) * 300
    assert mpjpe(gt, gt)[0] == 0
    theta = 0.4
    R = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    moved = gt @ R.T * 1.3 + [100, -50, 20]
    assert mpjpe(moved, gt)[0] > 100
    assert pa_mpjpe(moved, gt) < 1e-9
    np.testing.assert_allclose(procrustes_align(moved, gt), gt, atol=1e-9)
    noisy = gt + rng.normal(0, 10, gt.shape)
    assert 10 < mpjpe(noisy, gt)[0] < 20
    pred = gt.copy()
    pred[0, 0] = np.nan
    value, per_joint = mpjpe(pred, gt)
    assert value == 0 and per_joint[0] == 0


def test_coco_ap_ground_truth_as_prediction_is_one(tmp_path):
    ann_file = shared_path("poses", "coco", "test_coco.json")
    ann = json.loads(ann_file.read_text())
    results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in ann["annotations"] if a["num_keypoints"] > 0]
    res = coco_keypoint_ap(ann_file, results)
    assert res.ap == pytest.approx(1.0)
    shifted = [dict(r, keypoints=[v + (15 if i % 3 < 2 else 0) for i, v in enumerate(r["keypoints"])])
               for r in results]
    assert coco_keypoint_ap(ann_file, shifted).ap < 0.9
    with pytest.raises(ValueError, match="no keypoint results"):
        coco_keypoint_ap(ann_file, [])
