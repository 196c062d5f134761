"""The studio's world: a textured room, occluding props, changing light, and the actors with their motions.

World frame Z up, metres, floor at z = 0. The room is a box ``[-half_x, half_x] x [-half_y, half_y] x
[0, height]`` with procedurally textured floor and walls (planks, tiles, concrete, carpet, mats; paint,
brick, panels, with posters, doors and windows). Props are boxes and pillars standing on the floor.
Everything static is baked once per camera into a :class:`core.studio.render.Backdrop` (colour, depth,
floor coordinates) by casting the camera's rays; actors are drawn over it every frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.studio.actor import Actor, Primitives, random_actor
from core.studio.body import BodyPose, Motion
from core.studio.motion import make_motion
from core.studio.render import Backdrop, CameraRenderer, Lighting, MaterialTable, plain_backdrop

log = logging.getLogger(__name__)

FLOOR_KINDS = ("planks", "tiles", "concrete", "carpet", "mats")
WALL_KINDS = ("paint", "brick", "panels", "curtain")
TEXELS_PER_M = 100  # wall and floor texture resolution


# ------------------------------------------------------------------------------------------------
# Procedural textures (BGR uint8)
def _value_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth noise in [0, 1], (h, w) float32, features about ``cell`` pixels wide."""
    small = rng.random((max(2, h // cell + 2), max(2, w // cell + 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _colour(rng: np.random.Generator, sat=(0.1, 0.6), val=(0.35, 0.9)) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), int(255 * rng.uniform(*sat)), int(255 * rng.uniform(*val))]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def floor_texture(rng: np.random.Generator, size_m: tuple[float, float], kind: str | None = None) -> np.ndarray:
    """A floor texture covering ``size_m`` = (x extent, y extent) metres; rows run along world y."""
    kind = kind or FLOOR_KINDS[rng.integers(len(FLOOR_KINDS))]
    w, h = int(size_m[0] * TEXELS_PER_M), int(size_m[1] * TEXELS_PER_M)
    saturation = {"concrete": (0.0, 0.12), "carpet": (0.05, 0.35), "tiles": (0.05, 0.45)}.get(kind, (0.05, 0.55))
    base = _colour(rng, saturation, (0.3, 0.8))
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    n = _value_noise(rng, h, w, 40)[..., None]
    if kind == "planks":
        wood = np.array([rng.uniform(40, 90), rng.uniform(80, 130), rng.uniform(120, 190)], np.float32)
        img[:] = wood
        plank_w = int(rng.uniform(0.12, 0.22) * TEXELS_PER_M)
        for x0 in range(0, w, plank_w):
            shade = rng.uniform(0.75, 1.2)
            img[:, x0:x0 + plank_w] *= shade
            offset = int(rng.uniform(0, 3) * TEXELS_PER_M)
            for y in range(-offset, h, int(rng.uniform(1.2, 2.5) * TEXELS_PER_M)):
                if 0 <= y < h:
                    img[y:y + 2, x0:x0 + plank_w] *= 0.6
            img[:, x0:x0 + 2] *= 0.55
        grain = _value_noise(rng, h // 8 + 1, w, 3)
        img *= (0.85 + 0.3 * cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR))[..., None]
    elif kind == "tiles":
        tile = int(rng.uniform(0.3, 0.6) * TEXELS_PER_M)
        alt = base * rng.uniform(0.7, 1.1)
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                if rng.random() < 0.35:
                    img[y0:y0 + tile, x0:x0 + tile] = alt * rng.uniform(0.95, 1.05)
        img[::tile, :] = img[::tile, :] * 0.5 + 90
        img[:, ::tile] = img[:, ::tile] * 0.5 + 90
        img *= (0.9 + 0.2 * n)
    elif kind == "concrete":
        img *= (0.7 + 0.5 * n) * (0.9 + 0.2 * _value_noise(rng, h, w, 6)[..., None])
    elif kind == "carpet":
        img *= (0.8 + 0.3 * n) * (0.85 + 0.3 * rng.random((h, w, 1)).astype(np.float32))
    else:  # gym mats: large squares of two colours
        tile = int(rng.uniform(0.8, 1.2) * TEXELS_PER_M)
        other = _colour(rng, (0.3, 0.8), (0.3, 0.8))
        yy, xx = np.mgrid[0:h, 0:w]
        chk = ((yy // tile + xx // tile) % 2).astype(bool)
        img[chk] = other
        img *= (0.9 + 0.15 * n)
        img[::tile, :] *= 0.6
        img[:, ::tile] *= 0.6
    return np.clip(img, 0, 255).astype(np.uint8)


def wall_texture(rng: np.random.Generator, length_m: float, height_m: float, kind: str | None = None) -> np.ndarray:
    """A wall texture (rows = height, top row at the ceiling) with decorations."""
    kind = kind or WALL_KINDS[rng.integers(len(WALL_KINDS))]
    w, h = int(length_m * TEXELS_PER_M), int(height_m * TEXELS_PER_M)
    base = _colour(rng, (0.02, 0.45), (0.45, 0.92))
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    n = _value_noise(rng, h, w, 60)[..., None]
    if kind == "brick":
        bh, bw = int(0.075 * TEXELS_PER_M), int(0.22 * TEXELS_PER_M)
        brick = np.array([rng.uniform(40, 80), rng.uniform(60, 100), rng.uniform(120, 170)], np.float32)
        img[:] = brick
        for r, y0 in enumerate(range(0, h, bh)):
            shift = (bw // 2) * (r % 2)
            for x0 in range(-shift, w, bw):
                img[y0:y0 + bh, max(x0, 0):x0 + bw] *= rng.uniform(0.8, 1.15)
            img[y0:y0 + 2] = 170
        for r, y0 in enumerate(range(0, h, bh)):
            for x0 in range(-(bw // 2) * (r % 2), w, bw):
                if x0 >= 0:
                    img[y0:y0 + bh, x0:x0 + 2] = 170
    elif kind == "panels":
        pw = int(rng.uniform(0.6, 1.2) * TEXELS_PER_M)
        for x0 in range(0, w, pw):
            img[:, x0:x0 + pw] *= rng.uniform(0.9, 1.1)
            img[:, x0:x0 + 3] *= 0.6
    elif kind == "curtain":
        xs = np.arange(w, dtype=np.float32)
        folds = 0.8 + 0.2 * np.sin(xs / TEXELS_PER_M * 2 * np.pi / rng.uniform(0.12, 0.25))
        img *= folds[None, :, None]
    img *= 0.85 + 0.25 * n
    if rng.random() < 0.4:  # a dado: the lower part of the wall in another colour
        y0 = h - int(rng.uniform(0.8, 1.2) * TEXELS_PER_M)
        img[y0:] = _colour(rng, (0.02, 0.5), (0.3, 0.85)) * (0.9 + 0.15 * n[y0:])
        img[y0:y0 + 4] *= 0.7
    for _ in range(int(rng.integers(0, 3))):  # shelves with boxes and books
        sw = int(rng.uniform(0.8, 2.0) * TEXELS_PER_M)
        x0 = int(rng.uniform(0, max(w - sw, 1)))
        for level in range(int(rng.integers(2, 5))):
            y = h - int((0.5 + 0.4 * level) * TEXELS_PER_M)
            img[y:y + 5, x0:x0 + sw] = (60, 70, 80)
            x = x0 + 4
            while x < x0 + sw - 10:
                bw, bh = int(rng.uniform(3, 14)), int(rng.uniform(15, 30))
                img[y - bh:y, x:x + bw] = _colour(rng, (0.2, 0.9), (0.2, 0.9))
                x += bw + int(rng.uniform(0, 6))
    # Decorations: posters, a door, windows, a baseboard.
    for _ in range(int(rng.integers(2, 8))):
        pw, ph = int(rng.uniform(0.4, 1.4) * TEXELS_PER_M), int(rng.uniform(0.5, 1.2) * TEXELS_PER_M)
        x0, y0 = int(rng.uniform(0, max(w - pw, 1))), int(rng.uniform(0.15 * h, max(0.6 * h - ph, 0.15 * h + 1)))
        kind_p = rng.integers(3)
        colour = _colour(rng, (0.3, 1.0), (0.3, 1.0))
        img[y0:y0 + ph, x0:x0 + pw] = colour
        if kind_p == 0:  # text-like lines
            for yy in range(y0 + 10, y0 + ph - 8, 14):
                lw = int(rng.uniform(0.3, 0.9) * (pw - 16))
                img[yy:yy + 5, x0 + 8:x0 + 8 + lw] = _colour(rng, (0, 0.3), (0.05, 0.4))
        elif kind_p == 1:  # a big shape
            cv2.circle(img, (x0 + pw // 2, y0 + ph // 2), int(min(pw, ph) * 0.35),
                       tuple(float(c) for c in _colour(rng, (0.5, 1), (0.4, 1))), -1)
        else:
            for _ in range(5):
                a = (x0 + int(rng.uniform(0, pw)), y0 + int(rng.uniform(0, ph)))
                b = (x0 + int(rng.uniform(0, pw)), y0 + int(rng.uniform(0, ph)))
                cv2.line(img, a, b, tuple(float(c) for c in _colour(rng, (0.5, 1), (0.3, 1))), 6)
        cv2.rectangle(img, (x0, y0), (x0 + pw, y0 + ph), (40, 40, 40), 2)
    if rng.random() < 0.6 and w > 150:  # door
        dw, dh = int(0.9 * TEXELS_PER_M), int(min(2.1, height_m - 0.2) * TEXELS_PER_M)
        x0 = int(rng.uniform(0, w - dw))
        img[h - dh:h, x0:x0 + dw] = _colour(rng, (0.1, 0.5), (0.2, 0.7))
        cv2.rectangle(img, (x0, h - dh), (x0 + dw, h), (30, 30, 30), 3)
        cv2.circle(img, (x0 + dw - 12, h - dh // 2), 4, (180, 180, 180), -1)
    for _ in range(int(rng.integers(0, 3))):  # windows
        ww, wh = int(rng.uniform(0.8, 1.8) * TEXELS_PER_M), int(rng.uniform(0.7, 1.2) * TEXELS_PER_M)
        x0, y0 = int(rng.uniform(0, max(w - ww, 1))), int(0.15 * h)
        sky = np.array([rng.uniform(200, 250), rng.uniform(190, 240), rng.uniform(160, 220)], np.float32)
        img[y0:y0 + wh, x0:x0 + ww] = sky
        cv2.rectangle(img, (x0, y0), (x0 + ww, y0 + wh), (235, 235, 235), 5)
        cv2.line(img, (x0 + ww // 2, y0), (x0 + ww // 2, y0 + wh), (235, 235, 235), 4)
    img[h - int(0.1 * TEXELS_PER_M):] = _colour(rng, (0, 0.3), (0.1, 0.6))  # baseboard
    return np.clip(img, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Room:
    """A box room around ``center``.

    Attributes:
        half_x, half_y: half extents along world x and y, metres.
        height: ceiling height, metres.
        floor: floor texture (H, W, 3) uint8 over ``[-half_x, half_x] x [-half_y, half_y]``.
        walls: four wall textures, walls at x = +half_x, y = +half_y, x = -half_x, y = -half_y.
        ceiling: ceiling colour BGR (3,).
    """

    half_x: float
    half_y: float
    height: float
    floor: np.ndarray
    walls: tuple[np.ndarray, ...]
    ceiling: np.ndarray = field(default_factory=lambda: np.array([200.0, 200.0, 200.0]))
    center: np.ndarray = field(default_factory=lambda: np.zeros(2))


def random_room(rng: np.random.Generator, min_half: float = 5.0, center=(0.0, 0.0), min_height: float = 2.8) -> Room:
    """A random room around ``center``, its walls at least ``min_half`` metres from it."""
    hx, hy = float(rng.uniform(min_half, min_half + 2.5)), float(rng.uniform(min_half, min_half + 2.5))
    height = float(rng.uniform(min_height, min_height + 1.2))
    floor = floor_texture(rng, (2 * hx, 2 * hy))
    kind = WALL_KINDS[rng.integers(len(WALL_KINDS))]
    walls = tuple(wall_texture(rng, 2 * (hy if i % 2 == 0 else hx), height, kind if rng.random() < 0.7 else None)
                  for i in range(4))
    return Room(hx, hy, height, floor, walls, ceiling=_colour(rng, (0, 0.1), (0.6, 0.9)),
                center=np.asarray(center, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class Prop:
    """A static object on the floor that can hide the actors.

    Attributes:
        kind: ``"box"`` (crate, table, cabinet, stool) or ``"pillar"`` (vertical cylinder).
        center: centre of its footprint on the floor (2,) metres.
        size: box (length, width, height) or pillar (diameter, diameter, height), metres.
        yaw: rotation about z, radians.
        color: BGR 0-255 (3,).
    """

    kind: str
    center: np.ndarray
    size: np.ndarray
    yaw: float
    color: np.ndarray

    def __post_init__(self) -> None:
        if self.kind not in ("box", "pillar"):
            raise ValueError(f"prop kind must be 'box' or 'pillar', got {self.kind!r}")

    def inside(self, points: np.ndarray) -> np.ndarray:
        """Which world points (N, 3) lie inside the prop, (N,) bool."""
        p = np.asarray(points, dtype=np.float64)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        d = p[:, :2] - self.center
        lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        inz = (p[:, 2] >= 0) & (p[:, 2] <= self.size[2])
        if self.kind == "pillar":
            return inz & (lx * lx + ly * ly <= (self.size[0] / 2) ** 2)
        return inz & (np.abs(lx) <= self.size[0] / 2) & (np.abs(ly) <= self.size[1] / 2)


def random_props(rng: np.random.Generator, count: int, keep_out: float, max_radius: float) -> list[Prop]:
    """``count`` props placed between ``keep_out`` and ``max_radius`` metres from the origin."""
    props = []
    for _ in range(count):
        r = rng.uniform(keep_out, max_radius)
        a = rng.uniform(0, 2 * np.pi)
        centre = np.array([r * np.cos(a), r * np.sin(a)])
        kind = "pillar" if rng.random() < 0.25 else "box"
        if kind == "pillar":
            d = rng.uniform(0.2, 0.45)
            size = np.array([d, d, rng.uniform(1.8, 3.0)])
        else:
            size = np.array([rng.uniform(0.4, 1.2), rng.uniform(0.3, 0.8), rng.uniform(0.4, 1.3)])
        props.append(Prop(kind, centre, size, float(rng.uniform(0, np.pi)), _colour(rng, (0.1, 0.7), (0.25, 0.85))))
    return props


def stool(center_xy: np.ndarray, yaw: float, seat_height: float, rng: np.random.Generator) -> Prop:
    """A stool to sit on, its top at ``seat_height`` metres."""
    return Prop("box", np.asarray(center_xy, dtype=np.float64), np.array([0.42, 0.42, seat_height]), yaw,
                _colour(rng, (0.2, 0.7), (0.25, 0.7)))


# ------------------------------------------------------------------------------------------------
def bake_backdrop(renderer: CameraRenderer, room: Room, props: list[Prop], downscale: int = 1) -> Backdrop:
    """Ray-cast the room and props for one camera: colour, camera depth and floor coordinates per pixel.

    ``downscale`` > 1 casts every n-th pixel and enlarges the result (faster; a slightly soft backdrop).
    """
    cam = renderer.camera
    W, H = cam.size
    step = max(int(downscale), 1)
    ux, uy, uz = (a[::step, ::step].astype(np.float64) for a in (renderer.ux, renderer.uy, renderer.uz))
    h, w = ux.shape
    d_cam = np.stack([ux, uy, uz], axis=-1)
    d = d_cam @ cam.R  # world directions (h, w, 3)
    offset = np.array([room.center[0], room.center[1], 0.0])
    C = cam.center - offset  # work in room coordinates
    with np.errstate(divide="ignore", invalid="ignore"):
        planes = []  # (t, surface id)
        for axis, value, sid in ((2, 0.0, 0), (2, room.height, 5), (0, room.half_x, 1), (1, room.half_y, 2),
                                 (0, -room.half_x, 3), (1, -room.half_y, 4)):
            t = (value - C[axis]) / d[..., axis]
            planes.append(np.where(t > 1e-6, t, np.inf))
    T = np.stack(planes, axis=0)
    sid = np.argmin(T, axis=0)
    t = np.min(T, axis=0)
    t = np.where(np.isfinite(t), t, 1e3)
    P = C + d * t[..., None]
    img = np.zeros((h, w, 3), np.float32)
    # Floor.
    tex = room.floor
    fh, fw = tex.shape[:2]
    mx = ((P[..., 0] + room.half_x) / (2 * room.half_x) * fw).astype(np.float32)
    my = ((P[..., 1] + room.half_y) / (2 * room.half_y) * fh).astype(np.float32)
    sel = sid == 0
    if sel.any():
        img[sel] = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)[sel]
    # Walls: texture column runs along the wall, counter-clockwise seen from above.
    for k in range(4):
        sel = sid == k + 1
        if not sel.any():
            continue
        tex = room.walls[k]
        th, tw = tex.shape[:2]
        if k == 0:
            s = P[..., 1] + room.half_y
        elif k == 1:
            s = room.half_x - P[..., 0]
        elif k == 2:
            s = room.half_y - P[..., 1]
        else:
            s = P[..., 0] + room.half_x
        length = 2 * (room.half_y if k % 2 == 0 else room.half_x)
        mx = (s / length * tw).astype(np.float32)
        my = ((room.height - P[..., 2]) / room.height * th).astype(np.float32)
        img[sel] = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)[sel]
    img[sid == 5] = room.ceiling
    # Soft lighting: a pool of light in the middle, darker corners and wall bottoms.
    r2 = P[..., 0] ** 2 + P[..., 1] ** 2
    light = 0.72 + 0.38 * np.exp(-r2 / (2 * 3.0 ** 2))
    wall_dist = np.minimum(room.half_x - np.abs(P[..., 0]), room.half_y - np.abs(P[..., 1]))
    light *= np.where(sid == 0, 1 - 0.3 * np.exp(-np.maximum(wall_dist, 0) / 0.25), 1.0)
    light *= np.where((sid >= 1) & (sid <= 4), 0.8 + 0.2 * np.clip(P[..., 2] / room.height, 0, 1), 1.0)
    img *= light[..., None]
    floor_xy = np.where((sid == 0)[..., None], P[..., :2] + room.center, np.nan).astype(np.float32)
    depth_t = t.copy()
    # Props.
    for prop in props:
        tp, normal = _ray_prop(prop, C + offset, d)
        closer = tp < depth_t
        if not closer.any():
            continue
        depth_t = np.where(closer, tp, depth_t)
        key = np.array([0.35, -0.25, 0.9])
        key /= np.linalg.norm(key)
        shade = 0.45 + 0.55 * np.clip(normal @ key, 0, 1)
        Pp = C + offset + d * np.where(closer, tp, 0.0)[..., None]
        grain = 0.9 + 0.1 * np.sin(Pp[..., 2] * 40.0 + Pp[..., 0] * 7.0)
        img[closer] = (prop.color[None, :] * (shade * grain)[..., None])[closer]
        floor_xy[closer] = np.nan
    depth = (depth_t * uz).astype(np.float32)  # uz: z component of the unit ray in the camera frame
    img = np.clip(img, 0, 255).astype(np.uint8)
    if step > 1:
        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR)
        depth = cv2.resize(depth, (W, H), interpolation=cv2.INTER_NEAREST)
        floor_xy = cv2.resize(floor_xy, (W, H), interpolation=cv2.INTER_NEAREST)
    else:
        img = cv2.GaussianBlur(img, (3, 3), 0.5)
    return Backdrop(image=img, depth=depth, floor_xy=floor_xy)


def _ray_prop(prop: Prop, C: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance along world rays (h, w, 3) from ``C`` to a prop (inf if missed) and the surface normal."""
    c, s = np.cos(prop.yaw), np.sin(prop.yaw)
    Rl = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])  # world -> prop
    o = Rl @ (C - np.array([prop.center[0], prop.center[1], prop.size[2] / 2]))
    dl = d @ Rl.T
    half = prop.size / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if prop.kind == "box":
            t1 = (-half - o) / dl
            t2 = (half - o) / dl
            tmin = np.minimum(t1, t2)
            tmax = np.maximum(t1, t2)
            tn = tmin.max(axis=-1)
            tf = tmax.min(axis=-1)
            hit = (tn <= tf) & (tn > 1e-6)
            face = tmin.argmax(axis=-1)
            n_local = np.zeros(d.shape)
            sign = -np.sign(np.take_along_axis(dl, face[..., None], axis=-1))[..., 0]
            np.put_along_axis(n_local, face[..., None], sign[..., None], axis=-1)
            t = np.where(hit, tn, np.inf)
        else:
            r = half[0]
            a = dl[..., 0] ** 2 + dl[..., 1] ** 2
            b = o[0] * dl[..., 0] + o[1] * dl[..., 1]
            cc = o[0] ** 2 + o[1] ** 2 - r * r
            disc = b * b - a * cc
            tc = (-b - np.sqrt(np.maximum(disc, 0))) / a
            zc = o[2] + tc * dl[..., 2]
            side = (disc > 0) & (tc > 1e-6) & (np.abs(zc) <= half[2])
            ttop = (half[2] - o[2]) / dl[..., 2]
            ptop = o[:2] + ttop[..., None] * dl[..., :2]
            top = (ttop > 1e-6) & ((ptop ** 2).sum(axis=-1) <= r * r) & (o[2] > half[2])
            t = np.where(side, tc, np.where(top, ttop, np.inf))
            n_local = np.zeros(d.shape)
            pl = o + tc[..., None] * dl
            n_local[..., 0] = np.where(side, pl[..., 0] / r, 0)
            n_local[..., 1] = np.where(side, pl[..., 1] / r, 0)
            n_local[..., 2] = np.where(side, 0, 1)
    return t, n_local @ Rl  # local -> world normal


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LightingSchedule:
    """Slow, smooth lighting changes over time (deterministic by seed).

    Attributes:
        base: the lighting at rest.
        exposure_amp: relative exposure swing (0 = constant).
        period_s: period of the swing, seconds.
        phase: phase, radians.
        key_turn: how far the key light swings in azimuth, radians.
        tint_amp: colour tint swing per channel.
    """

    base: Lighting = Lighting()
    exposure_amp: float = 0.0
    period_s: float = 20.0
    phase: float = 0.0
    key_turn: float = 0.0
    tint_amp: float = 0.0

    def at(self, t: float) -> Lighting:
        w = 2 * np.pi * t / self.period_s + self.phase
        b = self.base
        az = self.key_turn * np.sin(0.7 * w)
        c, s = np.cos(az), np.sin(az)
        kx, ky, kz = b.key_dir
        tint = tuple(float(v) * (1 + self.tint_amp * np.sin(w + k * 2.1)) for k, v in enumerate(b.tint))
        return Lighting(key_dir=(c * kx - s * ky, s * kx + c * ky, kz), fill_dir=b.fill_dir, key=b.key, fill=b.fill,
                        ambient=b.ambient, tint=tint, exposure=float(b.exposure * (1 + self.exposure_amp * np.sin(w))))


def random_lighting(rng: np.random.Generator, changes: bool = True) -> LightingSchedule:
    """Random key/fill lights and, when ``changes``, slow exposure, direction and tint drifts."""
    az = rng.uniform(0, 2 * np.pi)
    el = rng.uniform(0.6, 1.2)
    key_dir = (np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el))
    fill_dir = (-np.cos(az), -np.sin(az), 0.5)
    key = float(rng.uniform(0.45, 0.65))
    fill = float(rng.uniform(0.12, 0.3))
    ambient = float(np.clip(1.0 - key - 0.4 * fill, 0.22, 0.42))  # lit faces reach about 1, light colours do not clip
    base = Lighting(key_dir=key_dir, fill_dir=fill_dir, key=key, fill=fill, ambient=ambient,
                    tint=tuple(float(v) for v in rng.uniform(0.93, 1.07, 3)), exposure=float(rng.uniform(0.85, 1.08)))
    if not changes:
        return LightingSchedule(base=base)
    return LightingSchedule(base=base, exposure_amp=float(rng.uniform(0.05, 0.2)), period_s=float(rng.uniform(8, 30)),
                            phase=float(rng.uniform(0, 2 * np.pi)), key_turn=float(rng.uniform(0.2, 0.8)),
                            tint_amp=float(rng.uniform(0.0, 0.05)))


# ------------------------------------------------------------------------------------------------
def check_distractor_distance(value) -> tuple[float, float] | None:
    """``(min, max)`` metres from the subject to another person (``None`` passes through); ``ValueError`` naming the
    option when it is not ``0 <= min <= max``."""
    if value is None:
        return None
    lo, hi = (float(v) for v in value)
    if not 0.0 <= lo <= hi:
        raise ValueError(f"distractor_distance must be (min, max) metres with 0 <= min <= max, got {tuple(value)}")
    return lo, hi


@dataclass(eq=False)
class SceneActor:
    """An actor with their motion."""

    actor: Actor
    motion: Motion


@dataclass(eq=False)
class Scene:
    """Everything the virtual cameras film.

    Attributes:
        actors: the people and their motions.
        room: the room (None = plain grey backdrop).
        props: static occluders.
        lighting: lighting over time.
        seed: the seed it was built from.
    """

    actors: list[SceneActor]
    room: Room | None
    props: list[Prop]
    lighting: LightingSchedule
    seed: int = 0

    def __post_init__(self) -> None:
        mats = []
        self.material_offsets = []
        for sa in self.actors:
            self.material_offsets.append(len(mats))
            mats.extend(sa.actor.template.materials)
        self.materials = MaterialTable.from_materials(mats) if mats else None
        self.flesh = np.stack([sa.actor.flesh for sa in self.actors]) if self.actors else np.zeros((0, 0))

    @property
    def num_people(self) -> int:
        return len(self.actors)

    def poses(self, times: np.ndarray) -> list[BodyPose]:
        """Every actor's pose at ``times`` (T,) seconds."""
        return [sa.motion.sample(sa.actor.shape, times) for sa in self.actors]

    def primitives(self, poses: list[BodyPose], frame: int = 0) -> Primitives:
        """World primitives of all actors at one frame of ``poses``."""
        return Primitives.concatenate([sa.actor.primitives(p, frame, owner=i, material_offset=self.material_offsets[i])
                                       for i, (sa, p) in enumerate(zip(self.actors, poses))])

    def shadows(self, poses: list[BodyPose], frame: int = 0) -> list[tuple[float, float, float, float]]:
        """Soft contact shadows: one under each actor's pelvis, one under each foot."""
        out = []
        for sa, p in zip(self.actors, poses):
            j = p.joints[frame]
            lift = max(0.0, float(min(j[3, 2], j[6, 2])) - 0.1)
            fade = float(np.exp(-lift / 0.3))
            out.append((float(j[0, 0]), float(j[0, 1]), 0.24 * sa.actor.shape.height / 1.75, 0.45 * fade))
            for a in (3, 6):
                if j[a, 2] < 0.25:
                    out.append((float(j[a, 0]), float(j[a, 1]), 0.09, 0.4 * (1 - j[a, 2] / 0.25)))
        return out

    def backdrop(self, renderer: CameraRenderer, downscale: int = 1) -> Backdrop:
        """Bake this scene's static part for a camera."""
        if self.room is None:

            return plain_backdrop(renderer.camera.size)
        return bake_backdrop(renderer, self.room, self.props, downscale)


def random_scene(
    seed: int = 0,
    motion: str = "walk",
    people: int = 1,
    *,
    props: bool = True,
    room: bool = True,
    lighting_changes: bool = True,
    volume_radius: float = 1.5,
    center=(0.0, 0.0),
    room_half: float = 5.0,
    room_height: float = 2.8,
    actors: list[Actor] | None = None,
) -> Scene:
    """A random scene, deterministic by ``seed``.

    Args:
        seed: random seed (actors, appearance, motion, room, props, lights).
        motion: a name of :data:`core.studio.motion.MOTIONS` or a .trc path, for every actor.
        people: number of actors (1-6); with several, each gets its own part of the capture volume.
        props: add occluding props around the capture volume.
        room: textured room (else a plain grey backdrop).
        lighting_changes: slowly changing light.
        volume_radius: radius of the capture volume the actors stay in, metres.
        center: centre of the capture volume on the floor (2,), metres.
        room_half: the room's walls are at least this far from ``center``, metres (keep cameras inside).
        room_height: minimum ceiling height, metres.
        actors: use these actors instead of random ones.
    """
    if not 1 <= people <= 6:
        raise ValueError(f"people must be between 1 and 6, got {people}")
    rng = np.random.default_rng(seed)
    middle = np.asarray(center, dtype=np.float64)
    scene_actors = []
    playback = str(motion).lower().endswith(".trc")
    for i in range(people):
        if people == 1:
            area, radius = middle, volume_radius
        else:
            a = 2 * np.pi * i / people + rng.uniform(-0.3, 0.3)
            area = middle + volume_radius * 0.55 * np.array([np.cos(a), np.sin(a)])
            radius = max(0.35, volume_radius * 0.9 * np.sin(np.pi / people))
        if playback:  # the actor is sized to the recorded person
            m = make_motion(motion, None, start_xy=area)
            actor = actors[i] if actors and i < len(actors) else random_actor(rng, name=f"actor{i}", shape=m.shape)
        else:
            actor = actors[i] if actors and i < len(actors) else random_actor(rng, name=f"actor{i}")
            m = make_motion(motion, actor.shape, seed=seed * 1000 + i, start_xy=area, radius=radius, center=area)
        scene_actors.append(SceneActor(actor, m))
    room_obj = random_room(rng, room_half, middle, room_height) if room else None
    prop_list = []
    if props:
        prop_list = random_props(rng, int(rng.integers(1, 4)), volume_radius + 0.6, volume_radius + 1.6)
        prop_list = [Prop(p.kind, p.center + middle, p.size, p.yaw, p.color) for p in prop_list]
    # Stools for sitting.
    for sa in scene_actors:
        for xy, yaw, pelvis_z in sa.motion.seats(sa.actor.shape, 60.0):
            back = np.array([np.cos(yaw), np.sin(yaw)]) * -0.04 * sa.actor.shape.height
            seat = pelvis_z - 0.066 * sa.actor.shape.height - 0.005
            prop_list.append(stool(xy + back, yaw, max(seat, 0.2), rng))
    return Scene(scene_actors, room_obj, prop_list, random_lighting(rng, lighting_changes), seed=seed)
