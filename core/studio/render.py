"""Ray-cast rendering of studio primitives for one camera, with a z-buffer (numpy + OpenCV, no OpenGL).

Each camera keeps the unit viewing ray of every pixel centre, computed once by undistorting the pixel grid
with the camera's own lens model: casting those rays draws the scene with exactly the distortion that
:meth:`core.geometry.Camera.project` applies, so ground-truth keypoints land on the rendered body.

Per frame: the cached backdrop (room, floor, props; with its depth) is copied and relit, then every
primitive is intersected analytically with the rays inside its screen bounding box (ellipsoids: a
quadratic; round cones: the convex hull of two spheres) and z-tested per pixel, so occlusion between
people, props and a body's own parts is depth-correct. Surviving pixels are shaded (Lambert key + fill,
ambient, a little specular) with the material's procedural pattern evaluated in the part's own frame.

Frames: camera frame ``X_cam = R X + t`` (x right, y down, z forward); depth buffers hold camera ``z``
in metres; ``labels`` hold the primitive index (-1 = backdrop).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from core.geometry.camera import Camera
from core.studio.actor import CHECKS, DOTS, NOISE, PLAIN, STRIPES, VSTRIPES, Material, Primitives

log = logging.getLogger(__name__)

NEAR = 0.05  # metres: nothing closer to a camera is drawn
_TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Lighting:
    """Lights of one frame (world frame directions point from the scene toward the light).

    Attributes:
        key_dir: main light direction (3,).
        fill_dir: fill light direction (3,).
        key, fill, ambient: intensities (about 0-1; their sum near 1.1 gives a well-exposed image).
        tint: colour gain per channel, BGR (3,).
        exposure: overall gain applied to everything, backdrop included.
    """

    key_dir: tuple = (0.4, -0.3, 0.85)
    fill_dir: tuple = (-0.6, 0.5, 0.4)
    key: float = 0.62
    fill: float = 0.25
    ambient: float = 0.33
    tint: tuple = (1.0, 1.0, 1.0)
    exposure: float = 1.0


@dataclass(frozen=True, eq=False)
class MaterialTable:
    """Materials packed as arrays for the renderer (colours BGR 0-255)."""

    color: np.ndarray  # (M, 3)
    color2: np.ndarray  # (M, 3)
    pattern: np.ndarray  # (M,)
    period: np.ndarray  # (M,)
    waves: np.ndarray  # (M, 3, 3)
    shine: np.ndarray  # (M,)

    @staticmethod
    def from_materials(materials: list[Material]) -> "MaterialTable":
        return MaterialTable(
            color=np.array([m.color for m in materials], dtype=np.float32).reshape(-1, 3),
            color2=np.array([m.color if m.color2 is None else m.color2 for m in materials],
                            dtype=np.float32).reshape(-1, 3),
            pattern=np.array([m.pattern for m in materials], dtype=int),
            period=np.array([m.period for m in materials], dtype=np.float64),
            waves=np.array([m.waves for m in materials], dtype=np.float32).reshape(-1, 3, 3),
            shine=np.array([m.shine for m in materials], dtype=np.float64),
        )


@dataclass(frozen=True, eq=False)
class Backdrop:
    """What a camera sees with no actors, cached per camera.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        depth: camera z of the surface on each pixel (H, W) float32, metres (inf = nothing).
        floor_xy: world (x, y) of the floor seen on each pixel (H, W, 2) float32; NaN where not floor.
    """

    image: np.ndarray
    depth: np.ndarray
    floor_xy: np.ndarray


@dataclass(frozen=True, eq=False)
class RenderResult:
    """One rendered camera image.

    Attributes:
        image: (H, W, 3) uint8 BGR.
        depth: camera z per pixel (H, W) float32, metres.
        labels: primitive index per pixel (H, W) int16; -1 where the backdrop shows.
        owners: actor index of each primitive (N,) (so ``owners[labels]`` is the person mask).
    """

    image: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    owners: np.ndarray

    def person_mask(self, owner: int | None = None) -> np.ndarray:
        """(H, W) bool: pixels of any actor, or of actor ``owner``."""
        if owner is None:
            return self.labels >= 0
        table = np.append(self.owners == owner, False)  # index -1 -> False
        return table[self.labels]


def _pattern_weight(pattern: int, q: np.ndarray, period: np.ndarray, waves: np.ndarray) -> np.ndarray:
    """Second-colour weight in [0, 1] of a pattern at local points.

    Args:
        pattern: pattern id (not PLAIN).
        q: points in the part's frame (n, 3) metres.
        period: pattern period per point (n,) metres.
        waves: wave vectors per point (n, 3, 3) rad/m (NOISE only).
    """
    if pattern == STRIPES:
        return np.clip(0.5 + 1.6 * np.sin(q[:, 2] * (_TWO_PI / period)), 0.0, 1.0)
    if pattern == DOTS:
        f = q / (period[:, None] * 0.8)
        d = f - np.floor(f) - 0.5
        return np.clip((0.33 - np.sqrt((d * d).sum(axis=1))) * 12.0, 0.0, 1.0)
    if pattern == NOISE:
        phase = np.einsum("ni,nki->nk", q, waves) + np.array([0.0, 1.3, 2.1], dtype=np.float32)
        return np.clip(0.5 + 0.6 * np.sin(phase).sum(axis=1), 0.0, 1.0)
    theta = np.arctan2(q[:, 1], q[:, 0])
    k = np.maximum(4.0, np.round(0.45 / period))
    around = np.clip(0.5 + 1.6 * np.sin(theta * k), 0.0, 1.0)
    if pattern == VSTRIPES:
        return around
    if pattern == CHECKS:
        return 0.5 * (around + np.clip(0.5 + 1.6 * np.sin(q[:, 2] * (_TWO_PI / period)), 0.0, 1.0))
    return np.zeros(len(q), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class _PixelRays:
    """Unit viewing rays of every pixel centre in the camera frame (float32 planes) and their ideal coordinates."""

    ux: np.ndarray
    uy: np.ndarray
    uz: np.ndarray
    normalized: np.ndarray
    xn_range: tuple[float, float]
    yn_range: tuple[float, float]


_RAY_CACHE: "OrderedDict[tuple, _PixelRays]" = OrderedDict()
_RAY_CACHE_SIZE = 12


def _pixel_rays(camera: Camera) -> _PixelRays:
    """Rays of ``camera``'s pixels; they depend on the intrinsics only, so cameras sharing a lens share them."""
    key = (camera.size, camera.distortion_model, camera.K.tobytes(), camera.dist.tobytes())
    hit = _RAY_CACHE.get(key)
    if hit is not None:
        _RAY_CACHE.move_to_end(key)
        return hit
    W, H = camera.size
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pixels = np.stack([u, v], axis=-1)
    xd = camera.pixels_to_normalized_distorted(pixels)
    if camera.distortion_model == "fisheye" or not np.any(camera.dist):
        xy = camera.undistort_normalized(pixels)
    else:
        # Fixed-point iteration x <- x - (distort(x) - x_d), stopped once converged (usually 4-10 steps).
        xy = xd.copy()
        for _ in range(40):
            with np.errstate(invalid="ignore", over="ignore"):
                step = camera.distort(xy) - xd
            xy -= step
            if not np.nanmax(np.abs(step)) > 1e-12:
                break
    # Pixels whose undistortion did not converge (outside a lens model's valid range) see nothing.
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~np.isfinite(xy).all(axis=-1) | (np.abs(camera.distort(xy) - xd).max(axis=-1) > 1e-3)
    xy[bad] = 0.0
    norm = np.sqrt(xy[..., 0] ** 2 + xy[..., 1] ** 2 + 1.0)
    ux = (xy[..., 0] / norm).astype(np.float32)
    uy = (xy[..., 1] / norm).astype(np.float32)
    uz = (1.0 / norm).astype(np.float32)
    for plane in (ux, uy, uz):  # a zero ray never hits anything in front of the camera
        plane[bad] = 0.0
    good = xy[~bad]
    rays = _PixelRays(ux, uy, uz, xy.astype(np.float32), (float(good[:, 0].min()), float(good[:, 0].max())),
                      (float(good[:, 1].min()), float(good[:, 1].max())))
    for a in (ux, uy, uz, rays.normalized):
        a.setflags(write=False)
    _RAY_CACHE[key] = rays
    while len(_RAY_CACHE) > _RAY_CACHE_SIZE:
        _RAY_CACHE.popitem(last=False)
    return rays


