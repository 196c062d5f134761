"""``ppt-mocap evaluate`` and core.train.evaluate on a tiny rendered studio session; weights export/loading."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from app.cli import main
from core.model import build_model, get_config
from core.train.evaluate import evaluate_session, format_table, gt_boxes
from core.train.export import export_weights

# A tiny multi-view PPT (same layout as the demo model, smaller): 64x64 input, 16x16 token grid.
TINY_MV = dict(image_size=(64, 64), patch_size=(1, 1), dim=32, depth=4, heads=4, pruning_layers=(1,),
               fusion_layers=2)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "take"
    assert main(["studio", "render", "--preset", "ring4", "--motion", "squat", "--frames", "3", "--seed", "11",
                 "--size", "320x240", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    cfg = get_config("multiview_ppt_s").replace(**TINY_MV)
    torch.manual_seed(0)
    model = build_model(cfg)
    torch.save({"state_dict": model.state_dict(), "model_config": asdict(cfg), "epoch": 3, "metrics": {"x": 1.0}},
               folder / "last.pth")
    return export_weights(folder / "last.pth", folder / "tiny.pth", meta={"note": "test"}), model


class OracleEstimator:
    """Returns the session's ground-truth 2D (checks the protocol: JDR 1, triangulation ~exact)."""

    keep_ratio = 0.7
    config = get_config("multiview_ppt_s")

    def __init__(self, session):
        from core.session.folder import SessionReader

        truth = SessionReader(session).ground_truth()
        self.gt = truth.joints_2d[:, :, :17]
        self.calls = 0

    def estimate(self, images, boxes=None, cameras=None, fuse=None):
        from types import SimpleNamespace

        kp = self.gt[self.calls]
        assert boxes.shape == (len(images), 4) and np.isfinite(boxes).all()
        self.calls += 1
        return SimpleNamespace(keypoints=kp, confidence=np.ones(kp.shape[:2]), timings={"forward_ms": 1.0})


def test_gt_boxes_span_the_joints():
    pts = np.array([[[10.0, 20.0], [30.0, 60.0], [np.nan, np.nan]]])
    np.testing.assert_allclose(gt_boxes(pts), [[10, 20, 20, 40]])
    assert np.isnan(gt_boxes(np.full((1, 3, 2), np.nan))).all()


def test_ground_truth_as_prediction_is_perfect(session):
    res = evaluate_session(OracleEstimator(session), session, "all")
    o = res.overall
    assert res.frames == 3 and res.views == 4 and res.threshold_px == 12.8
    assert o["jdr"] == 1.0 and o["pck@0.05"] == 1.0 and o["error_2d_px_mean"] < 1e-9
    assert o["mpjpe_mm"] < 1.0 and o["pa_mpjpe_mm"] < 1.0  # triangulating exact (distorted) projections
    assert o["n_visible_2d"] + o.get("n_occluded_2d", 0) == 3 * 4 * 17
    assert len(res.per_joint["jdr"]) == 17 and len(res.per_joint["mpjpe_mm"]) == 17
    assert "right_wrist" in format_table(res)


def test_model_evaluation_fused_and_single_view(session, tiny_weights):
    from core.inference.weights import load_demo_estimator

    path, _ = tiny_weights
    est = load_demo_estimator(path, device="cpu", num_threads=1)
    fused = evaluate_session(est, session, "all", max_frames=2)
    single = evaluate_session(est, session, "1", max_frames=2)
    assert fused.mode == "multi-view fused" and single.mode == "single-view" and fused.frames == 2
    for r in (fused, single):
        assert 0 <= r.overall["jdr"] <= 1 and np.isfinite(r.overall["mpjpe_mm"])
    # Fusion changes the result (the views see each other); a random model is far from the truth.
    assert fused.overall["error_2d_px_mean"] != single.overall["error_2d_px_mean"]


