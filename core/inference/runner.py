"""``PoseModelRunner``: numpy images in, 2D keypoints in original pixels out, one batched forward per frame set.

    est = PoseModelRunner(model)                        # device "auto": CUDA if present, else CPU
    res = est.estimate(images, boxes=None, cameras=[(K, R, t), ...])
    res.keypoints   # (V, J, 2) px in each original image;  res.confidence (V, J)
    res.kept_tokens # per pruning stage: (V, K_s) indices into the 16x16 token grid

The model's runtime, not a 2D backend: :class:`core.estimators.ppt.PPTEstimator` (a backend of the pipeline) runs
one per frame set on the person crops the localisation stage gives it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.inference.decode import decode_heatmaps
from core.inference.device import autocast_for, select_device, set_threads, synchronize
from core.inference.optimize import compile_model, optimize_for_inference
from core.inference.preprocess import (InputRecipe, apply_affine, box_to_center_scale, crop_affine, full_frame_box,
                                       get_input_recipe, invert_affine, normalize_crops, token_rays, warp_crop)
from core.model.models import MultiViewPoseModel, PoseModel


@dataclass
class PoseEstimate:
    """2D result of :meth:`PoseModelRunner.estimate` for V views (the pipeline wraps it into
    ``core.records.Poses2D`` with camera names and skeleton).

    ``keypoints (V, J, 2)`` px and ``confidence (V, J)`` (heatmap maxima) per original image;
    ``kept_tokens[s] (V, K_s)`` / ``token_scores[s] (V, K_s)`` per pruning stage (``stage_layers[s]`` is the encoder
    layer), indices into the row-major ``grid_shape`` token grid; ``token_stride`` = model-input px per token
    (rows, cols); ``crop_affines (V, 2, 3)`` map original px to model-input px; ``timings`` in ms.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    kept_tokens: list[np.ndarray]
    token_scores: list[np.ndarray]
    stage_layers: list[int]
    grid_shape: tuple[int, int]
    token_stride: tuple[int, int]
    input_size: tuple[int, int]
    crop_affines: np.ndarray
    fused: bool
    timings: dict[str, float] = field(default_factory=dict)
    heatmaps: np.ndarray | None = None

    @property
    def token_to_image(self) -> np.ndarray:
        """``(V, 2, 3)`` affines from model-input pixels to original-image pixels."""
        return invert_affine(self.crop_affines)

    def token_corners(self, stage: int) -> np.ndarray:
        """Corners ``(V, K_s, 4, 2)`` in original-image px of the tokens kept at ``stage`` (for drawing)."""
        cols = self.grid_shape[1]
        sy, sx = self.token_stride
        r, c = np.divmod(self.kept_tokens[stage], cols)
        x0, y0 = c * sx - 0.5, r * sy - 0.5
        x1, y1 = x0 + sx, y0 + sy
        corners = np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1),
                            np.stack([x1, y1], -1), np.stack([x0, y1], -1)], axis=-2)  # (V, K, 4, 2)
        v, k = corners.shape[:2]
        return apply_affine(self.token_to_image, corners.reshape(v, k * 4, 2)).reshape(v, k, 4, 2)


