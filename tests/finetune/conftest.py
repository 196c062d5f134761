"""Fixtures: a small rendered studio session with a teacher result set made from its ground truth, and a tiny
multi-view model saved as our weights file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.estimators.base import Estimator
from core.geometry.skeletons import COCO17
from core.records import Poses2D
from core.studio.body import COCO_INDEX

FRAMES = 30


class TruthTeacher(Estimator):
    """A teacher made from a studio session's ground truth: COCO-17 2D with Gaussian noise, one view that is
    wrong for some joints (an outlier to reject) and one view where the teacher sees nobody in some frames."""

    name = "truth-teacher"
    skeleton = COCO17
    description = "studio ground truth + noise (test teacher)"

    def __init__(self, truth, noise_px: float = 1.5, outlier: tuple = (1, 20.0), blind: tuple = (2, range(0, 6)),
                 nobody: bool = False, seed: int = 0) -> None:
        self.truth, self.noise_px, self.outlier, self.blind, self.nobody = truth, noise_px, outlier, blind, nobody
        self.rng = np.random.default_rng(seed)

    def estimate(self, frame_set, rig) -> Poses2D:
        t = frame_set.index
        kp = self.truth.joints_2d[t][:, COCO_INDEX].astype(np.float64).copy()  # (C, 17, 2)
        kp += self.rng.normal(0, self.noise_px, kp.shape)
        conf = np.full(kp.shape[:2], 0.9)
        view, shift = self.outlier
        if view is not None:  # the wrists of one view are far off
            kp[view, 9:11] += shift * 5
        view, frames = self.blind
        if view is not None and t in frames:
            kp[view] = np.nan
            conf[view] = 0.0
        if self.nobody:
            kp[:] = np.nan
            conf[:] = 0.0
        return Poses2D(rig.names, kp, conf, COCO17, frame_index=t)


@pytest.fixture(scope="session")
def studio_take(tmp_path_factory):
    """A 4-camera studio session (640x480, 30 frames) with ground truth; copy it before changing it."""
    from core.studio.recording import render_session
    from core.studio.studio import make_studio

    out = tmp_path_factory.mktemp("finetune") / "take"
    studio = make_studio("ring4", motion="walk", seed=3, size=(640, 480), backdrop_downscale=4)
    render_session(studio, out, FRAMES)
    return out


def add_teacher(session_path, name: str = "teacher", **options) -> str:
    """Write the TruthTeacher's 2D as result set ``name`` of the session."""
    from core.processing import PipelineSettings, reprocess_session
    from core.session.replay import Session

    session = Session(session_path)
    teacher = TruthTeacher(session.reader.ground_truth(), **options)
    reprocess_session(session, teacher, PipelineSettings(mode="offline", filter=None), name=name, overwrite=True,
                      progress=False)
    return name


@pytest.fixture
def take(studio_take, tmp_path):
    """A fresh copy of the studio take with the teacher result set ``teacher``."""
    import shutil

    path = tmp_path / "take"
    shutil.copytree(studio_take, path)
    add_teacher(path)
    return path


def tiny_config():
    from core.model import get_config

    return get_config("multiview_ppt_s").replace(image_size=(64, 64), patch_size=(2, 2), dim=32, depth=3, heads=2,
                                                 pruning_layers=(1,), fusion_layers=1)


@pytest.fixture
def tiny_weights(tmp_path):
    """A randomly initialised tiny multi-view model saved as our self-describing weights file."""
    import dataclasses

    from core.model import build_model

    torch.manual_seed(0)
    cfg = tiny_config()
    model = build_model(cfg)
    path = tmp_path / "tiny.pth"
    torch.save({"state_dict": model.state_dict(), "model_config": dataclasses.asdict(cfg),
                "meta": {"epoch": 0, "lineage": []}}, path)
    return path