class CameraRenderer:
    """Renders primitives as seen by one camera (pixel rays cached per lens).

    Args:
        camera: the camera (any lens model of :class:`core.geometry.Camera`).
        backdrop: the static scene behind the actors; ``None`` = plain grey.
    """

    def __init__(self, camera: Camera, backdrop: Backdrop | None = None) -> None:
        self.camera = camera
        W, H = camera.size
        self.width, self.height = W, H
        rays = _pixel_rays(camera)
        self.ux, self.uy, self.uz = rays.ux, rays.uy, rays.uz
        self.normalized = rays.normalized  # (H, W, 2) ideal normalised coordinates, for visibility checks
        self.xn_range, self.yn_range = rays.xn_range, rays.yn_range
        self.backdrop = backdrop if backdrop is not None else plain_backdrop(camera.size)
        self._lut_key: tuple | None = None
        self._relit: np.ndarray | None = None

    # ----------------------------------------------------------------------------------------------
    def set_backdrop(self, backdrop: Backdrop) -> None:
        self.backdrop = backdrop

    def _relit_backdrop(self, lighting: Lighting) -> np.ndarray:
        """A fresh copy of the backdrop under ``lighting`` (relit images are cached per 1% gain step)."""
        gain = tuple(round(float(lighting.exposure * c), 2) for c in lighting.tint)
        if gain == (1.0, 1.0, 1.0):
            return self.backdrop.image.copy()
        if self._lut_key != (gain, id(self.backdrop)):
            ramp = np.arange(256, dtype=np.float32)
            lut = np.stack([np.clip(ramp * g, 0, 255) for g in gain], axis=-1).astype(np.uint8)
            self._relit = cv2.LUT(self.backdrop.image, lut.reshape(256, 1, 3))
            self._lut_key = (gain, id(self.backdrop))
        return self._relit.copy()

    def screen_boxes(self, prims: Primitives, Rc: np.ndarray, centers_c: np.ndarray, ends_c: np.ndarray,
                     axes_c: np.ndarray) -> np.ndarray:
        """Pixel bounding boxes (N, 4) int [x0, y0, x1, y1) of primitives; x1 <= x0 when off-screen."""
        n = len(prims)
        if n == 0:
            return np.zeros((0, 4), dtype=int)
        is_cone = prims.kind == 1
        ext = np.sqrt(((axes_c * prims.radii[:, None, :]) ** 2).sum(axis=2))  # ellipsoid half extents (N, 3)
        lo = centers_c - ext
        hi = centers_c + ext
        if is_cone.any():
            ra = prims.radii[is_cone, 0:1]
            rb = prims.radii[is_cone, 1:2]
            a, b = centers_c[is_cone], ends_c[is_cone]
            lo[is_cone] = np.minimum(a - ra, b - rb)
            hi[is_cone] = np.maximum(a + ra, b + rb)
        zlo = np.maximum(lo[:, 2], NEAR)
        zhi = np.maximum(hi[:, 2], NEAR)
        x0 = np.minimum(lo[:, 0] / zlo, lo[:, 0] / zhi)
        x1 = np.maximum(hi[:, 0] / zlo, hi[:, 0] / zhi)
        y0 = np.minimum(lo[:, 1] / zlo, lo[:, 1] / zhi)
        y1 = np.maximum(hi[:, 1] / zlo, hi[:, 1] / zhi)
        pad = 0.02
        x0 = np.clip(x0, self.xn_range[0] - pad, self.xn_range[1] + pad)
        x1 = np.clip(x1, self.xn_range[0] - pad, self.xn_range[1] + pad)
        y0 = np.clip(y0, self.yn_range[0] - pad, self.yn_range[1] + pad)
        y1 = np.clip(y1, self.yn_range[0] - pad, self.yn_range[1] + pad)
        s = np.linspace(0.0, 1.0, 5)
        gx = x0[:, None, None] + (x1 - x0)[:, None, None] * s[None, :, None]
        gy = y0[:, None, None] + (y1 - y0)[:, None, None] * s[None, None, :]
        grid = np.stack(np.broadcast_arrays(gx, gy), axis=-1).reshape(n, -1, 2)
        px = self.camera._normalized_to_pixels(self.camera.distort(grid))  # (N, 25, 2)
        box = np.stack([np.floor(px[..., 0].min(1)) - 1, np.floor(px[..., 1].min(1)) - 1,
                        np.ceil(px[..., 0].max(1)) + 2, np.ceil(px[..., 1].max(1)) + 2], axis=1)
        box = np.nan_to_num(box, nan=-1.0)
        box[:, 0::2] = np.clip(box[:, 0::2], 0, self.width)
        box[:, 1::2] = np.clip(box[:, 1::2], 0, self.height)
        box = box.astype(int)
        behind = hi[:, 2] <= NEAR
        box[behind] = 0
        return box

    # ----------------------------------------------------------------------------------------------
    def render(self, prims: Primitives, materials: MaterialTable, lighting: Lighting = Lighting(),
               shadows: list[tuple[float, float, float, float]] | None = None, blur: bool = True,
               noise_sigma: float = 0.0, rng: np.random.Generator | None = None) -> RenderResult:
        """Draw ``prims`` over the backdrop.

        Args:
            prims: world-frame primitives (all actors).
            materials: the table ``prims.material`` indexes.
            lighting: the frame's lights.
            shadows: soft contact shadows on the floor, ``(x, y, radius_m, strength)`` world metres.
            blur: soften the actors' edges like a real lens (3x3 Gaussian over their bounding box).
            noise_sigma: Gaussian sensor noise, grey levels (0 = none).
            rng: noise generator (deterministic noise when given).
        """
        cam = self.camera
        image = self._relit_backdrop(lighting)
        depth = self.backdrop.depth.copy()
        labels = np.full((self.height, self.width), -1, dtype=np.int16)
        if shadows:
            self._draw_shadows(image, shadows)
        region = self._draw_primitives(prims, materials, lighting, image, depth, labels) if len(prims) else None
        if blur and region is not None:
            x0, y0, x1, y1 = region
            x0, y0 = max(x0 - 2, 0), max(y0 - 2, 0)
            x1, y1 = min(x1 + 2, self.width), min(y1 + 2, self.height)
            image[y0:y1, x0:x1] = cv2.GaussianBlur(image[y0:y1, x0:x1], (3, 3), 0.6)
        if noise_sigma > 0:
            rng = rng if rng is not None else np.random.default_rng()
            noise = rng.normal(0.0, noise_sigma, size=image.shape).astype(np.float32)
            image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        return RenderResult(image=image, depth=depth, labels=labels, owners=np.asarray(prims.owner))

    # ----------------------------------------------------------------------------------------------
    def _box_pixels(self, boxes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat pixel indices (M,) covering the boxes of primitives ``ids``, and the primitive of each (M,)."""
        b = boxes[ids]
        w = b[:, 2] - b[:, 0]
        h = b[:, 3] - b[:, 1]
        sizes = w * h
        total = int(sizes.sum())
        owner = np.repeat(np.arange(len(ids)), sizes)
        start = np.cumsum(sizes) - sizes
        k = np.arange(total) - start[owner]
        wo = w[owner]
        row = k // wo
        pix = (b[owner, 1] + row) * self.width + b[owner, 0] + (k - row * wo)
        return pix, owner

    def _draw_primitives(self, prims, materials, lighting, image, depth, labels):
        """Ray-cast all primitives at once (batched over their box pixels), z-test, shade the winners."""
        cam = self.camera
        R, t = cam.R, cam.t
        centers_c = prims.center @ R.T + t
        ends_c = prims.end @ R.T + t
        axes_c = np.einsum("ab,nbc->nac", R, prims.axes)
        boxes = self.screen_boxes(prims, R, centers_c, ends_c, axes_c)
        on_screen = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        ux, uy, uz = self.ux.reshape(-1), self.uy.reshape(-1), self.uz.reshape(-1)
        zflat = depth.reshape(-1)
        cand_pix, cand_z, cand_t, cand_prim = [], [], [], []

        # Ellipsoids: unit-sphere coordinates q = A (p - c), ray p = t u.
        ids = np.nonzero(on_screen & (prims.kind == 0))[0]
        if ids.size:
            radii = prims.radii[ids]
            A = np.transpose(axes_c[ids] / radii[:, None, :], (0, 2, 1))  # (n, 3, 3)
            o = -np.einsum("nij,nj->ni", A, centers_c[ids])
            outside = (o * o).sum(axis=1) > 1.0  # skip ellipsoids containing the camera
            ids, A, o = ids[outside], A[outside], o[outside]
        if ids.size:
            pix, k = self._box_pixels(boxes, ids)
            rx, ry, rz = ux[pix], uy[pix], uz[pix]
            P = np.repeat(np.concatenate([A.reshape(-1, 9), o], axis=1).astype(np.float32).T, np.bincount(k, minlength=len(ids)), axis=1)
            dx = P[0] * rx + P[1] * ry + P[2] * rz
            dy = P[3] * rx + P[4] * ry + P[5] * rz
            dz = P[6] * rx + P[7] * ry + P[8] * rz
            ox, oy, oz = P[9], P[10], P[11]
            a = dx * dx + dy * dy + dz * dz
            cx = oy * dz - oz * dy
            cy = oz * dx - ox * dz
            cz = ox * dy - oy * dx
            disc = a - (cx * cx + cy * cy + cz * cz)
            hit = np.nonzero(disc > 0)[0]
            if hit.size:
                b = ox[hit] * dx[hit] + oy[hit] * dy[hit] + oz[hit] * dz[hit]
                th = (-b - np.sqrt(disc[hit])) / a[hit]
                zh = th * rz[hit]
                ok = (th > NEAR) & (zh < zflat[pix[hit]])
                hit = hit[ok]
                cand_pix.append(pix[hit]); cand_z.append(zh[ok]); cand_t.append(th[ok]); cand_prim.append(ids[k[hit]])

        # Round cones (convex hull of two spheres).
        ids = np.nonzero(on_screen & (prims.kind == 1))[0]
        if ids.size:
            pa, pb = centers_c[ids], ends_c[ids]
            ra, rb = prims.radii[ids, 0], prims.radii[ids, 1]
            ba = pb - pa
            rr = ra - rb
            m0 = (ba * ba).sum(axis=1)
            d2 = m0 - rr * rr
            m1 = -(ba * pa).sum(axis=1)
            m5 = (pa * pa).sum(axis=1)
            m7 = (pb * pb).sum(axis=1)
            valid = (d2 > 1e-12) & (m5 > ra * ra) & (m7 > rb * rb)
            k0 = d2 * m5 - m1 * m1 + 2.0 * m1 * rr * ra - m0 * ra * ra
            table = np.stack([ba[:, 0], ba[:, 1], ba[:, 2], -pa[:, 0], -pa[:, 1], -pa[:, 2], -pb[:, 0], -pb[:, 1],
                              -pb[:, 2], d2, m1, rr * ra, k0, m1 - ra * rr, ra * ra - m5, rb * rb - m7], axis=0)
            ids, table = ids[valid], table[:, valid]
        if ids.size:
            pix, k = self._box_pixels(boxes, ids)
            rx, ry, rz = ux[pix], uy[pix], uz[pix]
            P = np.repeat(table.astype(np.float32), np.bincount(k, minlength=len(ids)), axis=1)
            m2 = P[0] * rx + P[1] * ry + P[2] * rz
            m3 = P[3] * rx + P[4] * ry + P[5] * rz
            d2p = P[9]
            k2 = d2p - m2 * m2
            k1 = d2p * m3 - P[10] * m2 + P[11] * m2
            h = k1 * k1 - P[12] * k2
            hit = np.nonzero(h >= 0)[0]
            if hit.size:
                rxh, ryh, rzh = rx[hit], ry[hit], rz[hit]
                m2h, m3h, k1h, k2h = m2[hit], m3[hit], k1[hit], k2[hit]
                Ph = P[:, hit]
                with np.errstate(invalid="ignore", divide="ignore"):
                    tb = (-np.sqrt(h[hit]) - k1h) / k2h
                    y = Ph[13] + tb * m2h
                    body = (y > 0) & (y < Ph[9])
                    m6h = Ph[6] * rxh + Ph[7] * ryh + Ph[8] * rzh
                    h1 = m3h * m3h + Ph[14]
                    h2 = m6h * m6h + Ph[15]
                    t1 = np.where(h1 > 0, -m3h - np.sqrt(np.maximum(h1, 0)), np.inf)
                    t2 = np.where(h2 > 0, -m6h - np.sqrt(np.maximum(h2, 0)), np.inf)
                th = np.where(body, tb, np.minimum(t1, t2))
                zh = th * rzh
                ok = np.isfinite(th) & (th > NEAR) & (zh < zflat[pix[hit]])
                hit = hit[ok]
                cand_pix.append(pix[hit]); cand_z.append(zh[ok]); cand_t.append(th[ok]); cand_prim.append(ids[k[hit]])

        if not cand_pix:
            return None
        pix = np.concatenate(cand_pix)
        if pix.size == 0:
            return None
        z = np.concatenate(cand_z).astype(np.float32)
        tt = np.concatenate(cand_t)
        prim = np.concatenate(cand_prim)
        np.minimum.at(zflat, pix, z)
        win = z == zflat[pix]
        pix, tt, prim = pix[win], tt[win], prim[win]
        labels.reshape(-1)[pix] = prim
        colour = self._shade(pix, tt, prim, prims, centers_c, ends_c, axes_c, materials, lighting)
        image.reshape(-1, 3)[pix] = colour
        ys, xs = np.divmod(pix, self.width)
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1

    def _shade(self, pix, t, prim, prims, centers_c, ends_c, axes_c, materials, lighting) -> np.ndarray:
        """Colours (n, 3) uint8 of the visible surface points: normals, pattern, lights (component-wise math)."""
        R = self.camera.R
        t = t.astype(np.float32)
        px = self.ux.reshape(-1)[pix] * t
        py = self.uy.reshape(-1)[pix] * t
        pz = self.uz.reshape(-1)[pix] * t
        # Per-primitive tables gathered per pixel: pattern frame (9), centre/end a (3), end b (3), radii (3).
        table = np.concatenate([axes_c.reshape(-1, 9), centers_c, ends_c, prims.radii,
                                prims.kind[:, None].astype(np.float64)], axis=1).astype(np.float32)
        G = table[prim].T  # (19, n)
        dx, dy, dz = px - G[9], py - G[10], pz - G[11]
        # Local coordinates q = M^T (p - c), M columns = frame axes.
        q0 = dx * G[0] + dy * G[3] + dz * G[6]
        q1 = dx * G[1] + dy * G[4] + dz * G[7]
        q2 = dx * G[2] + dy * G[5] + dz * G[8]
        nx = np.empty_like(px)
        ny = np.empty_like(px)
        nz = np.empty_like(px)
        is_e = G[18] == 0
        e = np.nonzero(is_e)[0]
        if e.size:
            Ge = G[:, e]
            a0, a1, a2 = q0[e] / (Ge[15] * Ge[15]), q1[e] / (Ge[16] * Ge[16]), q2[e] / (Ge[17] * Ge[17])
            nx[e] = Ge[0] * a0 + Ge[1] * a1 + Ge[2] * a2
            ny[e] = Ge[3] * a0 + Ge[4] * a1 + Ge[5] * a2
            nz[e] = Ge[6] * a0 + Ge[7] * a1 + Ge[8] * a2
        c = np.nonzero(~is_e)[0]
        if c.size:
            Gc = G[:, c]
            bax, bay, baz = Gc[12] - Gc[9], Gc[13] - Gc[10], Gc[14] - Gc[11]
            ra, rb = Gc[15], Gc[16]
            rr = ra - rb
            d2 = bax * bax + bay * bay + baz * baz - rr * rr
            qx, qy, qz = dx[c], dy[c], dz[c]
            # Axial coordinate: y <= 0 on sphere a, y >= d2 on sphere b, else the cone body.
            y = qx * bax + qy * bay + qz * baz - ra * rr
            cap_a = y <= 0
            cap_b = y >= d2
            body = ~(cap_a | cap_b)
            mx = np.where(body, d2 * qx - bax * y, qx)
            my = np.where(body, d2 * qy - bay * y, qy)
            mz = np.where(body, d2 * qz - baz * y, qz)
            mx = np.where(cap_b, qx - bax, mx)
            my = np.where(cap_b, qy - bay, my)
            mz = np.where(cap_b, qz - baz, mz)
            nx[c], ny[c], nz[c] = mx, my, mz
        inv = 1.0 / np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)
        nx *= inv
        ny *= inv
        nz *= inv

        key = R @ np.asarray(lighting.key_dir, dtype=np.float64)
        kx, ky, kz = (float(v) for v in key / np.linalg.norm(key))
        fill = R @ np.asarray(lighting.fill_dir, dtype=np.float64)
        fx, fy, fz = (float(v) for v in fill / np.linalg.norm(fill))
        light = lighting.ambient + lighting.key * np.maximum(nx * kx + ny * ky + nz * kz, 0.0) \
            + lighting.fill * np.maximum(nx * fx + ny * fy + nz * fz, 0.0)
        mat = prims.material[prim]
        albedo = materials.color[mat]
        patterns = materials.pattern[mat]
        kinds = np.unique(patterns)
        if kinds.size > 1 or kinds[0] != PLAIN:
            q = np.stack([q0, q1, q2], axis=1)
            for pattern in kinds:
                if pattern == PLAIN:
                    continue
                sel = np.nonzero(patterns == pattern)[0]
                w = _pattern_weight(int(pattern), q[sel], materials.period[mat[sel]].astype(np.float32),
                                    materials.waves[mat[sel]])
                albedo[sel] += (materials.color2[mat[sel]] - albedo[sel]) * w[:, None]
        # Specular (Blinn): half vector between the view direction (-p / |p|) and the key light.
        inv_p = 1.0 / np.sqrt(px * px + py * py + pz * pz)
        hx, hy, hz = kx - px * inv_p, ky - py * inv_p, kz - pz * inv_p
        spec = np.maximum(nx * hx + ny * hy + nz * hz, 0.0) / np.maximum(np.sqrt(hx * hx + hy * hy + hz * hz), 1e-6)
        spec = spec * spec
        spec = spec * spec
        spec = spec * spec * spec  # ^24 by repeated squaring (^2^2^2 -> ^8, then ^3)
        spec *= (255.0 * lighting.key) * materials.shine[mat].astype(np.float32)
        gain = np.asarray(lighting.tint, dtype=np.float32) * np.float32(lighting.exposure)
        colour = albedo * (light[:, None] * gain[None, :]) + spec[:, None]
        return np.clip(colour, 0, 255).astype(np.uint8)

    def _draw_shadows(self, image: np.ndarray, shadows) -> None:
        """Darken the floor around each (x, y, radius, strength) with a soft Gaussian blob."""
        fxy = self.backdrop.floor_xy
        sh = np.asarray(shadows, dtype=np.float64).reshape(-1, 4)
        ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
        ring = np.zeros((len(sh), 8, 3))
        ring[..., 0] = sh[:, 0:1] + 2.2 * sh[:, 2:3] * np.cos(ang)
        ring[..., 1] = sh[:, 1:2] + 2.2 * sh[:, 2:3] * np.sin(ang)
        px = self.camera.project(ring.reshape(-1, 3)).reshape(len(sh), 8, 2)
        for (x, y, radius, strength), pts in zip(sh, px):
            if not np.isfinite(pts).all() or strength <= 0:
                continue
            x0 = int(np.clip(np.floor(pts[:, 0].min()), 0, self.width))
            x1 = int(np.clip(np.ceil(pts[:, 0].max()) + 1, 0, self.width))
            y0 = int(np.clip(np.floor(pts[:, 1].min()), 0, self.height))
            y1 = int(np.clip(np.ceil(pts[:, 1].max()) + 1, 0, self.height))
            if x1 <= x0 or y1 <= y0:
                continue
            f = fxy[y0:y1, x0:x1]
            d2 = (f[..., 0] - np.float32(x)) ** 2 + (f[..., 1] - np.float32(y)) ** 2
            factor = 1.0 - np.float32(strength) * np.exp(d2 * np.float32(-0.5 / (radius * radius)))
            factor = np.nan_to_num(factor, nan=1.0)
            patch = image[y0:y1, x0:x1].astype(np.float32) * factor[..., None]
            image[y0:y1, x0:x1] = patch.astype(np.uint8)


def plain_backdrop(size: tuple[int, int], grey: int = 110) -> Backdrop:
    """A flat grey backdrop with nothing in it (no floor, infinite depth)."""
    W, H = size
    return Backdrop(image=np.full((H, W, 3), grey, dtype=np.uint8),
                    depth=np.full((H, W), np.inf, dtype=np.float32),
                    floor_xy=np.full((H, W, 2), np.nan, dtype=np.float32))


def ray_first_hits(prims: Primitives, camera: Camera, directions: np.ndarray) -> np.ndarray:
    """Distance (R,) along unit camera-frame rays from the optical centre to the first primitive surface (inf if none).

    Exact analytic intersection of every ray (R, 3) with every primitive (ellipsoids and round cones), in
    float64; used for ground-truth visibility, independent of pixel sampling.
    """
    d = np.asarray(directions, dtype=np.float64).reshape(-1, 3)
    best = np.full(len(d), np.inf)
    if len(prims) == 0:
        return best
    R, t = camera.R, camera.t
    centers = prims.center @ R.T + t
    ends = prims.end @ R.T + t
    axes = np.einsum("ab,nbc->nac", R, prims.axes)
    e = np.nonzero(prims.kind == 0)[0]
    if e.size:
        A = np.transpose(axes[e] / prims.radii[e][:, None, :], (0, 2, 1))  # (E, 3, 3)
        o = -np.einsum("nij,nj->ni", A, centers[e])  # (E, 3)
        dd = np.einsum("nij,rj->rni", A, d)  # (R, E, 3)
        a = (dd * dd).sum(-1)
        b = (dd * o[None]).sum(-1)
        c = (o * o).sum(-1)[None] - 1.0
        disc = b * b - a * c
        with np.errstate(invalid="ignore"):
            tt = (-b - np.sqrt(disc)) / a
        tt = np.where((disc >= 0) & (tt > NEAR) & (c > 0), tt, np.inf)
        best = np.minimum(best, tt.min(axis=1))
    k = np.nonzero(prims.kind == 1)[0]
    if k.size:
        pa, pb = centers[k], ends[k]
        ra, rb = prims.radii[k, 0], prims.radii[k, 1]
        ba = pb - pa
        rr = ra - rb
        m0 = (ba * ba).sum(-1)
        d2 = m0 - rr * rr
        oa, ob = -pa, -pb
        m1 = (ba * oa).sum(-1)
        m5 = (oa * oa).sum(-1)
        m7 = (ob * ob).sum(-1)
        m2 = d @ ba.T  # (R, K)
        m3 = d @ oa.T
        m6 = d @ ob.T
        k2 = d2 - m2 * m2
        k1 = d2 * m3 - m1 * m2 + m2 * rr * ra
        k0 = d2 * m5 - m1 * m1 + 2 * m1 * rr * ra - m0 * ra * ra
        h = k1 * k1 - k0 * k2
        with np.errstate(invalid="ignore", divide="ignore"):
            tb = (-np.sqrt(h) - k1) / k2
            y = m1 - ra * rr + tb * m2
            body = (h >= 0) & (y > 0) & (y < d2)
            h1 = m3 * m3 - m5 + ra * ra
            h2 = m6 * m6 - m7 + rb * rb
            t1 = np.where(h1 > 0, -m3 - np.sqrt(np.maximum(h1, 0)), np.inf)
            t2 = np.where(h2 > 0, -m6 - np.sqrt(np.maximum(h2, 0)), np.inf)
        tt = np.where(body, tb, np.minimum(t1, t2))
        valid = (d2 > 1e-12) & (m5 > ra * ra) & (m7 > rb * rb)
        tt = np.where((h >= 0) & valid[None] & (tt > NEAR), tt, np.inf)
        best = np.minimum(best, tt.min(axis=1))
    return best


def joint_visibility(renderer: CameraRenderer, result: RenderResult, joints: np.ndarray, owners: np.ndarray,
                     flesh: np.ndarray, margin: float = 0.015, prims: Primitives | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth 2D keypoints and their visibility in one camera.

    Args:
        renderer: the camera's renderer (its camera projects).
        result: the frame rendered by it.
        joints: world keypoints (P, J, 3) metres.
        owners: actor index of each person (P,) (matching ``Primitives.owner``).
        flesh: depth of each keypoint inside its own body (P, J) metres (:func:`core.studio.actor.joint_flesh_depth`).
        margin: extra depth tolerance, metres.
        prims: the primitives drawn in ``result``; given, the line of sight from the optical centre to each
            keypoint is intersected exactly with them (else the depth buffer at the keypoint's pixel is used).

    Returns:
        ``points_2d`` (P, J, 2) = ``camera.project(joints)`` exactly (NaN behind the camera), and
        ``visible`` (P, J) bool: in the image, and nothing lies more than ``flesh + margin`` in front of the
        keypoint on its line of sight (props and the room count, through the backdrop's depth).
    """
    cam = renderer.camera
    P, J, _ = joints.shape
    flat = joints.reshape(-1, 3)
    pts = cam.project(flat)
    cam_pts = cam.world_to_camera(flat)
    z = cam_pts[:, 2]
    W, H = cam.size
    finite = np.isfinite(pts).all(axis=1) & (z > NEAR)
    u = np.where(finite, np.round(np.nan_to_num(pts[:, 0], nan=-1)), -1).astype(int)
    v = np.where(finite, np.round(np.nan_to_num(pts[:, 1], nan=-1)), -1).astype(int)
    inside = finite & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    uu, vv = np.where(inside, u, 0), np.where(inside, v, 0)
    # The pixel's ray must really pass near the keypoint (guards polynomial lens models far off-axis).
    with np.errstate(invalid="ignore", divide="ignore"):
        xn = cam_pts[:, :2] / z[:, None]
    ray_xy = renderer.normalized[vv, uu]
    near_ray = np.abs(ray_xy - xn).max(axis=1) * cam.K[0, 0] < 2.0
    tol = flesh.reshape(-1) + margin
    backdrop = renderer.backdrop.depth[vv, uu]  # room and props
    if prims is not None:
        dist = np.linalg.norm(cam_pts, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dirs = cam_pts / dist[:, None]
        first = ray_first_hits(prims, cam, np.nan_to_num(dirs))
        first_z = first * np.nan_to_num(dirs[:, 2])
        clear = first_z >= z - tol
    else:
        label = result.labels[vv, uu].astype(int)
        owner_of_label = np.where(label >= 0, result.owners[np.maximum(label, 0)] if len(result.owners) else -1, -1)
        person = np.repeat(np.asarray(owners), J)
        clear = (owner_of_label == person) & (result.depth[vv, uu] >= z - tol)
    visible = inside & near_ray & clear & (backdrop >= z - tol)
    return pts.reshape(P, J, 2), visible.reshape(P, J)
