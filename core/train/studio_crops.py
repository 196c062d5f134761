"""PyTorch datasets that draw virtual-studio samples on the fly (no files; deterministic by seed and index).

* :class:`StudioSingleView` - one person crop per sample with the single-view PPT pipeline (PPT_SPEC
  4.1-4.3): person box -> centre/scale (aspect W/H, padding 1.25), unbiased affine crop, optional training
  augmentation (half body, scale, rotation, flip), RGB ImageNet normalisation, sub-pixel Gaussian targets
  (sigma 2) through a second affine made for the heatmap size; COCO-17 joints.
* :class:`StudioMultiView` - V synchronised views per sample with the multi-view PPT pipeline (PPT_SPEC
  5.2-5.3): square HRNet-convention crops (256x256 by default), BGR ImageNet normalisation, rounded HRNet
  targets, Human3.6M-17 joints (outside the crop -> weight 0), and per visual token the unit viewing ray in
  the world frame of its patch centre (``u = 16 col + 7.5``, ``v = 16 row + 7.5`` mapped back through the
  inverse crop affine, then the camera's own ray, lens distortion removed) for the 3D positional encoding.

Each sample gets a random person (height, build, skin, clothes), a random moment of a random motion
(``mix`` by default), a random room with props and light, and random cameras with realistic lenses. To keep
generation fast, ``reuse`` consecutive samples share a room and cameras (their backdrops are baked once),
lenses come from a pool of 12 per dataset (pixel rays are cached per lens), and the person and the moment
change every sample. Input sizes are configurable (a demo model may be smaller).

Registered with the trainer as ``studio-single`` and ``studio-multi`` (:mod:`core.train.datasets`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from core.geometry.camera import Camera, CameraRig
from core.geometry.skeletons import COCO17, H36M17
from core.inference.preprocess import (apply_affine, box_to_center_scale, crop_affine, invert_affine, normalize_crops,
                                       token_centers, warp_crop)
from core.studio.actor import random_actor
from core.studio.body import joint_indices
from core.studio.motion import MOTIONS, make_motion
from core.studio.render import CameraRenderer, joint_visibility
from core.studio.rig_presets import PRESETS, make_rig, realistic_intrinsics
from core.studio.scene import (Scene, SceneActor, check_distractor_distance, random_lighting, random_props,
                                random_room)
from core.studio.studio import person_boxes
from core.train.augment import augment_person
from core.train.datasets import register_dataset
from core.train.targets import rounded_gaussian_targets, unbiased_gaussian_targets

log = logging.getLogger(__name__)


def lens_pool(seed: int, size: tuple[int, int], count: int = 12) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` random realistic lenses (K, dist) for images of ``size``: 48-80 degrees wide, mild distortion."""
    rng = np.random.default_rng([seed, 3])
    return [realistic_intrinsics(size, rng, hfov_deg=rng.uniform(48, 80)) for _ in range(count)]


def random_camera(rng: np.random.Generator, target: np.ndarray, size: tuple[int, int], name: str = "cam",
                  distance=(2.5, 6.0), height=(0.4, 2.8), azimuth: float | None = None,
                  lenses: list | None = None) -> Camera:
    """A camera at a random place looking at ``target`` (3,) world metres, with a random realistic lens
    (drawn from ``lenses`` when given: cameras sharing a lens share their cached pixel rays)."""
    az = rng.uniform(0, 2 * np.pi) if azimuth is None else azimuth
    d = rng.uniform(*distance)
    pos = np.array([target[0] + d * np.cos(az), target[1] + d * np.sin(az), rng.uniform(*height)])
    aim = np.asarray(target, dtype=np.float64) + rng.normal(0, 0.15, 3)
    if lenses:
        K, dist = lenses[int(rng.integers(len(lenses)))]
    else:
        K, dist = realistic_intrinsics(size, rng, hfov_deg=rng.uniform(48, 80))
    cam = Camera.look_at(name, size, K, pos, aim, dist=dist)
    roll = rng.normal(0, np.radians(3))  # cameras are rarely mounted perfectly level
    c, s = np.cos(roll), np.sin(roll)
    return cam.with_(R=np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ cam.R,
                     t=np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ cam.t)


@dataclass
class _Stage:
    """A room, props, light and cameras shared by ``reuse`` consecutive samples."""

    scene: Scene
    renderers: list[CameraRenderer]