def _camera_arrays(camera, view: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(K, R, t)`` from a tuple or an object with ``K``, ``R``, ``t`` attributes, shape-checked."""
    if hasattr(camera, "K") and hasattr(camera, "R") and hasattr(camera, "t"):
        K, R, t = camera.K, camera.R, camera.t
    else:
        try:
            K, R, t = camera
        except (TypeError, ValueError):
            raise ValueError(
                f"camera {view}: expected (K, R, t) or an object with K, R, t; got {type(camera).__name__}"
            ) from None
    K, R, t = (np.asarray(a, dtype=np.float64) for a in (K, R, t))
    if K.shape != (3, 3) or R.shape != (3, 3) or t.size != 3:
        raise ValueError(f"camera {view}: expected K (3, 3), R (3, 3), t (3,), got {K.shape}, {R.shape}, {t.shape}")
    return K, R, t.reshape(3)


class PoseModelRunner:
    """Crops, one batched forward for all views, decoding back to original pixels.

    ``model``: a :class:`PoseModel` (views are a batch; cameras unused) or a :class:`MultiViewPoseModel`
    (``fuse=True`` when cameras are given). ``recipe``: ``"darkpose"`` (unbiased affine, RGB, DARK; default for
    single-view) or ``"hrnet"`` (HRNet affine, BGR, argmax + quarter offset; default for multi-view).
    ``optimize``: fold BatchNorm, channels_last, SDPA, exact shortcuts (outputs equal up to float rounding).
    ``compile``: ``False``/``"none"``, ``"backbone"`` (CNN only, seconds to compile) or ``True``/``"all"``
    (``torch.compile`` with freezing; load weights first). ``amp``: float16 autocast on CUDA. ``fuse``: whether
    :meth:`estimate` fuses the views when cameras are given and the call does not say (default: yes for a
    multi-view model; ``False`` for weights whose fusion layers were never trained).
    """

    def __init__(
        self,
        model: PoseModel | MultiViewPoseModel,
        device: str | torch.device | None = "auto",
        *,
        keep_ratio: float | None = None,
        recipe: str | None = None,
        num_threads: int | None = None,
        optimize: bool = True,
        compile: bool | str = False,
        amp: bool = True,
        return_heatmaps: bool = False,
        fuse: bool | None = None,
    ) -> None:
        if not isinstance(model, (PoseModel, MultiViewPoseModel)):
            raise ValueError(f"expected a PoseModel or MultiViewPoseModel, got {type(model).__name__}")
        self.config = model.config
        self.multiview = isinstance(model, MultiViewPoseModel)
        if fuse and not self.multiview:
            raise ValueError(f"fuse=True needs a multi-view model; {model.config.name} is single-view")
        self.fuse = self.multiview if fuse is None else bool(fuse)
        self.recipe: InputRecipe = get_input_recipe(recipe or ("hrnet" if self.multiview else "darkpose"))
        self.device = select_device(device)
        self.num_threads = set_threads(num_threads)
        self.keep_ratio = keep_ratio
        self.amp = amp
        self.return_heatmaps = return_heatmaps
        net: nn.Module = optimize_for_inference(model) if optimize else model.eval()
        self.channels_last = bool(getattr(net, "channels_last", False))
        self.model = net.to(self.device)
        scope = {True: "all", False: "none"}.get(compile, compile)
        self._forward = compile_model(self.model, scope)

    # ---- input checks -------------------------------------------------------------------------------
    @staticmethod
    def _check_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
        if isinstance(images, np.ndarray) and images.ndim == 3:
            raise ValueError(f"expected a list of HxWx3 images (one per view), got one array {images.shape}")
        if len(images) == 0:
            raise ValueError("expected at least one image")
        out = []
        for v, img in enumerate(images):
            img = np.asarray(img)
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ValueError(f"image {v}: expected HxWx3 uint8 BGR, got shape {img.shape} dtype {img.dtype}")
            out.append(img)
        return out

    def _boxes(self, images: list[np.ndarray], boxes) -> np.ndarray:
        v = len(images)
        if boxes is None:
            return np.stack([full_frame_box(img.shape) for img in images])
        b = np.asarray(boxes, dtype=np.float64)
        if b.shape != (v, 4):
            raise ValueError(f"expected boxes of shape ({v}, 4) (x, y, w, h per view), got {b.shape}")
        b = b.copy()
        for i in range(v):  # NaN box -> detector-free full-frame fallback for that view
            if not np.isfinite(b[i]).all():
                b[i] = full_frame_box(images[i].shape)
        return b

    # ---- main entry -------------------------------------------------------------------------------
    def estimate(
        self,
        images: Sequence[np.ndarray],
        boxes: np.ndarray | Sequence | None = None,
        cameras: Sequence | None = None,
        fuse: bool | None = None,
    ) -> PoseEstimate:
        """Estimate 2D keypoints in each of V views.

        ``images``: V BGR uint8 ``(H_v, W_v, 3)`` arrays; ``boxes``: ``(V, 4)`` xywh px (None or a NaN row = full
        frame); ``cameras``: V items ``(K (3,3), R (3,3), t (3,))`` with ``X_cam = R X + t`` or objects with ``K``,
        ``R``, ``t`` (needed for multi-view fusion); ``fuse``: default = the estimator's ``fuse`` and cameras given.
        """
        t0 = time.perf_counter()
        imgs = self._check_images(images)
        v = len(imgs)
        cfg = self.config
        if fuse is None:
            fuse = self.fuse and cameras is not None
        if fuse and not self.multiview:
            raise ValueError(f"fuse=True needs a multi-view model; {cfg.name} is single-view")
        if cameras is not None and len(cameras) != v:
            raise ValueError(f"got {v} views but {len(cameras)} cameras; expected one camera per view")
        cams = None if cameras is None else [_camera_arrays(c, i) for i, c in enumerate(cameras)]
        if fuse and cameras is None:
            raise ValueError("fuse=True needs cameras (K, R, t) for every view to build the 3D positional encoding")

        h, w = cfg.image_size
        pipe = self.recipe
        centers, scales = box_to_center_scale(self._boxes(imgs, boxes), w / h, pipe.padding, pipe.convention)
        affines = np.stack([crop_affine(centers[i], scales[i], (h, w), 0.0, pipe.convention) for i in range(v)])
        crops = np.stack([warp_crop(imgs[i], affines[i], (h, w)) for i in range(v)])
        x = torch.from_numpy(normalize_crops(crops, pipe.rgb)).permute(0, 3, 1, 2)  # NHWC memory = channels_last
        x = x if self.channels_last else x.contiguous()
        rays = None
        if fuse:
            rays = np.stack([
                token_rays(cams[i][0], cams[i][1], affines[i], cfg.grid_size, cfg.token_stride)
                for i in range(v)
            ])
            rays = torch.from_numpy(rays.astype(np.float32))[None].to(self.device)
        x = x.to(self.device)
        t1 = time.perf_counter()

        with torch.inference_mode(), autocast_for(self.device, self.amp):
            if self.multiview:
                out = self._forward(x[None], rays, fuse=fuse, keep_ratio=self.keep_ratio)
                heat = out.heatmaps[0]
                stages = [(s.layer, s.keep_index[0], s.scores[0]) for s in out.stages]
            else:
                out = self._forward(x, keep_ratio=self.keep_ratio)
                heat = out.heatmaps
                stages = [(s.layer, s.keep_index, s.scores) for s in out.stages]
        synchronize(self.device)
        heat_np = heat.float().cpu().numpy()
        t2 = time.perf_counter()

        coords, conf = decode_heatmaps(heat_np, pipe.decoder)
        hh, hw = cfg.heatmap_size
        heat_inv = np.stack([
            invert_affine(crop_affine(centers[i], scales[i], (hh, hw), 0.0, pipe.convention)) for i in range(v)
        ])
        keypoints = apply_affine(heat_inv, coords)
        t3 = time.perf_counter()
        return PoseEstimate(
            keypoints=keypoints,
            confidence=conf,
            kept_tokens=[k.cpu().numpy() for _, k, _ in stages],
            token_scores=[s.float().cpu().numpy() for _, _, s in stages],
            stage_layers=[layer for layer, _, _ in stages],
            grid_shape=cfg.grid_size,
            token_stride=cfg.token_stride,
            input_size=cfg.image_size,
            crop_affines=affines,
            fused=bool(fuse),
            timings={
                "preprocess_ms": (t1 - t0) * 1e3,
                "forward_ms": (t2 - t1) * 1e3,
                "decode_ms": (t3 - t2) * 1e3,
                "total_ms": (t3 - t0) * 1e3,
            },
            heatmaps=heat_np if self.return_heatmaps else None,
        )
