"""The shipped demo weights (assets/weights/multiview_ppt_demo.pth): size, dtype, loading, a forward pass."""

import math

import numpy as np
import pytest
import torch

import core.inference.weights as demo
from core.inference.weights import DEMO_WEIGHTS, load_demo_estimator, read_weights_file


def test_demo_weights_file_is_small_fp16_and_self_describing():
    assert DEMO_WEIGHTS.exists(), f"demo weights missing: {DEMO_WEIGHTS}"
    assert DEMO_WEIGHTS.stat().st_size <= 20 * 2**20
    cfg, data = read_weights_file(DEMO_WEIGHTS)
    assert cfg.is_multiview and cfg.fusion_layers == 2 and cfg.pruning_layers and cfg.keep_ratio == 0.7
    assert cfg.num_keypoints == 17 and cfg.num_patches == cfg.grid_size[0] * cfg.grid_size[1] >= 64
    assert all(v.dtype == torch.float16 for v in data["state_dict"].values() if v.is_floating_point())
    assert data["meta"]["dtype"] == "float16" and data["meta"]["epoch"] >= 1


def test_demo_estimator_runs_on_four_views():
    est = load_demo_estimator(device="cpu", num_threads=1)
    assert est.multiview
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    K = np.array([[150.0, 0, 80], [0, 150, 60], [0, 0, 1]])
    cams = []
    for a in np.linspace(0, 2 * np.pi, 4, endpoint=False):
        c, s = np.cos(a), np.sin(a)
        R = np.array([[s, -c, 0], [0, 0, -1], [c, s, 0]])  # looking at the origin from a ring
        cams.append((K, R, -R @ np.array([-3 * c, -3 * s, 1.0])))
    res = est.estimate(images, cameras=cams, fuse=True)
    assert res.fused and res.keypoints.shape == (4, 17, 2) and np.isfinite(res.keypoints).all()
    # The shipped stage-1 weights never trained their fusion layers: by default each view runs alone.
    _, data = read_weights_file(DEMO_WEIGHTS)
    assert est.fuse is data["meta"]["fusion_trained"]
    assert est.estimate(images, cameras=cams).fused is data["meta"]["fusion_trained"]
    n, expected = est.config.num_patches, []
    for _ in est.config.pruning_layers:  # ceil(0.7 n) per stage (256 -> 180 -> 126 -> 89, 64 -> 45 -> 32 -> 23)
        n = math.ceil(0.7 * n)
        expected.append(n)
    assert [k.shape[1] for k in res.kept_tokens] == expected


def test_missing_demo_weights_name_the_file(tmp_path, monkeypatch):
    missing = tmp_path / "assets" / "weights" / "multiview_ppt_demo.pth"
    monkeypatch.setattr(demo, "DEMO_WEIGHTS", missing)
    with pytest.raises(FileNotFoundError, match=r"demo weights not found: .*multiview_ppt_demo\.pth"):
        demo.load_demo_estimator()


def test_shipped_weights_meet_issue_12s_targets_on_an_unseen_session(tmp_path):
    """The shipped weights see the person (issue 12): on a studio session rendered with a seed training never saw,
    views fused as they run by default, the median 2D error is under a third of the session's mean-pose baseline,
    JDR >= 90 % and MPJPE <= 50 mm (measured 2026-12-04: 0.17x, 99 %, 23 mm; the stage-1 weights 0.81x, 53 %,
    219 mm; the three-session figures are in the model card)."""
    from app.cli import main
    from core.train.evaluate import evaluate_session
    from core.train.progress import session_mean_pose_baseline

    session = tmp_path / "heldout"
    assert main(["studio", "render", "--preset", "ring4", "--motion", "reach", "--frames", "30", "--seed", "7013",
                 "--out", str(session), "--no-progress"]) == 0
    est = load_demo_estimator(device="cpu", num_threads=1)
    result = evaluate_session(est, session, "all", stride=6)  # 5 frame sets x 4 views, fused
    baseline = session_mean_pose_baseline(session, stride=6)
    assert result.overall["error_2d_px_median"] < baseline["median_px"] / 3, (result.overall, baseline)
    assert result.overall["jdr"] >= 0.9, (result.overall, baseline)
    assert result.overall["mpjpe_mm"] <= 50.0, result.overall


def test_fusion_default_follows_the_weights_metadata(tmp_path):
    """Weights whose meta says fusion was trained fuse by default; single-view-stage weights do not."""
    _, data = read_weights_file(DEMO_WEIGHTS)
    for trained in (True, False):
        path = tmp_path / f"w_{trained}.pth"
        torch.save({**data, "meta": {**data["meta"], "fusion_trained": trained}}, path)
        assert load_demo_estimator(path, device="cpu", num_threads=1).fuse is trained
        assert load_demo_estimator(path, device="cpu", num_threads=1, fuse=True).fuse is True
