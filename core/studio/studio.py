"""The virtual studio: a rig of virtual cameras filming a scene, with exact ground truth per frame.

:class:`Studio` renders frame ``index`` of every camera and returns the images with
:class:`FrameTruth`: world 3D keypoints, their exact projection in every camera (``camera.project``,
lens distortion included), per-camera visibility from the depth buffer and person boxes. Everything
is a function of the seed and the index (no hidden state), so frames can be rendered in any order.

Capture imperfections (:class:`Imperfections`, all off by default) make the virtual cameras behave like
unsynchronised real ones: a constant clock offset per camera, per-frame timing jitter, dropped frames
and sensor noise. With offsets or jitter on, each camera films the scene at its own capture time, so
its ground-truth 2D is the projection of the pose at that time (``FrameTruth.t_capture``), while
``joints_3d`` is the pose at the nominal time ``index / fps``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from core.geometry.camera import CameraRig
from core.studio.body import STUDIO_JOINTS
from core.studio.render import CameraRenderer, RenderResult, joint_visibility
from core.studio.rig_presets import load_studio_rig, make_rig, rig_center
from core.studio.scene import Scene, random_scene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Imperfections:
    """Timing and image defects of the virtual cameras (all off by default).

    Attributes:
        clock_offset_ms: each camera's clock offset is drawn once from [-x, x] milliseconds.
        jitter_ms: standard deviation of per-frame capture-time jitter, milliseconds.
        drop_rate: probability that a camera drops a frame (0-1).
        noise_sigma: Gaussian sensor noise, grey levels.
    """

    clock_offset_ms: float = 0.0
    jitter_ms: float = 0.0
    drop_rate: float = 0.0
    noise_sigma: float = 0.0

    def __post_init__(self) -> None:
        for name in ("clock_offset_ms", "jitter_ms", "noise_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {self.drop_rate}")

    @property
    def any(self) -> bool:
        return bool(self.clock_offset_ms or self.jitter_ms or self.drop_rate or self.noise_sigma)


@dataclass(frozen=True, eq=False)
class FrameTruth:
    """Exact ground truth of one studio frame (P people, C cameras, J = len(joint_names)).

    Attributes:
        index: frame index.
        t: nominal scene time ``index / fps``, seconds.
        joints_3d: world keypoints at ``t`` (P, J, 3) metres.
        joints_2d: keypoints in every camera (C, P, J, 2) pixels = ``camera.project`` of the pose at that
            camera's capture time (NaN behind the camera).
        visible: (C, P, J) bool: in the image and not hidden (depth test).
        boxes: tight person boxes from the rendered masks (C, P, 4) ``x0, y0, x1, y1`` pixels (inclusive);
            NaN when the person is not seen.
        t_capture: scene time at which each camera captured (C,) seconds.
        dropped: (C,) bool: the camera dropped this frame (no image).
        joint_names: J names (:data:`core.studio.body.STUDIO_JOINTS`).
    """

    index: int
    t: float
    joints_3d: np.ndarray
    joints_2d: np.ndarray
    visible: np.ndarray
    boxes: np.ndarray
    t_capture: np.ndarray
    dropped: np.ndarray
    joint_names: tuple[str, ...] = STUDIO_JOINTS


@dataclass(frozen=True, eq=False)
class StudioFrame:
    """Frame ``index`` of every camera.

    Attributes:
        index: frame index.
        images: camera name -> (H, W, 3) uint8 BGR (dropped cameras absent).
        truth: the frame's ground truth.
        renders: camera name -> :class:`RenderResult` (depth, labels) when asked for, else empty.
    """

    index: int
    images: dict[str, np.ndarray]
    truth: FrameTruth
    renders: dict[str, RenderResult]


def person_boxes(result: RenderResult, people: int) -> np.ndarray:
    """Tight boxes (P, 4) ``x0, y0, x1, y1`` (inclusive pixels) of each person's rendered mask; NaN if unseen."""
    boxes = np.full((people, 4), np.nan)
    labels = result.labels
    if people == 0 or result.owners.size == 0:
        return boxes
    rows = np.nonzero((labels >= 0).any(axis=1))[0]
    if rows.size == 0:
        return boxes
    y0, y1 = rows[0], rows[-1] + 1
    cols = np.nonzero((labels[y0:y1] >= 0).any(axis=0))[0]
    x0, x1 = cols[0], cols[-1] + 1
    sub = labels[y0:y1, x0:x1]
    owner = np.append(result.owners, -1)[sub]  # label -1 -> owner -1
    for p in range(people):
        m = owner == p
        if not m.any():
            continue
        r = np.nonzero(m.any(axis=1))[0]
        c = np.nonzero(m.any(axis=0))[0]
        boxes[p] = (x0 + c[0], y0 + r[0], x0 + c[-1], y0 + r[-1])
    return boxes


