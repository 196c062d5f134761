"""COCO keypoints: person crops with the single-view PPT pipeline (PPT_SPEC sections 4.1-4.3).

Each sample is one annotated person: a box-centred crop warped with the unbiased affine (optionally
augmented: half body, scale, rotation, flip), RGB ImageNet normalisation, and sub-pixel Gaussian heatmap
targets computed through a second affine made directly for the heatmap size.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.geometry.skeletons import COCO17
from core.inference.preprocess import (apply_affine, box_to_center_scale, crop_affine, normalize_crops,
                                       warp_crop)
from core.train.augment import augment_person
from core.train.datasets import register_dataset
from core.train.targets import unbiased_gaussian_targets


class CocoKeypoints(Dataset):
    """Person instances of a COCO keypoints annotation file.

    Args:
        annotation_file: COCO ``person_keypoints_*.json``.
        image_dir: folder of the images (``file_name`` is looked up there).
        image_size: model input (H, W); heatmaps are (H/4, W/4).
        train: apply PPT_SPEC 4.2's augmentations.
        seed: augmentation seed (sample ``i`` of epoch-independent stream ``seed``).
    """

    def __init__(self, annotation_file, image_dir=None, image_size=(256, 192), train: bool = False,
                 seed: int = 0, sigma: float = 2.0) -> None:
        annotation_file = Path(annotation_file)
        if not annotation_file.exists():
            raise FileNotFoundError(f"COCO annotation file not found: {annotation_file}")
        data = json.loads(annotation_file.read_text())
        if "annotations" not in data or "images" not in data:
            raise ValueError(f"{annotation_file}: not a COCO annotation file (needs 'images' and 'annotations')")
        self.image_dir = Path(image_dir) if image_dir else annotation_file.parent
        self.images = {im["id"]: im for im in data["images"]}
        self.items = [a for a in data["annotations"]
                      if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0) and a["bbox"][2] > 1
                      and a["bbox"][3] > 1]
        if not self.items:
            raise ValueError(f"{annotation_file}: no person annotations with keypoints")
        self.image_size = tuple(image_size)
        self.heatmap_size = (self.image_size[0] // 4, self.image_size[1] // 4)
        self.train, self.seed, self.sigma = train, seed, sigma

    def __len__(self) -> int:
        return len(self.items)

    def load_image(self, image_id: int) -> np.ndarray:
        path = self.image_dir / self.images[image_id]["file_name"]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read COCO image {path}")
        return image

    def sample(self, i: int, rng: np.random.Generator | None = None) -> dict:
        """Sample ``i`` as numpy: crop (H, W, 3) uint8 BGR, joints in crop pixels, heatmaps, weights, affine."""
        ann = self.items[i]
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        joints, visible = kp[:, :2].copy(), (kp[:, 2] > 0).astype(np.float64)
        H, W = self.image_size
        center, scale = box_to_center_scale(np.asarray(ann["bbox"])[None], W / H)
        center, scale = center[0], scale[0]
        rotation = 0.0
        image = self.load_image(ann["image_id"])
        if self.train and rng is not None:
            image, joints, visible, _, center, scale, rotation = augment_person(
                rng, image, joints, visible, center, scale, W / H, COCO17.flip_permutation())
        affine = crop_affine(center, scale, (H, W), rotation)
        crop = warp_crop(np.ascontiguousarray(image), affine, (H, W))
        hm_affine = crop_affine(center, scale, self.heatmap_size, rotation)
        heat, weight = unbiased_gaussian_targets(apply_affine(hm_affine, joints), visible, self.heatmap_size,
                                                 self.sigma)
        return {"crop": crop, "joints": apply_affine(affine, joints), "visible": visible, "heatmap": heat,
                "weight": weight, "affine": affine, "center": center, "scale": scale,
                "image_id": ann["image_id"]}

    def __getitem__(self, i: int) -> dict:
        rng = np.random.default_rng([self.seed, i, np.random.randint(1 << 30)]) if self.train else None
        s = self.sample(i, rng)
        image = normalize_crops(s["crop"][None], rgb=True)[0].transpose(2, 0, 1)
        return {"image": torch.from_numpy(np.ascontiguousarray(image)), "heatmap": torch.from_numpy(s["heatmap"]),
                "weight": torch.from_numpy(s["weight"]), "affine": torch.from_numpy(s["affine"]),
                "image_id": s["image_id"]}


@register_dataset("coco")
def _build_coco(model_config, annotation_file, image_dir=None, train=False, seed=0):
    return CocoKeypoints(annotation_file, image_dir, model_config.image_size, train=train, seed=seed)
