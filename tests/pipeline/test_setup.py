"""The run builders shared by ``ppt-mocap run`` and the app: sources with their calibration, and the 2D backend."""

from __future__ import annotations

import pytest
import torch

from core.estimators import build_backend
from core.geometry import CameraRig
from core.inference.weights import DEMO_WEIGHTS
from core.model import build_model
from core.run_spec import open_sources, parse_source_specs
from tests.conftest import shared_path


def test_studio_setup_has_one_source_per_camera_and_the_studio_rig():
    setup = open_sources(studio="stereo2")
    assert [s.name for s in setup.sources] == list(setup.rig.names)
    assert setup.virtual_rig is not None
    truth = build_backend("studio-truth", setup.rig, virtual_rig=setup.virtual_rig)
    assert truth.name == "studio-truth"


def test_camera_sources_follow_the_calibration():
    base = shared_path("sessions", "pose2sim_balancing")
    calib = base / "calibration.toml"
    rig = CameraRig.load(calib)
    videos = sorted((base / "videos").glob("*.mp4"))
    specs = [f"{name}={video}" for name, video in zip(rig.names, videos)]
    setup = open_sources(sources=specs, calibration=calib, offline=True)
    assert [s.name for s in setup.sources] == list(rig.names)[: len(videos)]
    assert setup.virtual_rig is None
    with pytest.raises(ValueError, match="no camera of that name"):
        open_sources(sources=[f"nosuchcam={videos[0]}"], calibration=calib)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "no sources"),
    ({"studio": "ring4", "sources": ["cam=0"]}, "either"),
    ({"sources": ["cam=0"]}, "calibration file is required"),
    ({"studio": "ring4", "calibration": "/nonexistent/calib.toml"}, "calibration file not found"),
])
def test_bad_setups_name_the_problem(kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        open_sources(**kwargs)


def test_source_specs_need_a_name():
    assert parse_source_specs(["cam_01=0", " cam_02 = rtsp://x "]) == [("cam_01", "0"), ("cam_02", "rtsp://x")]
    with pytest.raises(ValueError, match="expected NAME=DEVICE"):
        parse_source_specs(["0"])


def test_ppt_backend_reads_our_weights_files_and_official_checkpoints(tmp_path):
    if not DEMO_WEIGHTS.exists():
        pytest.skip("demo weights not shipped in this checkout")
    ours = build_backend("ppt", weights=DEMO_WEIGHTS)
    assert "demo" in ours.description and ours.weights_hash
    official = tmp_path / "official.pth"
    model = build_model("multiview_ppt_s")
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, official)
    est = build_backend("ppt", weights=official, preset="multiview_ppt_s")
    assert est.preset == "multiview_ppt_s"
    with pytest.raises(ValueError, match="missing|unexpected|shape"):
        build_backend("ppt", weights=official, preset="ppt_s")


@pytest.mark.parametrize("backend, kwargs, message", [
    ("studio-truth", {}, "virtual studio only"),
    ("openpose-json", {}, "keypoint folder"),
    ("ppt", {"weights": "/nonexistent.pth"}, "weights file not found"),
    ("nosuch", {}, "unknown 2D backend"),
])
def test_bad_backends_name_the_problem(backend, kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        build_backend(backend, **kwargs)