def test_cli_json_and_table(session, tiny_weights, capsys):
    path, _ = tiny_weights
    assert main(["evaluate", "--weights", str(path), "--session", str(session), "--max-frames", "1", "--json",
                 "--threads", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["views"] == 4 and data["frames"] == 1 and data["keep_ratio"] == 0.7 and "mpjpe_mm" in data["overall"]
    assert data["mean_pose_baseline"]["crops"] == 4  # the baseline over the same frame set's 4 crops
    assert main(["evaluate", "--weights", str(path), "--session", str(session), "--max-frames", "1", "--views", "1",
                 "--keep-ratio", "1.0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "single-view, keep ratio 1.0" in out and "JDR (<= 12.8 px)" in out and "pelvis" in out
    assert "mean-pose baseline" in out and "x the baseline's" in out


def test_cli_bad_input(session, tiny_weights, tmp_path, capsys):
    path, _ = tiny_weights
    assert main(["evaluate", "--weights", str(tmp_path / "nope.pth"), "--session", str(session)]) == 2
    assert "weights file not found" in capsys.readouterr().err
    assert main(["evaluate", "--weights", str(path), "--session", str(tmp_path / "nowhere")]) == 2
    assert "session folder not found" in capsys.readouterr().err
    assert main(["evaluate", "--weights", str(path), "--session", str(session), "--keep-ratio", "0"]) == 2
    assert "--keep-ratio" in capsys.readouterr().err
    # An official-style bare state dict is not a self-describing weights file.
    bare = tmp_path / "bare.pth"
    torch.save(build_model(get_config("multiview_ppt_s").replace(**TINY_MV)).state_dict(), bare)
    assert main(["evaluate", "--weights", str(bare), "--session", str(session)]) == 2
    assert "expected a ppt-mocap weights file" in capsys.readouterr().err
    # A single-view model cannot be evaluated with fusion.
    sv = get_config("ppt_s").replace(image_size=(64, 48), dim=32, depth=2, heads=4, pruning_layers=(0,))
    torch.save({"state_dict": build_model(sv).state_dict(), "model_config": asdict(sv)}, tmp_path / "sv.pth")
    assert main(["evaluate", "--weights", str(tmp_path / "sv.pth"), "--session", str(session)]) == 2
    assert "needs a multi-view model" in capsys.readouterr().err


def test_session_without_ground_truth(session, tiny_weights, tmp_path):
    import shutil

    from core.inference.weights import load_demo_estimator

    copy = tmp_path / "no_truth"
    shutil.copytree(session, copy)
    (copy / "ground_truth.npz").unlink()
    est = load_demo_estimator(tiny_weights[0], device="cpu", num_threads=1)
    with pytest.raises(ValueError, match="has no ground truth"):
        evaluate_session(est, copy)
    with pytest.raises(ValueError, match="views must be 'all' or '1'"):
        evaluate_session(est, session, "2")


def test_export_is_fp16_and_loads_back(tiny_weights):
    from core.inference.weights import load_weights, read_weights_file

    path, model = tiny_weights
    cfg, data = read_weights_file(path)
    assert cfg == model.config and data["meta"]["epoch"] == 3 and data["meta"]["note"] == "test"
    assert all(v.dtype == torch.float16 for v in data["state_dict"].values() if v.is_floating_point())
    loaded = load_weights(path)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.to(torch.float16).to(v.dtype), rtol=0, atol=0)
    # Weights of another architecture than the one asked for: a clear error naming the differences.
    with pytest.raises(ValueError, match=r"different architecture than 'multiview_ppt_s'.*dim 32 \(file\) vs 192"):
        load_weights(path, expect="multiview_ppt_s")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        export_weights(path.parent / "missing.pth", path.parent / "x.pth")


def test_dataset_paths_without_annotations(tmp_path):
    from core.train.datasets import build_dataset

    cfg = get_config("ppt_s")
    with pytest.raises(FileNotFoundError, match="COCO annotation file not found"):
        build_dataset({"kind": "coco", "annotation_file": str(tmp_path / "annotations.json"),
                       "image_dir": str(tmp_path)}, cfg)
    with pytest.raises(FileNotFoundError, match="Human3.6M annotation file not found"):
        build_dataset({"kind": "h36m-multi", "records": str(tmp_path / "h36m_train.pkl"),
                       "image_root": str(tmp_path), "cameras": str(tmp_path / "cameras.pkl")},
                      get_config("multiview_ppt_s"))


def test_real_frame_figures_run_on_the_shared_data(tiny_weights, capsys):
    from core.inference.weights import load_demo_estimator
    from core.train.real_eval import eval_coco_people, eval_h36m_frames, eval_pose2sim
    from tests.conftest import shared_path

    est = load_demo_estimator(tiny_weights[0], device="cpu", num_threads=1)
    h36m = eval_h36m_frames(est, shared_path("poses", "h36m"))
    assert h36m["samples"] == 4 and h36m["joints"] == 68 and 0 <= h36m["jdr"] <= 1
    coco = eval_coco_people(est, shared_path("poses", "coco"))
    assert coco["samples"] >= 10 and 0 <= coco["pck@0.2"] <= 1
    p2s = eval_pose2sim(est, shared_path("sessions", "pose2sim_balancing"), stride=50)
    assert set(p2s) == {"single_view", "fused"} and p2s["fused"]["samples"] == 2 * 4
    assert main(["evaluate", "--weights", str(tiny_weights[0]), "--real", "h36m", "--json", "--threads", "1"]) == 0
    assert '"jdr"' in capsys.readouterr().out


class MeanPoseEstimator:
    """Predicts the session's mean pose in every evaluation crop (what a model that has not learned outputs)."""

    keep_ratio = 0.7
    config = get_config("multiview_ppt_s")

    def __init__(self, mean_pose):
        self.mean_pose = mean_pose

    def estimate(self, images, boxes=None, cameras=None, fuse=None):
        from types import SimpleNamespace

        from core.inference.preprocess import invert_affine
        from core.train.progress import crop_affines

        inv = invert_affine(crop_affines(boxes))
        kp = np.einsum("vij,kj->vki", inv[:, :, :2], self.mean_pose) + inv[:, None, :, 2]
        return SimpleNamespace(keypoints=kp, confidence=np.ones(kp.shape[:2]), timings={"forward_ms": 1.0})


def test_mean_pose_baseline_is_what_evaluate_gives_a_mean_pose_model(session):
    from core.train.progress import session_mean_pose, session_mean_pose_baseline

    baseline = session_mean_pose_baseline(session)
    res = evaluate_session(MeanPoseEstimator(session_mean_pose(session)), session, "1")
    assert baseline["crops"] == 3 * 4 and baseline["median_px"] > 1.0
    assert res.overall["error_2d_px_median"] == pytest.approx(baseline["median_px"], rel=1e-6)
    assert res.overall["jdr"] == pytest.approx(baseline["jdr"], rel=1e-6)


def test_evaluation_with_located_boxes(session, tiny_weights, monkeypatch):
    """``--boxes locate``: the localisation stage runs on the frames in order (here with a detector that finds the
    studio's person exactly), views without a box count as misses; bad values are named."""
    from core.inference.weights import load_demo_estimator
    from core.locate.detectors import Detection, PersonDetector
    from core.session.folder import SessionReader

    truth = SessionReader(session).ground_truth()
    names = SessionReader(session).camera_names

    class StudioPeople(PersonDetector):
        name = "studio"

        def detect(self, camera, image):
            b = truth.boxes[0, names.index(camera)]
            return [Detection(np.r_[b[:2], b[2:] - b[:2]], 1.0, self.name)] if np.isfinite(b).all() else []

    monkeypatch.setattr("core.locate.locator.create_detectors", lambda spec: [StudioPeople()])
    est = load_demo_estimator(tiny_weights[0], device="cpu", num_threads=1)
    res = evaluate_session(est, session, "all", boxes="locate")
    assert res.boxes == "locate" and res.frames == 3 and 0 <= res.overall["jdr"] <= 1
    assert "locate boxes" in format_table(res)
    with pytest.raises(ValueError, match="boxes must be 'truth' or 'locate'"):
        evaluate_session(est, session, "all", boxes="full")
