"""Training items cut from a rendered corpus (:mod:`core.train.corpus_render`): ``[data] kind = "corpus"``.

Each item is cut from the stored crops with the model's crop convention at load time, so augmentation stays
random per epoch while nothing is rendered:

* ``views = 1`` (single-view pretraining): one view of one sample per item; augmentation as PPT_SPEC 4.2
  (half body, scale, rotation, flip).
* ``views = V`` (multi-view): all views of a sample, mild scale and shift jitter (the official recipe), optional
  in-plane rotation per view and a horizontal flip of all views together (fine-tuning), and per token the
  world-frame viewing ray of its centre for the 3D positional encoding (PPT_SPEC 5.2; lens distortion removed).
  Rays are computed through the crop's full affine (rotation and mirror included), so they stay the true rays of
  the pixels a token shows; a flip mirrors every view of the sample and swaps left/right labels in all of them, so
  the views still agree on which 3D point each joint is.

Items follow :class:`core.train.studio_crops.StudioMultiView`'s layout (HRNet square crops, BGR, rounded
Gaussian targets, Human3.6M-17 joints) for multi-view models, and :class:`StudioSingleView`'s (unbiased affine,
RGB, sub-pixel targets, COCO-17) for single-view ones: ``image (V, 3, H, W)`` (no V for single-view models),
``heatmap (V, J, h, w)``, ``weight (V, J)``, ``rays (V, N, 3)``, and for evaluation ``joints (V, J, 2)`` model-crop
px, ``to_image (V, 2, 3)`` model crop -> original image px, ``joints_image (V, J, 2)`` original px.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from core.geometry.camera import Camera
from core.geometry.skeletons import COCO17, H36M17
from core.inference.preprocess import (apply_affine, box_to_center_scale, crop_affine, invert_affine, normalize_crops,
                                       token_centers, warp_crop)
from core.studio.body import joint_indices
from core.train.augment import augment_person, mirror_affine, mirror_person
from core.train.corpus_render import Corpus
from core.train.datasets import register_dataset
from core.train.targets import rounded_gaussian_targets, unbiased_gaussian_targets


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Affine ``outer o inner`` of two ``(2, 3)`` affines."""
    m = outer[:, :2] @ inner[:, :2]
    return np.concatenate([m, (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)


class CorpusDataset(Dataset):
    """Model-ready items from a corpus folder.

    Args:
        path: corpus folder.
        image_size, heatmap_size: model input and heatmap (H, W).
        token_stride: input pixels per visual token (rows, cols), for the rays.
        views: 1 (one view per item; ``len = samples * V``) or the corpus's V (one sample per item).
        multiview_layout: HRNet crops / BGR / rounded targets / H36M-17 (multi-view PPT) if True, else the
            single-view DarkPose layout with COCO-17.
        train: augment.
        max_samples: use only the first that many samples (0: all).
        min_joints: single view: skip views with fewer joints inside the image.
        sigma: Gaussian sigma in heatmap pixels.
        squeeze: drop the view axis (single-view models).
        rotation: multi-view training: in-plane crop rotation, degrees: with probability 0.6,
            ``clip(rotation * N(0, 1), -2 rotation, 2 rotation)`` per view (0: none, the official multi-view recipe).
        flip: multi-view training: with probability 0.5 mirror all views of a sample and swap left/right joints
            (False: none, the official multi-view recipe). A left/right-symmetric exercise then teaches each side the
            other side's poses.
    """

    def __init__(self, path, image_size, heatmap_size, token_stride, *, views: int = 1, multiview_layout: bool = True,
                 train: bool = True, max_samples: int = 0, min_joints: int = 6, sigma: float = 2.0,
                 squeeze: bool = False, corpus: Corpus | None = None, rotation: float = 0.0,
                 flip: bool = False) -> None:
        self.corpus = corpus if corpus is not None else Corpus.load(path, max_samples)
        if views not in (1, self.corpus.views):
            raise ValueError(f"views must be 1 or the corpus's {self.corpus.views}, got {views}")
        self.views = views
        self.image_size = tuple(int(v) for v in image_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.token_stride = tuple(int(v) for v in token_stride)
        self.grid = (self.image_size[0] // self.token_stride[0], self.image_size[1] // self.token_stride[1])
        self.multiview_layout = multiview_layout
        self.skeleton = H36M17 if multiview_layout else COCO17
        self.joint_index = joint_indices(self.skeleton)
        self.train, self.sigma, self.squeeze = train, sigma, squeeze
        if not 0.0 <= rotation <= 90.0:
            raise ValueError(f"rotation must be 0-90 degrees, got {rotation}")
        self.rotation = float(rotation)
        self.flip = bool(flip)
        self.convention = "hrnet" if multiview_layout else "unbiased"
        spec = self.corpus.spec
        joints = self.corpus.arrays["joints"][:, :, self.joint_index]  # (S, V, J, 2) stored px
        inside = np.isfinite(joints).all(-1) & (self._in_image(joints))
        if views == 1:
            good = inside.sum(-1) >= min_joints
            self.items = np.argwhere(good)  # (n, 2) sample, view
        else:
            self.items = np.stack([np.arange(len(self.corpus)), np.zeros(len(self.corpus), int)], 1)
        if len(self.items) == 0:
            raise ValueError(f"corpus {self.corpus.folder}: no usable items (views with >= {min_joints} joints)")
        self.spec = spec

    def _in_image(self, joints_stored: np.ndarray) -> np.ndarray:
        """``(S, V, J)``: whether each joint lies inside its original image."""
        a = self.corpus.arrays
        orig = np.einsum("svij,svnj->svni", invert_affine(a["affine"])[..., :2], joints_stored) \
            + invert_affine(a["affine"])[..., None, :, 2]
        size = a["image_size"][:, :, None, :]
        return (orig >= 0).all(-1) & (orig <= size - 1).all(-1)

    def __len__(self) -> int:
        return len(self.items)

    # ------------------------------------------------------------------------------------------------
    def _view(self, rng: np.random.Generator, s: int, v: int, flip: bool = False) -> dict:
        """One view's item; ``flip`` (multi-view training): mirror it and swap left/right joints."""
        a = self.corpus.arrays
        image = self.corpus.crop(s, v)
        stored = a["joints"][s, v, self.joint_index].astype(np.float64)
        to_stored = a["affine"][s, v]
        orig = apply_affine(invert_affine(to_stored), stored)
        W0, H0 = a["image_size"][s, v]
        labelled = (np.isfinite(orig).all(1) & (orig[:, 0] >= 0) & (orig[:, 0] <= W0 - 1) & (orig[:, 1] >= 0)
                    & (orig[:, 1] <= H0 - 1)).astype(np.float64)
        H, W = self.image_size
        pts = stored[labelled > 0] if labelled.sum() >= 2 else stored[np.isfinite(stored).all(1)]
        lo, hi = pts.min(0), pts.max(0)
        box = np.array([lo[0], lo[1], max(hi[0] - lo[0], 2.0), max(hi[1] - lo[1], 2.0)])
        center, scale = box_to_center_scale(box[None], W / H, padding=self.spec.padding, convention=self.convention)
        center, scale = center[0], scale[0]
        rotation, mirror = 0.0, np.array([[1.0, 0, 0], [0, 1.0, 0]])
        perm = self.skeleton.flip_permutation()
        if self.train and self.views == 1:
            image, stored, labelled, (orig,), center, scale, rotation = augment_person(
                rng, image, stored, labelled, center, scale, W / H, perm, (orig,))
            if image.strides[1] < 0:  # mirrored: stored px x -> (w - 1 - x)
                mirror = mirror_affine(image.shape[1])
        elif self.train:  # multi-view: scale and shift jitter (the locator's boxes are not exact either)
            if flip:  # all views of the sample together (the caller draws it), so the labels stay one 3D skeleton
                image, stored, labelled, (orig,), center = mirror_person(image, stored, labelled, center, perm,
                                                                         (orig,))
                mirror = mirror_affine(image.shape[1])
            scale = scale * np.clip(1 + 0.15 * rng.standard_normal(), 0.8, 1.25)
            center = center + rng.normal(0, 0.04, 2) * scale * 200
            if self.rotation and rng.random() < 0.6:  # each view on its own; its rays follow through ``to_image``
                rotation = float(np.clip(self.rotation * rng.standard_normal(), -2 * self.rotation, 2 * self.rotation))
        affine = crop_affine(center, scale, (H, W), rotation, convention=self.convention)
        crop = warp_crop(np.ascontiguousarray(image), affine, (H, W))
        joints = apply_affine(affine, np.nan_to_num(stored, nan=-1e6))
        if self.multiview_layout:
            inside = labelled * ((joints[:, 0] >= 0) & (joints[:, 0] < W) & (joints[:, 1] >= 0) & (joints[:, 1] < H))
            jh = joints * np.array([self.heatmap_size[1] / W, self.heatmap_size[0] / H])
            heat, weight = rounded_gaussian_targets(jh, inside.astype(np.float32), self.heatmap_size, self.sigma)
        else:
            hm_affine = crop_affine(center, scale, self.heatmap_size, rotation, convention=self.convention)
            heat, weight = unbiased_gaussian_targets(apply_affine(hm_affine, np.nan_to_num(stored)), labelled,
                                                     self.heatmap_size, self.sigma)
        to_image = invert_affine(_compose(affine, _compose(mirror, to_stored)))  # model crop -> original image
        K, R, t, dist = a["K"][s, v], a["R"][s, v], a["t"][s, v], a["dist"][s, v]
        cam = Camera(f"cam{v}", (int(W0), int(H0)), K, dist, R, t)
        rays = cam.rays(apply_affine(to_image, token_centers(self.grid, self.token_stride)))
        return {"crop": crop, "heatmap": heat, "weight": weight, "rays": rays.astype(np.float32),
                "joints": joints.astype(np.float32), "to_image": to_image.astype(np.float32),
                "joints_image": orig.astype(np.float32), "labelled": labelled.astype(np.float32)}

    def __getitem__(self, index: int) -> dict:
        s, v = (int(x) for x in self.items[index])
        # Training draws differ per epoch and worker (torch seeds each DataLoader worker); evaluation is fixed.
        seed = int(torch.randint(0, 1 << 62, (1,)).item()) if self.train else 0
        rng = np.random.default_rng([seed, index])
        if self.views == 1:
            views = [self._view(rng, s, v)]
        else:
            flip = self.train and self.flip and rng.random() < 0.5
            views = [self._view(rng, s, k, flip) for k in range(self.views)]
        crops = np.stack([x["crop"] for x in views])
        images = normalize_crops(crops, rgb=not self.multiview_layout).transpose(0, 3, 1, 2)
        out = {"image": torch.from_numpy(np.ascontiguousarray(images))}
        for key in ("heatmap", "weight", "rays", "joints", "to_image", "joints_image", "labelled"):
            out[key] = torch.from_numpy(np.stack([x[key] for x in views]))
        if self.squeeze:
            out = {k: t[0] for k, t in out.items()}
        return out


@register_dataset("corpus")
def _build(model_config, path: str | list[str] = "", views: int = 1, train: bool = True, max_samples: int = 0,
           **options) -> Dataset:
    """``path``: a corpus folder, or a list of folders read as one set (each sample equally likely, so a
    folder's share of the steps is its share of the samples); ``max_samples`` applies to each folder."""
    if not path:
        raise ValueError("dataset 'corpus' needs path = \"CORPUS_FOLDER\" or a list of folders (made by "
                         "'ppt-mocap studio corpus')")
    folders = [path] if isinstance(path, str) else list(path)
    parts = [CorpusDataset(p, model_config.image_size, model_config.heatmap_size, model_config.token_stride,
                           views=views, multiview_layout=model_config.is_multiview, train=train,
                           max_samples=max_samples, squeeze=not model_config.is_multiview, **options)
             for p in folders]
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)
