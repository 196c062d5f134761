"""Human3.6M-style multi-view reader (PPT_SPEC section 5.3): synchronised groups of views with cameras.

Each sample is one instant seen by V cameras: per view an HRNet-convention crop (BGR, ImageNet statistics, as
the official multi-view loader), rounded Gaussian targets, and the world-frame rays through the token centres
for the 3D positional encoding. Joints falling outside the crop are marked invisible.

Annotations come as a list of per-image records (the H36M-Toolbox layout, or built from mmpose's
``*_body3d.npz`` with :func:`records_from_mmpose_npz`)::

    {"image": "S1/S1_Directions_1.54138969/..._000001.jpg", "subject": "S1", "action": "Directions",
     "subaction": 1, "frame": 1, "camera": "54138969", "joints_2d": (17, 2) px, "box": (x, y, w, h) px}

with the cameras in a Human3.6M ``cameras.pkl`` (read by :func:`core.geometry.load_rig`).
"""

from __future__ import annotations

import pickle
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.geometry import CameraRig, load_rig
from core.inference.preprocess import (apply_affine, box_to_center_scale, crop_affine, normalize_crops,
                                       token_rays, warp_crop)
from core.train.datasets import register_dataset
from core.train.targets import rounded_gaussian_targets

REQUIRED = ("image", "subject", "camera", "frame", "joints_2d")


def records_from_mmpose_npz(npz_path) -> list[dict]:
    """Per-image records from an mmpose Human3.6M ``*_body3d.npz`` (``imgname``, ``part`` (N, 17, 3) px)."""
    data = np.load(npz_path, allow_pickle=True)
    records = []
    for name, part in zip(data["imgname"], data["part"]):
        name = str(name)
        subject, folder = name.split("/")[:2]
        action_sub, camera = folder.split("_", 1)[1].rsplit(".", 1)
        action, _, sub = action_sub.rpartition("_")
        frame = int(Path(name).stem.rsplit("_", 1)[1])
        joints = np.asarray(part[:, :2], dtype=np.float64)
        lo, hi = joints.min(0), joints.max(0)
        size = (hi - lo).max() * 1.2
        centre = (lo + hi) / 2
        records.append({"image": name, "subject": subject, "action": action or action_sub,
                        "subaction": int(sub) if sub.isdigit() else 1, "frame": frame, "camera": camera,
                        "joints_2d": joints, "visible": part[:, 2] > 0,
                        "box": np.r_[centre - size / 2, size, size]})
    return records


class H36MMultiView(Dataset):
    """Groups of synchronised views.

    Args:
        records: per-image annotation dicts (see the module docstring), or a path to a pickle of them.
        image_root: folder the ``image`` paths are relative to.
        cameras: Human3.6M ``cameras.pkl`` path.
        image_size: crop (H, W), 256x256 in the official setup; heatmaps are (H/4, W/4).
        grid, stride: token grid (rows, cols) and model-input pixels per token, for the rays.
        min_views: drop groups with fewer views.
    """

    def __init__(self, records, image_root, cameras, image_size=(256, 256), grid=(16, 16), stride=(16, 16),
                 min_views: int = 1) -> None:
        if isinstance(records, (str, Path)):
            path = Path(records)
            if not path.exists():
                raise FileNotFoundError(f"Human3.6M annotation file not found: {path}")
            with open(path, "rb") as f:
                records = pickle.load(f)
        if not records:
            raise ValueError("no Human3.6M annotation records")
        for i, r in enumerate(records):
            missing = [k for k in REQUIRED if k not in r]
            if missing:
                raise ValueError(f"annotation record {i} lacks {missing}; needs {list(REQUIRED)}")
        self.image_root = Path(image_root)
        self.cameras_path = Path(cameras)
        self._rigs: dict[str, CameraRig] = {}
        groups = defaultdict(list)
        for r in records:
            groups[(r["subject"], r.get("action", ""), r.get("subaction", 1), r["frame"])].append(r)
        self.groups = [sorted(g, key=lambda r: str(r["camera"])) for _, g in sorted(groups.items())
                       if len(g) >= min_views]
        if not self.groups:
            raise ValueError(f"no frame has at least {min_views} views")
        self.image_size = tuple(image_size)
        self.heatmap_size = (self.image_size[0] // 4, self.image_size[1] // 4)
        self.grid, self.stride = tuple(grid), tuple(stride)

    def __len__(self) -> int:
        return len(self.groups)

    def camera(self, subject: str, camera_id: str):
        if subject not in self._rigs:
            self._rigs[subject] = load_rig(self.cameras_path, subject=subject)
        return self._rigs[subject][str(camera_id)]

    def sample(self, i: int) -> dict:
        """Group ``i`` as numpy: crops (V, H, W, 3) BGR, joints in crop px (V, J, 2), targets, rays, affines."""
        H, W = self.image_size
        out = defaultdict(list)
        for r in self.groups[i]:
            path = self.image_root / r["image"]
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise FileNotFoundError(f"cannot read Human3.6M image {path}")
            joints = np.asarray(r["joints_2d"], dtype=np.float64)
            visible = np.asarray(r.get("visible", np.ones(len(joints))), dtype=np.float64)
            center, scale = box_to_center_scale(np.asarray(r["box"])[None], W / H, 1.0, "hrnet")
            affine = crop_affine(center[0], scale[0], (H, W), 0.0, "hrnet")
            crop_joints = apply_affine(affine, joints)
            inside = (crop_joints >= 0).all(1) & (crop_joints[:, 0] < W) & (crop_joints[:, 1] < H)
            heat, weight = rounded_gaussian_targets(crop_joints / 4.0, visible * inside, self.heatmap_size)
            cam = self.camera(r["subject"], r["camera"])
            out["crop"].append(warp_crop(image, affine, (H, W)))
            out["joints"].append(crop_joints)
            out["heatmap"].append(heat)
            out["weight"].append(weight)
            out["affine"].append(affine)
            out["rays"].append(token_rays(cam.K, cam.R, affine, self.grid, self.stride))
        return {k: np.stack(v) for k, v in out.items()}

    def __getitem__(self, i: int) -> dict:
        s = self.sample(i)
        images = normalize_crops(s["crop"], rgb=False).transpose(0, 3, 1, 2)
        return {"image": torch.from_numpy(np.ascontiguousarray(images)), "heatmap": torch.from_numpy(s["heatmap"]),
                "weight": torch.from_numpy(s["weight"]), "rays": torch.from_numpy(s["rays"].astype(np.float32))}


@register_dataset("h36m-multi")
def _build_h36m(model_config, records, image_root, cameras, min_views=4):
    return H36MMultiView(records, image_root, cameras, model_config.image_size, model_config.grid_size,
                         model_config.token_stride, min_views=min_views)
