"""PPT 2D backend: one batched forward over all views of a frame set, through :class:`core.inference.PoseEstimator2D`.

Multi-view presets (``multiview_ppt_s``) run the views as one sample with the camera rays of every token (human-area
fusion); single-view presets (``ppt_s``, ...) run the views as a batch. PPT is top-down: each view is cropped around
the person box the localisation stage gives it (:class:`core.locate.PersonLocator`, padding 1.25); a view without a
box (nobody there, or a missing frame) gets no 2D.

Until the demo weights exist (a later issue trains them) the model runs with whatever weights file is given or a
**random initialisation**, which ``description`` says plainly: random weights give meaningless keypoints but the
true cost of the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np

from core.estimators.base import Estimator, Stopwatch, check_frame_set
from core.geometry import CameraRig, get_skeleton
from core.records import FrameSet, Poses2D

log = logging.getLogger(__name__)


def file_sha256(path, length: int = 16) -> str:
    """Hex SHA-256 of a file (first ``length`` characters)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


class PPTEstimator(Estimator):
    """Batched (multi-view) PPT on the views of a frame set.

    Args:
        preset: model preset name (``multiview_ppt_s``, ``ppt_s``, ...).
        weights: checkpoint file (official or ours), or ``None`` for a random initialisation (labelled as such).
        skeleton: joint set of the model's outputs (default: ``h36m17`` for multi-view presets, else ``coco17``).
        fuse: multi-view fusion on (multi-view presets only).
        keep_ratio: token keep ratio override (``None``: the preset's).
        num_threads: ``torch.set_num_threads`` value (``None`` leaves it); 1 is best beside capture threads on
            2 cores (ENVIRONMENT.md).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        seed: seed of the random initialisation.
    """

    name = "ppt"
    top_down = True

    def __init__(self, preset: str = "multiview_ppt_s", weights=None, skeleton: str | None = None,
                 fuse: bool = True, keep_ratio: float | None = None,
                 num_threads: int | None = None, device: str | None = "auto", seed: int = 0) -> None:
        import torch

        from core.inference.estimator import PoseEstimator2D
        from core.model import build_model, load_checkpoint

        torch.manual_seed(seed)
        model = build_model(preset).eval()
        self.preset = preset
        self.weights = Path(weights) if weights else None
        if self.weights is not None:
            if not self.weights.is_file():
                raise FileNotFoundError(f"PPT weights file not found: {self.weights}")
            load_checkpoint(model, self.weights)
            self.weights_hash = file_sha256(self.weights)
            self.description = f"{preset} with weights {self.weights.name} (sha256 {self.weights_hash})"
        else:
            self.weights_hash = None
            self.description = (f"{preset} with RANDOM INITIALISATION (no weights given): keypoints are "
                                f"meaningless, speed is real")
            log.warning("PPT backend: %s", self.description)
        self.config = model.config
        self.multiview = self.config.is_multiview
        self.fuse = bool(fuse) and self.multiview
        self.keep_ratio = keep_ratio
        self.runtime = PoseEstimator2D(model, device=device, keep_ratio=keep_ratio, num_threads=num_threads)
        self.skeleton = get_skeleton(skeleton or ("h36m17" if self.multiview else "coco17"))
        if self.skeleton.num_joints != self.config.num_keypoints:
            raise ValueError(f"skeleton {self.skeleton.name} has {self.skeleton.num_joints} joints but model "
                             f"{preset} outputs {self.config.num_keypoints}")

    def settings(self) -> dict:
        return {"backend": self.name, "preset": self.preset, "weights": str(self.weights) if self.weights else None,
                "weights_sha256": self.weights_hash, "random_init": self.weights is None, "fuse": self.fuse,
                "keep_ratio": self.keep_ratio if self.keep_ratio is not None else self.config.keep_ratio,
                "skeleton": self.skeleton.name, "description": self.description}

    def estimate(self, frame_set: FrameSet, rig: CameraRig, boxes: np.ndarray | None = None) -> Poses2D:
        """2D keypoints of the person in ``boxes`` ``(C, 4)`` (xywh px per rig camera, NaN row = no box): only the
        views with a frame and a box are cropped and run; the others get NaN keypoints and zero confidence."""
        from core.locate.boxes import check_boxes

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