class Studio:
    """Virtual cameras filming a scene.

    Args:
        rig: the cameras (metres, Z up).
        scene: what they film.
        fps: frame rate, Hz.
        imperfections: timing and image defects (off by default).
        seed: seed of the imperfections' random draws.
        backdrop_downscale: bake the static backdrop at 1/n resolution (faster start, softer background).
        blur: soften actor edges like a real lens.
    """

    def __init__(self, rig: CameraRig, scene: Scene, fps: float = 30.0, imperfections: Imperfections = Imperfections(),
                 seed: int = 0, backdrop_downscale: int = 1, blur: bool = True) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if rig.units != "m":
            rig = rig.to_units("m")
        self.rig = rig
        self.scene = scene
        self.fps = float(fps)
        self.imperfections = imperfections
        self.seed = int(seed)
        self.blur = blur
        self.renderers = []
        for cam in rig:
            r = CameraRenderer(cam)
            r.set_backdrop(scene.backdrop(r, backdrop_downscale))
            self.renderers.append(r)
        rng = np.random.default_rng([self.seed, 104729])
        self.clock_offsets = rng.uniform(-1, 1, len(rig)) * imperfections.clock_offset_ms / 1000.0  # seconds
        log.debug("studio ready: %d cameras, %d people", len(rig), scene.num_people)

    @property
    def camera_names(self) -> list[str]:
        return self.rig.names

    # Timing ----------------------------------------------------------------------------------------
    def _frame_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 7, int(index)])

    def capture_times(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Scene times (C,) seconds at which each camera captures frame ``index``, and which cameras drop it (C,)."""
        if index < 0:
            raise ValueError(f"frame index must be >= 0, got {index}")
        imp = self.imperfections
        C = len(self.rig)
        t = np.full(C, index / self.fps) + self.clock_offsets
        rng = self._frame_rng(index)
        jitter = rng.normal(0.0, 1.0, C) * imp.jitter_ms / 1000.0
        drops = rng.random(C) < imp.drop_rate
        t = np.maximum(t + jitter, 0.0)
        return t, drops

    # Rendering -------------------------------------------------------------------------------------
    def render(self, index: int, keep_renders: bool = False) -> StudioFrame:
        """Images and ground truth of frame ``index`` for every camera."""
        times, dropped = self.capture_times(index)
        t_nominal = index / self.fps
        scene = self.scene
        P, J, C = scene.num_people, len(STUDIO_JOINTS), len(self.rig)
        uniq = np.unique(np.append(times, t_nominal))
        poses_at = {float(t): scene.poses(np.array([t])) for t in uniq}
        prims_at = {t: scene.primitives(p) for t, p in poses_at.items()}
        shadows_at = {t: scene.shadows(p) if scene.room else None for t, p in poses_at.items()}
        joints_3d = np.stack([p.joints[0] for p in poses_at[float(t_nominal)]]) if P else np.zeros((0, J, 3))
        joints_2d = np.full((C, P, J, 2), np.nan)
        visible = np.zeros((C, P, J), dtype=bool)
        boxes = np.full((C, P, 4), np.nan)
        images, renders = {}, {}
        owners = np.arange(P)
        for c, (cam, renderer) in enumerate(zip(self.rig, self.renderers)):
            tc = float(times[c])
            poses, prims = poses_at[tc], prims_at[tc]
            lighting = scene.lighting.at(tc)
            noise_rng = np.random.default_rng([self.seed, 11, int(index), c]) if self.imperfections.noise_sigma else None
            result = renderer.render(prims, scene.materials, lighting, shadows=shadows_at[tc], blur=self.blur,
                                     noise_sigma=self.imperfections.noise_sigma, rng=noise_rng)
            if P:
                cam_joints = np.stack([p.joints[0] for p in poses])
                joints_2d[c], visible[c] = joint_visibility(renderer, result, cam_joints, owners, scene.flesh, prims=prims)
                boxes[c] = person_boxes(result, P)
            if not dropped[c]:
                images[cam.name] = result.image
            if keep_renders:
                renders[cam.name] = result
        truth = FrameTruth(index=index, t=t_nominal, joints_3d=joints_3d, joints_2d=joints_2d, visible=visible,
                           boxes=boxes, t_capture=times, dropped=dropped)
        return StudioFrame(index=index, images=images, truth=truth, renders=renders)


def make_studio(
    preset: str | None = "ring4",
    *,
    calibration=None,
    rig: CameraRig | None = None,
    motion: str = "walk",
    people: int = 1,
    seed: int = 0,
    fps: float = 30.0,
    size: tuple[int, int] = (640, 480),
    props: bool = True,
    room: bool = True,
    lighting_changes: bool = True,
    volume_radius: float | None = None,
    imperfections: Imperfections = Imperfections(),
    backdrop_downscale: int = 1,
) -> Studio:
    """A ready studio from a preset name, a calibration file or a rig.

    Args:
        preset: a name of :data:`core.studio.rig_presets.PRESETS` (ignored when ``calibration`` or ``rig`` is given).
        calibration: path of a calibration file (any format :func:`core.geometry.load_rig` reads; Z up).
        rig: a ready rig.
        motion: a name of :data:`core.studio.motion.MOTIONS` or a .trc file.
        people: number of actors.
        seed: the seed of everything random.
        fps: frame rate, Hz.
        size: image (width, height) for presets.
        props, room, lighting_changes: scene options (see :func:`core.studio.scene.random_scene`).
        volume_radius: radius of the area the actors move in (default 1.5 m for presets, from the rig otherwise).
        imperfections: capture defects.
        backdrop_downscale: see :class:`Studio`.
    """
    if rig is None:
        if calibration is not None:
            rig = load_studio_rig(calibration)
        elif preset is not None:
            rig = make_rig(preset, size=size, seed=0)
        else:
            raise ValueError("make_studio needs a preset, a calibration file or a rig")
    center = rig_center(rig)
    spread = np.linalg.norm(rig.centers[:, :2] - center, axis=1)
    if volume_radius is None:
        volume_radius = float(np.clip(0.35 * np.median(spread), 0.5, 1.5))
    room_half = float(spread.max() + 1.0)
    room_height = float(max(2.8, rig.centers[:, 2].max() + 0.5))
    scene = random_scene(seed, motion, people, props=props, room=room, lighting_changes=lighting_changes,
                         volume_radius=volume_radius, center=center, room_half=room_half, room_height=room_height)
    return Studio(rig, scene, fps=fps, imperfections=imperfections, seed=seed, backdrop_downscale=backdrop_downscale)