class _StudioSamples(Dataset, ABC):
    """Shared machinery: seeded stages (room + cameras, cached) and people posed at random moments."""

    def __init__(self, length: int, seed: int, reuse: int, render_size: tuple[int, int], motion: str,
                 people: tuple[int, int], backdrop_downscale: int,
                 distractor_distance: tuple[float, float] | None = None) -> None:
        if length < 1:
            raise ValueError(f"dataset length must be >= 1, got {length}")
        if reuse < 1:
            raise ValueError(f"reuse must be >= 1, got {reuse}")
        if motion not in MOTIONS:
            raise ValueError(f"unknown motion {motion!r}; expected one of {MOTIONS}")
        self.length = int(length)
        self.seed = int(seed)
        self.reuse = int(reuse)
        self.render_size = tuple(int(v) for v in render_size)
        self.motion = motion
        self.people = people
        self.distractor_distance = check_distractor_distance(distractor_distance)
        self.backdrop_downscale = backdrop_downscale
        self.lenses = lens_pool(self.seed, self.render_size)
        self.rooms = 6  # textured rooms per dataset, generated once each (the props, light and cameras vary)
        self._room_cache: dict[tuple, object] = {}
        self._stage_key: int | None = None
        self._stage: _Stage | None = None

    def __len__(self) -> int:
        return self.length

    @abstractmethod
    def _cameras(self, rng: np.random.Generator, target: np.ndarray) -> list[Camera]:
        """The cameras of one stage, looking at ``target`` (3,) world metres."""

    def _room(self, k: int, spread: float, top: float):
        """Room ``k`` of the dataset's pool, large enough for cameras ``spread`` m out and ``top`` m high.

        Rooms are cached by (k, size class), so a sample's room does not depend on which samples came before.
        """
        half = max(7.0, float(np.ceil(spread + 1.0)))
        height = max(3.3, float(np.ceil((top + 0.4) * 5) / 5))
        key = (k, half, height)
        room = self._room_cache.get(key)
        if room is None:
            room = random_room(np.random.default_rng([self.seed, 4, k]), min_half=half, min_height=height)
            if len(self._room_cache) >= 2 * self.rooms:
                self._room_cache.pop(next(iter(self._room_cache)))
            self._room_cache[key] = room
        return room

    def stage(self, group: int) -> _Stage:
        """The room, props, light and baked cameras of sample group ``group`` (cached)."""
        if self._stage_key == group and self._stage is not None:
            return self._stage
        rng = np.random.default_rng([self.seed, 1, group])
        target = np.array([0.0, 0.0, rng.uniform(0.7, 1.1)])
        cams = self._cameras(rng, target)
        spread = max(float(np.linalg.norm(c.center[:2])) for c in cams)
        top = max(c.center[2] for c in cams)
        room = self._room(int(rng.integers(self.rooms)), spread, top)
        props = random_props(rng, int(rng.integers(0, 4)), 1.3, 2.4)
        scene = Scene([], room, props, random_lighting(rng, changes=False), seed=group)
        renderers = []
        for cam in cams:
            r = CameraRenderer(cam)
            r.set_backdrop(scene.backdrop(r, self.backdrop_downscale))
            renderers.append(r)
        self._stage_key, self._stage = group, _Stage(scene, renderers)
        return self._stage

    def people_scene(self, index: int, stage: _Stage) -> tuple[Scene, list, np.random.Generator]:
        """Random people at a random moment for sample ``index`` (person 0 is the subject)."""
        rng = np.random.default_rng([self.seed, 2, index])
        n = int(rng.integers(self.people[0], self.people[1] + 1))
        actors = []
        for p in range(n):
            actor = random_actor(rng, name=f"actor{p}")
            if p == 0:
                start = subject_start = rng.normal(0, 0.35, 2)
            else:  # distractors around the subject, sometimes in front of it
                a = rng.uniform(0, 2 * np.pi)
                direction = np.array([np.cos(a), np.sin(a)])
                if self.distractor_distance is None:  # the first corpora's rule, around the origin
                    start = 1.1 * direction + rng.normal(0, 0.2, 2)
                else:  # at a chosen distance (metres) from the subject's start
                    start = subject_start + rng.uniform(*self.distractor_distance) * direction
            motion = make_motion(self.motion, actor.shape, seed=int(rng.integers(1 << 30)), start_xy=start,
                                 radius=0.6, center=start)
            actors.append(SceneActor(actor, motion))
        scene = Scene(actors, stage.scene.room, stage.scene.props, stage.scene.lighting, seed=index)
        t = float(rng.uniform(0.0, 30.0))
        poses = scene.poses(np.array([t]))
        return scene, poses, rng

    def render_views(self, index: int) -> dict:
        """Render sample ``index`` in every camera of its stage: images, 2D/3D joints, visibility, boxes."""
        stage = self.stage(index // self.reuse)
        scene, poses, rng = self.people_scene(index, stage)
        prims = scene.primitives(poses)
        lighting = scene.lighting.at(0.0)
        joints = np.stack([p.joints[0] for p in poses])
        images, j2d, vis, boxes = [], [], [], []
        for r in stage.renderers:
            res = r.render(prims, scene.materials, lighting, shadows=scene.shadows(poses))
            p2d, v = joint_visibility(r, res, joints, np.arange(len(poses)), scene.flesh, prims=prims)
            images.append(res.image)
            j2d.append(p2d[0])
            vis.append(v[0])
            boxes.append(person_boxes(res, len(poses))[0])
        return {"images": images, "joints_2d": np.stack(j2d), "visible": np.stack(vis), "boxes": np.stack(boxes),
                "joints_3d": joints[0], "cameras": [r.camera for r in stage.renderers], "rng": rng}


# ------------------------------------------------------------------------------------------------
class StudioSingleView(_StudioSamples):
    """Single-view person crops with COCO-17 heatmap targets (PPT_SPEC 4.1-4.3).

    Args:
        length: number of samples.
        image_size: model input (H, W); heatmaps are ``heatmap_size`` (default H/4, W/4).
        seed: dataset seed (samples are a function of seed and index).
        train: apply PPT_SPEC 4.2's augmentation (half body, scale, rotation, flip).
        sigma: Gaussian sigma in heatmap pixels.
        reuse: consecutive samples sharing a room and camera.
        render_size: rendered image (W, H) before cropping.
        motion: motion the people perform.
        people: (min, max) people in the picture (the first is the subject).
        weight: ``"labelled"`` (joint inside the image, occluded or not, as COCO's v > 0) or ``"visible"``.
    """

    def __init__(self, length: int = 10000, image_size=(256, 192), *, heatmap_size=None, seed: int = 0,
                 train: bool = True, sigma: float = 2.0, reuse: int = 4, render_size=(640, 480), motion: str = "mix",
                 people=(1, 2), weight: str = "labelled", backdrop_downscale: int = 2) -> None:
        super().__init__(length, seed, reuse, render_size, motion, tuple(people), backdrop_downscale)
        if weight not in ("labelled", "visible"):
            raise ValueError(f"weight must be 'labelled' or 'visible', got {weight!r}")
        self.image_size = tuple(int(v) for v in image_size)
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise ValueError(f"image_size must be (H, W) >= 16, got {image_size}")
        self.heatmap_size = tuple(heatmap_size) if heatmap_size else (self.image_size[0] // 4, self.image_size[1] // 4)
        self.train, self.sigma, self.weight_mode = train, sigma, weight
        self.joint_index = joint_indices(COCO17)

    def _cameras(self, rng, target):
        return [random_camera(rng, target, self.render_size, lenses=self.lenses)]

    def sample(self, index: int) -> dict:
        """Sample ``index`` as numpy: crop (H, W, 3) uint8 BGR, joints in crop px, heatmaps, weights, affine."""
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} out of range (length {self.length})")
        views = self.render_views(index)
        rng = views["rng"]
        image = views["images"][0]
        joints = views["joints_2d"][0][self.joint_index].copy()
        visible = views["visible"][0][self.joint_index].astype(np.float64)
        W0, H0 = self.render_size
        labelled = (np.isfinite(joints).all(1) & (joints[:, 0] >= 0) & (joints[:, 0] <= W0 - 1)
                    & (joints[:, 1] >= 0) & (joints[:, 1] <= H0 - 1)).astype(np.float64)
        flags = labelled if self.weight_mode == "labelled" else visible
        box = views["boxes"][0]
        if not np.isfinite(box).all():  # the subject is hidden: use the joints' extent
            pts = joints[labelled > 0]
            lo, hi = (pts.min(0), pts.max(0)) if len(pts) else (np.zeros(2), np.array([W0 - 1.0, H0 - 1.0]))
            box = np.array([lo[0], lo[1], hi[0], hi[1]])
        xywh = np.array([box[0], box[1], max(box[2] - box[0] + 1, 2.0), max(box[3] - box[1] + 1, 2.0)])
        H, W = self.image_size
        center, scale = box_to_center_scale(xywh[None], W / H)
        center, scale = center[0], scale[0]
        rotation = 0.0
        if self.train:
            image, joints, flags, (visible,), center, scale, rotation = augment_person(
                rng, image, joints, flags, center, scale, W / H, COCO17.flip_permutation(), (visible,))
        affine = crop_affine(center, scale, (H, W), rotation)
        crop = warp_crop(np.ascontiguousarray(image), affine, (H, W))
        hm_affine = crop_affine(center, scale, self.heatmap_size, rotation)
        heat, weight = unbiased_gaussian_targets(apply_affine(hm_affine, np.nan_to_num(joints)), flags,
                                                 self.heatmap_size, self.sigma)
        return {"crop": crop, "joints": apply_affine(affine, joints), "visible": visible, "labelled": flags,
                "heatmap": heat, "weight": weight, "affine": affine, "center": center, "scale": scale}

    def __getitem__(self, index: int) -> dict:
        s = self.sample(index)
        image = normalize_crops(s["crop"][None], rgb=True)[0].transpose(2, 0, 1)
        return {"image": torch.from_numpy(np.ascontiguousarray(image)), "heatmap": torch.from_numpy(s["heatmap"]),
                "weight": torch.from_numpy(s["weight"]), "visible": torch.from_numpy(s["visible"].astype(np.float32)),
                "joints": torch.from_numpy(s["joints"].astype(np.float32)),
                "affine": torch.from_numpy(s["affine"].astype(np.float32))}


# ------------------------------------------------------------------------------------------------
class StudioMultiView(_StudioSamples):
    """Synchronised multi-view samples with H36M-17 targets and per-token camera rays (PPT_SPEC 5.2-5.3).

    Args:
        length: number of samples (frame groups).
        views: cameras per sample.
        image_size: crop (H, W), default 256x256; heatmaps ``heatmap_size`` (default H/4, W/4).
        token_stride: input pixels per visual token (rows, cols) (16 = stem 4 x patch 4).
        rig: ``"random"`` (a new ring of ``views`` cameras per stage), a preset name, or a :class:`CameraRig`.
        seed, sigma, reuse, render_size, motion, people: as :class:`StudioSingleView`.
        padding: box padding before the square crop.
        distractor_distance: ``(min, max)`` metres from the subject's start to each other person's (uniform,
            any direction); ``None``: 1.1 m +- 0.2 m per axis, the first corpora's rule.
    """

    def __init__(self, length: int = 10000, views: int = 4, image_size=(256, 256), *, heatmap_size=None,
                 token_stride=(16, 16), rig="random", seed: int = 0, sigma: float = 2.0, reuse: int = 4,
                 render_size=(640, 480), motion: str = "mix", people=(1, 1), padding: float = 1.25,
                 backdrop_downscale: int = 2, distractor_distance: tuple[float, float] | None = None) -> None:
        super().__init__(length, seed, reuse, render_size, motion, tuple(people), backdrop_downscale,
                         distractor_distance)
        if isinstance(rig, CameraRig):
            views = len(rig)
        elif rig != "random" and rig not in PRESETS:
            raise ValueError(f"rig must be 'random', a preset ({', '.join(PRESETS)}) or a CameraRig, got {rig!r}")
        if views < 1:
            raise ValueError(f"views must be >= 1, got {views}")
        self.views = int(views) if not (isinstance(rig, str) and rig in PRESETS) else len(make_rig(rig))
        self.rig = rig
        self.image_size = tuple(int(v) for v in image_size)
        self.heatmap_size = tuple(heatmap_size) if heatmap_size else (self.image_size[0] // 4, self.image_size[1] // 4)
        self.token_stride = tuple(int(v) for v in token_stride)
        if self.image_size[0] % self.token_stride[0] or self.image_size[1] % self.token_stride[1]:
            raise ValueError(f"image_size {self.image_size} is not a multiple of token_stride {self.token_stride}")
        self.grid = (self.image_size[0] // self.token_stride[0], self.image_size[1] // self.token_stride[1])
        self.sigma, self.padding = sigma, padding
        self.joint_index = joint_indices(H36M17)

    def _cameras(self, rng, target):
        if isinstance(self.rig, CameraRig):
            return list(self.rig)
        if self.rig in PRESETS:
            return list(make_rig(self.rig, size=self.render_size))
        base = rng.uniform(0, 2 * np.pi)
        return [random_camera(rng, target, self.render_size, name=f"cam{v + 1:02d}",
                              azimuth=base + 2 * np.pi * v / self.views + rng.normal(0, 0.25),
                              distance=(3.0, 5.5), height=(0.8, 2.8), lenses=self.lenses) for v in range(self.views)]

    def sample(self, index: int) -> dict:
        """Sample ``index`` as numpy arrays (crops uint8 BGR (V, H, W, 3), targets, rays, cameras, truth)."""
        if not 0 <= index < self.length:
            raise IndexError(f"sample {index} out of range (length {self.length})")
        views = self.render_views(index)
        H, W = self.image_size
        uv = token_centers(self.grid, self.token_stride)  # u = 16 col + 7.5, v = 16 row + 7.5
        crops, heats, weights, rays, affines, centers, scales, joints_crop = [], [], [], [], [], [], [], []
        j2d = views["joints_2d"][:, self.joint_index]
        for v, cam in enumerate(views["cameras"]):
            pts = j2d[v]
            good = np.isfinite(pts).all(1)
            lo, hi = (pts[good].min(0), pts[good].max(0)) if good.any() else (np.zeros(2), np.array(cam.size, float))
            box = np.array([lo[0], lo[1], max(hi[0] - lo[0], 2.0), max(hi[1] - lo[1], 2.0)])
            center, scale = box_to_center_scale(box[None], W / H, padding=self.padding, convention="hrnet")
            affine = crop_affine(center[0], scale[0], (H, W), 0.0, convention="hrnet")
            crops.append(warp_crop(views["images"][v], affine, (H, W)))
            jc = apply_affine(affine, np.nan_to_num(pts, nan=-1e6))
            inside = good & (jc[:, 0] >= 0) & (jc[:, 0] < W) & (jc[:, 1] >= 0) & (jc[:, 1] < H)
            jh = jc * np.array([self.heatmap_size[1] / W, self.heatmap_size[0] / H])
            heat, weight = rounded_gaussian_targets(jh, inside.astype(np.float32), self.heatmap_size, self.sigma)
            heats.append(heat)
            weights.append(weight)
            rays.append(cam.rays(apply_affine(invert_affine(affine), uv)))
            affines.append(affine)
            centers.append(center[0])
            scales.append(scale[0])
            joints_crop.append(jc)
        cams = views["cameras"]
        return {
            "crops": np.stack(crops), "heatmap": np.stack(heats), "weight": np.stack(weights),
            "rays": np.stack(rays).astype(np.float32), "affine": np.stack(affines), "center": np.stack(centers),
            "scale": np.stack(scales), "joints_crop": np.stack(joints_crop), "joints_2d": j2d,
            "visible": views["visible"][:, self.joint_index], "joints_3d": views["joints_3d"][self.joint_index],
            "K": np.stack([c.K for c in cams]), "R": np.stack([c.R for c in cams]), "t": np.stack([c.t for c in cams]),
            "dist": np.stack([np.resize(c.dist, 5) for c in cams]),
        }

    def __getitem__(self, index: int) -> dict:
        s = self.sample(index)
        images = normalize_crops(s["crops"], rgb=False).transpose(0, 3, 1, 2)
        out = {"image": torch.from_numpy(np.ascontiguousarray(images)), "heatmap": torch.from_numpy(s["heatmap"]),
               "weight": torch.from_numpy(s["weight"]), "rays": torch.from_numpy(s["rays"])}
        for key in ("affine", "joints_2d", "joints_3d", "K", "R", "t"):
            out[key] = torch.from_numpy(np.asarray(s[key], dtype=np.float32))
        out["visible"] = torch.from_numpy(s["visible"].astype(np.float32))
        return out


@register_dataset("studio-single")
def _build_single(model_config, length: int = 10000, seed: int = 0, train: bool = True, **options) -> StudioSingleView:
    return StudioSingleView(length, model_config.image_size, heatmap_size=model_config.heatmap_size, seed=seed,
                            train=train, **options)


@register_dataset("studio-multi")
def _build_multi(model_config, length: int = 10000, seed: int = 0, views: int = 4, **options) -> StudioMultiView:
    return StudioMultiView(length, views, model_config.image_size, heatmap_size=model_config.heatmap_size,
                           token_stride=model_config.token_stride, seed=seed, **options)
