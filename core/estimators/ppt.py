"""PPT 2D backend: one batched forward over all views of a frame set, through :class:`core.inference.PoseModelRunner`.

Multi-view presets (``multiview_ppt_s``) run the views as one sample with the camera rays of every token (human-area
fusion); single-view presets (``ppt_s``, ...) run the views as a batch. PPT is top-down: each view is cropped around
the person box the localisation stage gives it (:class:`core.locate.PersonLocator`, padding 1.25); a view without a
box (nobody there, or a missing frame) gets no 2D.

Weights: the shipped demo weights (:func:`create_demo_estimator`), any file of ours, an official checkpoint of a
preset, or none: a **random initialisation**, which ``description`` says plainly (meaningless keypoints, the true
cost of the model). This module imports PyTorch; :mod:`core.estimators` imports it only when a PPT backend is built.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from core.estimators.base import Estimator, Stopwatch, check_frame_set
from core.geometry import CameraRig, get_skeleton
from core.inference.runner import PoseModelRunner
from core.inference.weights import DEMO_WEIGHTS, NotAWeightsFileError, Weights, demo_model_config, read_weights
from core.locate.boxes import check_boxes
from core.model import ModelConfig, build_model, load_checkpoint
from core.records import FrameSet, Poses2D

log = logging.getLogger(__name__)


class PPTEstimator(Estimator):
    """Batched (multi-view) PPT on the views of a frame set.

    Args:
        preset: model preset name (``multiview_ppt_s``, ``ppt_s``, ...).
        weights: a weights file (ours, which builds its own architecture, or an official checkpoint of ``preset``)
            or its :class:`core.inference.weights.Weights`; ``None`` for a random initialisation (labelled).
        skeleton: joint set of the model's outputs (default: ``h36m17`` for multi-view presets, else ``coco17``).
        fuse: multi-view fusion on (multi-view presets only); default on, except for weights whose metadata says
            their fusion was never trained (``fusion_trained`` false) or that they run unfused (``fuse`` false,
            fine-tuned weights): each view runs alone.
        keep_ratio: token keep ratio override (``None``: the preset's).
        num_threads: ``torch.set_num_threads`` value (``None`` leaves it); 1 is best beside capture threads on
            2 cores (ENVIRONMENT.md).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        seed: seed of the random initialisation.
    """

    name = "ppt"
    top_down = True

    def __init__(self, preset: str | ModelConfig = "multiview_ppt_s", weights: str | Path | Weights | None = None,
                 skeleton: str | None = None, fuse: bool | None = None, keep_ratio: float | None = None,
                 num_threads: int | None = None, device: str | None = "auto", seed: int = 0) -> None:
        import torch

        if weights is not None and not isinstance(weights, Weights):
            weights = read_weights(weights)  # the one read of the file
        if weights is not None and weights.ours:
            preset = weights.config  # a self-describing file builds its own architecture
        torch.manual_seed(seed)
        model = build_model(preset, init=weights is None).eval()
        self.preset = model.config.name
        self.weights = weights.path if weights is not None else None
        if weights is not None:
            load_checkpoint(model, weights.state_dict)  # strict: a foreign architecture names what differs
            self.weights_hash = weights.sha256
            self.description = f"{self.preset} with weights {weights.path.name} (sha256 {weights.sha256})"
            if fuse is None and not weights.runs_fused:
                log.info("%s: %s: running each view alone", weights.path.name,
                         "its metadata says it runs unfused" if weights.fusion_trained else
                         "trained on single views only (its fusion layers never saw several views)")
                fuse = False
        else:
            self.weights_hash = None
            self.description = (f"{self.preset} with RANDOM INITIALISATION (no weights given): keypoints are "
                                f"meaningless, speed is real")
            log.warning("PPT backend: %s", self.description)
        self.config = model.config
        self.multiview = self.config.is_multiview
        self.fuse = (True if fuse is None else bool(fuse)) and self.multiview
        self.keep_ratio = keep_ratio
        self.runtime = PoseModelRunner(model, device=device, keep_ratio=keep_ratio, num_threads=num_threads)
        self.skeleton = get_skeleton(skeleton or ("h36m17" if self.multiview else "coco17"))
        if self.skeleton.num_joints != self.config.num_keypoints:
            raise ValueError(f"skeleton {self.skeleton.name} has {self.skeleton.num_joints} joints but model "
                             f"{self.preset} outputs {self.config.num_keypoints}")

    def settings(self) -> dict:
        return {"backend": self.name, "preset": self.preset, "weights": str(self.weights) if self.weights else None,
                "weights_sha256": self.weights_hash, "random_init": self.weights is None, "fuse": self.fuse,
                "keep_ratio": self.keep_ratio if self.keep_ratio is not None else self.config.keep_ratio,
                "pruning_layers": list(self.config.pruning_layers), "skeleton": self.skeleton.name,
                "description": self.description}

    def estimate(self, frame_set: FrameSet, rig: CameraRig, boxes: np.ndarray | None = None) -> Poses2D:
        """2D keypoints of the person in ``boxes`` ``(C, 4)`` (xywh px per rig camera, NaN row = no box): only the
        views with a frame and a box are cropped and run; the others get NaN keypoints and zero confidence."""

        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        if boxes is None:
            raise ValueError("the PPT backend is top-down: it needs a person box per camera, boxes of shape "
                             f"({C}, 4) (x, y, w, h; NaN = nobody), e.g. from core.locate.PersonLocator")
        boxes = check_boxes(boxes, C, "PPT boxes")
        present = [c for c, name in enumerate(rig.names)
                   if name in frame_set.frames and np.isfinite(boxes[c]).all() and (boxes[c, 2:] > 0).all()]
        if not present:
            return dataclasses.replace(Poses2D.empty(rig.names, self.skeleton, frame_set.index), boxes=boxes)
        sw = Stopwatch()
        images = [frame_set.frames[rig.names[c]].image for c in present]
        cams = [rig.cameras[c] for c in present] if self.fuse else None
        res = self.runtime.estimate(images, boxes=boxes[present], cameras=cams,
                                    fuse=self.fuse if self.multiview else None)
        with sw("scatter"):
            kp = np.full((C, J, 2), np.nan)
            conf = np.zeros((C, J))
            to_image = np.zeros((C, 2, 3))
            kp[present] = res.keypoints
            conf[present] = np.clip(res.confidence, 0.0, 1.0)
            for i, c in enumerate(present):
                M = np.vstack([res.crop_affines[i], [0, 0, 1]])
                to_image[c] = np.linalg.inv(M)[:2]
            kept = []
            for k in res.kept_tokens:
                full = np.full((C, k.shape[-1]), -1, dtype=np.int32)
                full[present] = k.reshape(len(present), -1)
                kept.append(full)
        timings = {k.removesuffix("_ms"): v for k, v in res.timings.items()}
        timings.update(sw.timings)
        return Poses2D(rig.names, kp, conf, self.skeleton, kept_tokens=kept, token_grid=tuple(res.grid_shape),
                       token_stride=tuple(res.token_stride), token_to_image=to_image, timings=timings,
                       frame_index=frame_set.index, boxes=boxes)


def create_demo_estimator(weights=None, allow_random: bool = True, **options) -> PPTEstimator:
    """PPT on the demo weights (or another file of ours, ``weights``).

    With no file at the default location and ``allow_random``, the demo architecture
    (:func:`core.inference.weights.demo_model_config`) is randomly initialised and its ``description`` says so
    (keypoints are meaningless, the cost is real). A given ``weights`` path that does not exist raises
    ``FileNotFoundError``; a file that is not ours raises :class:`core.inference.weights.NotAWeightsFileError`.
    Options go to :class:`PPTEstimator` (``num_threads``, ``device``, ``keep_ratio``, ``fuse``...).
    """
    path = Path(weights) if weights is not None else DEMO_WEIGHTS
    if path.exists():
        loaded = read_weights(path)
        if not loaded.ours:
            raise NotAWeightsFileError(f"{path}: expected a ppt-mocap weights file with 'state_dict' and "
                                       "'model_config' (an official checkpoint runs with --backend ppt --preset)")
        est = PPTEstimator(weights=loaded, **options)
        est.description = f"demo multi-view PPT, weights {path.name} (sha256 {est.weights_hash})"
        return est
    if weights is not None or not allow_random:
        raise FileNotFoundError(f"weights file not found: {path}")
    est = PPTEstimator(preset=demo_model_config(), weights=None, **options)
    est.description = (f"RANDOM INITIALISATION of the demo model (demo weights not found at {path}): "
                       "keypoints are meaningless, speed is real")
    return est
