import dataclasses

import pytest
import torch

from core.estimators.ppt import create_demo_estimator
from core.inference.weights import demo_model_config


def test_random_fallback_is_labelled(tmp_path, monkeypatch):
    monkeypatch.setattr("core.estimators.ppt.DEMO_WEIGHTS", tmp_path / "absent.pth")
    est = create_demo_estimator(num_threads=1, device="cpu")
    assert "RANDOM INITIALISATION" in est.description and est.settings()["random_init"]
    assert est.config.image_size == demo_model_config().image_size
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        create_demo_estimator(allow_random=False)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        create_demo_estimator(tmp_path / "nope.pth")


def test_self_describing_weights_and_foreign_files(tmp_path):
    from core.model import build_model

    cfg = demo_model_config()
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": build_model(cfg).state_dict(), "model_config": dataclasses.asdict(cfg)}, path)
    est = create_demo_estimator(path, num_threads=1, device="cpu")
    assert "mine.pth" in est.description and not est.settings()["random_init"]
    assert est.settings()["preset"] == cfg.name  # JSON-friendly name, not the config object
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pth"):
        create_demo_estimator(junk)


def test_weights_trained_on_single_views_run_unfused(tmp_path):
    """A single-view stage's weights (meta fusion_trained false) run each view alone unless told otherwise."""
    from core.model import build_model

    cfg = demo_model_config()
    path = tmp_path / "stage1.pth"
    torch.save({"state_dict": build_model(cfg).state_dict(), "model_config": dataclasses.asdict(cfg),
                "meta": {"fusion_trained": False}}, path)
    assert not create_demo_estimator(path, num_threads=1, device="cpu").fuse
    assert create_demo_estimator(path, num_threads=1, device="cpu", fuse=True).fuse
    fused = tmp_path / "stage2.pth"
    torch.save({"state_dict": build_model(cfg).state_dict(), "model_config": dataclasses.asdict(cfg),
                "meta": {"fusion_trained": True}}, fused)
    assert create_demo_estimator(fused, num_threads=1, device="cpu").fuse
