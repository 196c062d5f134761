"""PPT 2D backend: one batched forward over all views of a frame set, through :class:`core.inference.PoseEstimator2D`.

Multi-view presets (``multiview_ppt_s``) run the views as one sample with the camera rays of every token (human-area
fusion); single-view presets (``ppt_s``, ...) run the views as a batch. Each view is the full frame (or, with
``crop="track"``, a box around the previous frame's confident keypoints of that camera).

Until the demo weights exist (a later issue trains them) the model runs with whatever weights file is given or a
**random initialisation**, which ``description`` says plainly: random weights give meaningless keypoints but the
true cost of the model.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from core.capture.frame import FrameSet
from core.estimators.base import Estimator, Poses2D, Stopwatch, check_frame_set
from core.geometry import CameraRig, get_skeleton

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
        crop: ``"full"`` (whole frame) or ``"track"`` (box around the previous frame's confident keypoints of that
            camera; full frame when there are none).
        num_threads: ``torch.set_num_threads`` value (``None`` leaves it); 1 is best beside capture threads on
            2 cores (ENVIRONMENT.md).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        seed: seed of the random initialisation.
    """

    name = "ppt"

    def __init__(self, preset: str = "multiview_ppt_s", weights=None, skeleton: str | None = None,
                 fuse: bool = True, keep_ratio: float | None = None, crop: str = "full",
                 num_threads: int | None = None, device: str | None = "auto", seed: int = 0) -> None:
        import torch

        from core.inference.estimator import PoseEstimator2D
        from core.model import build_model, load_checkpoint

        if crop not in ("full", "track"):
            raise ValueError(f"crop must be 'full' or 'track', got {crop!r}")
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
        self.crop = crop
        self.runtime = PoseEstimator2D(model, device=device, keep_ratio=keep_ratio, num_threads=num_threads)
        self.skeleton = get_skeleton(skeleton or ("h36m17" if self.multiview else "coco17"))
        if self.skeleton.num_joints != self.config.num_keypoints:
            raise ValueError(f"skeleton {self.skeleton.name} has {self.skeleton.num_joints} joints but model "
                             f"{preset} outputs {self.config.num_keypoints}")
        self._last: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def settings(self) -> dict:
        return {"backend": self.name, "preset": self.preset, "weights": str(self.weights) if self.weights else None,
                "weights_sha256": self.weights_hash, "random_init": self.weights is None, "fuse": self.fuse,
                "keep_ratio": self.keep_ratio if self.keep_ratio is not None else self.config.keep_ratio,
                "crop": self.crop, "skeleton": self.skeleton.name, "description": self.description}

    def _box(self, cam: str) -> np.ndarray:
        """(x, y, w, h) around the previous confident keypoints of ``cam``; NaN (full frame) when there are none."""
        if self.crop != "track" or cam not in self._last:
            return np.full(4, np.nan)
        kp, conf = self._last[cam]
        good = (conf > 0.3) & np.isfinite(kp).all(axis=-1)
        if good.sum() < 4:
            return np.full(4, np.nan)
        lo, hi = kp[good].min(axis=0), kp[good].max(axis=0)
        return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        present = [c for c, name in enumerate(rig.names) if name in frame_set.frames]
        if not present:
            return Poses2D.empty(rig.names, self.skeleton, frame_set.index)
        sw = Stopwatch()
        images = [frame_set.frames[rig.names[c]].image for c in present]
        boxes = np.stack([self._box(rig.names[c]) for c in present])
        cams = [rig.cameras[c] for c in present] if self.fuse else None
        res = self.runtime.estimate(images, boxes=boxes, cameras=cams, fuse=self.fuse if self.multiview else None)
        with sw("scatter"):
            kp = np.full((C, J, 2), np.nan)
            conf = np.zeros((C, J))
            to_image = np.zeros((C, 2, 3))
            kp[present] = res.keypoints
            conf[present] = np.clip(res.confidence, 0.0, 1.0)
            for i, c in enumerate(present):
                M = np.vstack([res.crop_affines[i], [0, 0, 1]])
                to_image[c] = np.linalg.inv(M)[:2]
                self._last[rig.names[c]] = (kp[c], conf[c])
            kept = []
            for k in res.kept_tokens:
                full = np.full((C, k.shape[-1]), -1, dtype=np.int32)
                full[present] = k.reshape(len(present), -1)
                kept.append(full)
        timings = {k.removesuffix("_ms"): v for k, v in res.timings.items()}
        timings.update(sw.timings)
        return Poses2D(rig.names, kp, conf, self.skeleton, kept_tokens=kept, token_grid=tuple(res.grid_shape),
                       token_stride=tuple(res.token_stride), token_to_image=to_image, timings=timings,
                       frame_index=frame_set.index)
