"""Camera-placement planner: how well does a rig triangulate, where, and for which joints?

Two Monte Carlo estimates for a rig (virtual or a user's calibration):

* **Volume**: points on a grid over the capture volume at three heights (ankles, hips, head). For each
  point: how many cameras see it (in front, inside the image with a margin), and the RMS 3D error of
  triangulating its projections after adding Gaussian pixel noise (``noise_px``, a 2D detector's error).
* **Joints**: studio actors in varied poses at random places in the volume, rendered by every camera so
  that self-occlusion counts: per joint, how many cameras see it and the RMS 3D error when only those
  views are triangulated with the same pixel noise.

:func:`plan_image` draws top-down error maps (one panel per height) with the cameras, as a BGR image.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.geometry.camera import CameraRig
from core.geometry.triangulation import triangulate
from core.studio.actor import random_actor
from core.studio.body import STUDIO_JOINTS
from core.studio.motion import make_motion
from core.studio.render import CameraRenderer, MaterialTable, joint_visibility
from core.studio.rig_presets import rig_center

log = logging.getLogger(__name__)

HEIGHTS = (("ankles", 0.1), ("hips", 0.95), ("head", 1.65))
REGIONS = ("centre", "middle", "edge")


@dataclass(frozen=True, eq=False)
class PlanReport:
    """What :func:`plan_rig` found.

    Attributes:
        cameras: camera names.
        noise_px: pixel noise used, px (standard deviation per coordinate).
        center: capture-volume centre on the floor (2,) m; radius: its radius, m.
        grid_x, grid_y: grid coordinates (Gx,), (Gy,) m.
        heights: ((name, z), ...) of the grid layers.
        coverage: cameras seeing each grid point (H, Gy, Gx) int.
        error_mm: RMS triangulation error per grid point (H, Gy, Gx) mm; NaN where fewer than 2 cameras see it.
        inside: grid points inside the volume disc (Gy, Gx) bool.
        joint_names: J names; joint_views: mean cameras seeing each joint (J,); joint_error_mm: RMS error
            per joint (J,) mm (NaN when never seen by 2 cameras); joint_triangulable: fraction of poses in
            which each joint was seen by at least 2 cameras (J,).
        regions: rows (region, height name, mean coverage, fraction seen by >= 2, median error mm).
    """

    cameras: list[str]
    noise_px: float
    center: np.ndarray
    radius: float
    grid_x: np.ndarray
    grid_y: np.ndarray
    heights: tuple
    coverage: np.ndarray
    error_mm: np.ndarray
    inside: np.ndarray
    joint_names: tuple[str, ...]
    joint_views: np.ndarray
    joint_error_mm: np.ndarray
    joint_triangulable: np.ndarray
    regions: list = field(default_factory=list)


def _seen(rig: CameraRig, points: np.ndarray, margin: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (C, N, 2) and which cameras see each point (C, N): in front and inside the image (with margin)."""
    px = rig.project(points)
    sizes = np.array([c.size for c in rig], dtype=np.float64)[:, None, :]
    lo, hi = sizes * margin, sizes * (1 - margin)
    seen = np.isfinite(px).all(-1) & (px >= lo).all(-1) & (px <= hi).all(-1)
    return px, seen


def _mc_error(rig: CameraRig, points: np.ndarray, seen: np.ndarray, noise_px: float, trials: int,
              rng: np.random.Generator) -> np.ndarray:
    """RMS 3D error (N,) in the rig unit of triangulating noisy projections from the cameras in ``seen``."""
    N = len(points)
    px = rig.project(points)
    reps = np.repeat(px[:, :, None], trials, axis=2).reshape(len(rig), N * trials, 2)
    noisy = reps + rng.normal(0, noise_px, reps.shape)
    conf = np.repeat(seen[:, :, None], trials, axis=2).reshape(len(rig), N * trials).astype(float)
    noisy[conf == 0] = np.nan
    res = triangulate(rig, noisy, conf, outliers=None)
    err = np.linalg.norm(res.points_3d.reshape(N, trials, 3) - points[:, None], axis=-1)
    out = np.sqrt(np.nanmean(err ** 2, axis=1)) if trials else np.full(N, np.nan)
    out[seen.sum(axis=0) < 2] = np.nan
    return out


def _error(rig, points, seen, noise_px, trials, rng, method) -> np.ndarray:
    if method == "analytic":
        return propagated_error(rig, points, seen, noise_px)
    return _mc_error(rig, points, seen, noise_px, trials, rng)


def propagated_error(rig: CameraRig, points: np.ndarray, seen: np.ndarray, noise_px: float) -> np.ndarray:
    """First-order RMS 3D error (N,) of triangulating ``points`` (N, 3) from the cameras in ``seen`` (C, N).

    ``sigma * sqrt(trace((J^T J)^-1))`` with ``J`` the stacked 2x3 projection Jacobians (lens distortion
    included, by central differences) of the seeing cameras: the covariance of the least-squares point
    under isotropic pixel noise ``sigma``. NaN where fewer than 2 cameras see the point.
    """
    points = np.asarray(points, dtype=np.float64)
    h = 1e-4
    cols = []
    for k in range(3):
        d = np.zeros(3)
        d[k] = h
        cols.append((rig.project(points + d) - rig.project(points - d)) / (2 * h))  # (C, N, 2)
    J = np.stack(cols, axis=-1)  # (C, N, 2, 3)
    J = np.where((seen[..., None, None]) & np.isfinite(J), J, 0.0)
    A = np.einsum("cnki,cnkj->nij", J, J)
    ok = seen.sum(axis=0) >= 2
    out = np.full(len(points), np.nan)
    if ok.any():
        cov = np.linalg.inv(A[ok] + 1e-12 * np.eye(3))
        out[ok] = noise_px * np.sqrt(np.clip(np.trace(cov, axis1=1, axis2=2), 0, None))
    return out


def plan_rig(rig: CameraRig, *, noise_px: float = 2.0, radius: float | None = None, center=None,
             grid_step: float = 0.25, trials: int = 24, poses: int = 40, seed: int = 0,
             method: str = "analytic") -> PlanReport:
    """Estimate coverage and triangulation error of ``rig`` over its capture volume and per joint.

    Args:
        rig: the cameras (metres, Z up).
        noise_px: 2D keypoint noise, pixels (standard deviation per coordinate).
        radius: radius of the capture volume, m (default: from the rig, at most 2 m).
        center: centre of the volume on the floor (default: where the cameras' axes meet).
        grid_step: grid spacing, m.
        trials: noise draws per point (``method="montecarlo"``).
        poses: actor poses sampled for the per-joint estimate (0 = skip).
        seed: random seed.
        method: ``"analytic"`` (first-order error propagation, smooth maps) or ``"montecarlo"`` (noisy 2D
            triangulated ``trials`` times with :func:`core.geometry.triangulate`).
    """
    if method not in ("analytic", "montecarlo"):
        raise ValueError(f"method must be 'analytic' or 'montecarlo', got {method!r}")
    if noise_px < 0:
        raise ValueError(f"noise_px must be >= 0, got {noise_px}")
    if grid_step <= 0:
        raise ValueError(f"grid_step must be > 0, got {grid_step}")
    if rig.units != "m":
        rig = rig.to_units("m")
    rng = np.random.default_rng(seed)
    center = rig_center(rig) if center is None else np.asarray(center, dtype=np.float64)
    if radius is None:
        spread = np.linalg.norm(rig.centers[:, :2] - center, axis=1)
        radius = float(np.clip(0.45 * np.median(spread), 0.5, 2.0))
    half = radius + grid_step
    gx = center[0] + np.arange(-half, half + 1e-9, grid_step)
    gy = center[1] + np.arange(-half, half + 1e-9, grid_step)
    X, Y = np.meshgrid(gx, gy)
    inside = (X - center[0]) ** 2 + (Y - center[1]) ** 2 <= radius ** 2 + 1e-9
    coverage = np.zeros((len(HEIGHTS),) + X.shape, int)
    error = np.full((len(HEIGHTS),) + X.shape, np.nan)
    for h, (_, z) in enumerate(HEIGHTS):
        pts = np.stack([X.ravel(), Y.ravel(), np.full(X.size, z)], axis=1)
        _, seen = _seen(rig, pts)
        coverage[h] = seen.sum(axis=0).reshape(X.shape)
        error[h] = (_error(rig, pts, seen, noise_px, trials, rng, method) * 1000).reshape(X.shape)

    # Per joint, with self-occlusion from rendered actors.
    J = len(STUDIO_JOINTS)
    views_sum = np.zeros(J)
    sq_err = np.zeros(J)
    n_err = np.zeros(J)
    tri = np.zeros(J)
    if poses > 0:
        renderers = [CameraRenderer(c) for c in rig]
        for k in range(poses):
            actor = random_actor(rng)
            r = radius * np.sqrt(rng.random())
            a = rng.uniform(0, 2 * np.pi)
            start = center + r * np.array([np.cos(a), np.sin(a)])
            motion = make_motion("mix", actor.shape, seed=int(rng.integers(1 << 30)), start_xy=start,
                                 radius=max(radius - r, 0.3), center=start)
            pose = motion.sample(actor.shape, np.array([rng.uniform(0, 20)]))
            prims = actor.primitives(pose)
            mats = MaterialTable.from_materials(list(actor.template.materials))
            vis = np.zeros((len(rig), J), bool)
            for c, rend in enumerate(renderers):
                res = rend.render(prims, mats, blur=False)
                _, v = joint_visibility(rend, res, pose.joints[0][None], np.array([0]), actor.flesh[None], prims=prims)
                vis[c] = v[0]
            views_sum += vis.sum(axis=0)
            ok = vis.sum(axis=0) >= 2
            tri += ok
            if ok.any():
                e = _error(rig, pose.joints[0], vis, noise_px, trials, rng, method)
                good = np.isfinite(e)
                sq_err[good] += e[good] ** 2
                n_err[good] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        joint_error = np.sqrt(sq_err / n_err) * 1000
    joint_views = views_sum / max(poses, 1)
    joint_tri = tri / max(poses, 1)

    dist = np.hypot(X - center[0], Y - center[1])
    region_masks = {"centre": dist <= radius / 3, "middle": (dist > radius / 3) & (dist <= 2 * radius / 3),
                    "edge": (dist > 2 * radius / 3) & inside}
    rows = []
    for region, m in region_masks.items():
        for h, (hname, _) in enumerate(HEIGHTS):
            if not m.any():
                continue
            cov = coverage[h][m]
            err = error[h][m]
            rows.append((region, hname, float(cov.mean()), float((cov >= 2).mean()),
                         float(np.nanmedian(err)) if np.isfinite(err).any() else float("nan")))
    return PlanReport(cameras=rig.names, noise_px=float(noise_px), center=center, radius=float(radius), grid_x=gx,
                      grid_y=gy, heights=HEIGHTS, coverage=coverage, error_mm=error, inside=inside,
                      joint_names=STUDIO_JOINTS, joint_views=joint_views, joint_error_mm=joint_error,
                      joint_triangulable=joint_tri, regions=rows)


def format_report(report: PlanReport) -> str:
    """Plain-text tables of a plan (per region and per joint)."""
    lines = [f"cameras: {len(report.cameras)} ({', '.join(report.cameras)}); pixel noise {report.noise_px:g} px; "
             f"volume: radius {report.radius:.2f} m around ({report.center[0]:.2f}, {report.center[1]:.2f})",
             "", "Capture volume (grid points inside the volume):",
             f"  {'region':<8s} {'height':<7s} {'cameras':>8s} {'seen>=2':>8s} {'error mm':>9s}"]
    for region, hname, cov, frac, err in report.regions:
        lines.append(f"  {region:<8s} {hname:<7s} {cov:8.2f} {100 * frac:7.0f}% {err:9.1f}")
    if np.isfinite(report.joint_views).any() and report.joint_views.any():
        lines += ["", "Per joint (actors in varied poses, self-occlusion included):",
                  f"  {'joint':<16s} {'cameras':>8s} {'seen>=2':>8s} {'error mm':>9s}"]
        for name, v, t, e in zip(report.joint_names, report.joint_views, report.joint_triangulable,
                                 report.joint_error_mm):
            lines.append(f"  {name:<16s} {v:8.2f} {100 * t:7.0f}% {e:9.1f}")
    return "\n".join(lines)


def _error_colours(t: np.ndarray) -> np.ndarray:
    """Relative errors in [0, 1] -> BGR uint8: green (good), yellow, red (bad)."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0, 1)[..., None]
    green, yellow, red = np.array([60, 170, 40.0]), np.array([40, 215, 250.0]), np.array([40, 40, 215.0])
    out = np.where(t < 0.5, green + (yellow - green) * (t / 0.5), yellow + (red - yellow) * ((t - 0.5) / 0.5))
    return out.astype(np.uint8)


def plan_image(report: PlanReport, rig: CameraRig, panel: int = 360, max_error_mm: float | None = None) -> np.ndarray:
    """Top-down maps of the triangulation error at each height, cameras drawn, as a BGR uint8 image.

    Colours run from green (0 mm) through yellow to red at ``max_error_mm`` (default 25 mm per pixel of
    noise), the same scale for every rig so that layouts compare at a glance.
    """
    H = len(report.heights)
    margin = 40
    extent = max(report.radius * 1.15 + 0.3, float(np.max(np.abs(rig.centers[:, :2] - report.center))) + 0.4)
    scale = (panel - 2 * margin) / (2 * extent)
    vmax = max(max_error_mm or 25.0 * max(report.noise_px, 0.1), 1e-3)
    canvas = np.full((panel + 90, H * panel, 3), 255, np.uint8)

    def to_px(xy: np.ndarray, ox: int) -> np.ndarray:
        d = (np.asarray(xy) - report.center) * scale
        return np.stack([ox + panel / 2 + d[..., 0], panel / 2 + 20 - d[..., 1]], axis=-1)

    step = float(report.grid_x[1] - report.grid_x[0]) if len(report.grid_x) > 1 else 0.25
    for h, (hname, z) in enumerate(report.heights):
        ox = h * panel
        err = report.error_mm[h]
        colours = _error_colours(np.nan_to_num(err / vmax, nan=1.0))
        for iy, y in enumerate(report.grid_y):
            for ix, x in enumerate(report.grid_x):
                c0 = to_px(np.array([x - step / 2, y + step / 2]), ox)
                c1 = to_px(np.array([x + step / 2, y - step / 2]), ox)
                colour = (200, 200, 200) if not np.isfinite(err[iy, ix]) else tuple(int(v) for v in colours[iy, ix])
                cv2.rectangle(canvas, tuple(int(round(v)) for v in c0), tuple(int(round(v)) for v in c1), colour, -1)
                cov = report.coverage[h, iy, ix]
                if report.inside[iy, ix] and step * scale > 18:
                    ctr = to_px(np.array([x, y]), ox)
                    cv2.putText(canvas, str(cov), (int(ctr[0]) - 4, int(ctr[1]) + 4), cv2.FONT_HERSHEY_PLAIN, 0.8,
                                (0, 0, 0), 1, cv2.LINE_AA)
        ctr = to_px(report.center, ox)
        cv2.circle(canvas, tuple(int(v) for v in ctr), int(report.radius * scale), (0, 0, 0), 1, cv2.LINE_AA)
        for cam in rig:
            p = to_px(cam.center[:2], ox)
            d = cam.R[2][:2]
            d = d / max(np.linalg.norm(d), 1e-9)
            tip = p + np.array([d[0], -d[1]]) * 22
            cv2.arrowedLine(canvas, tuple(int(v) for v in p), tuple(int(v) for v in tip), (40, 40, 40), 2,
                            cv2.LINE_AA, tipLength=0.35)
            cv2.circle(canvas, tuple(int(v) for v in p), 4, (40, 40, 40), -1, cv2.LINE_AA)
            cv2.putText(canvas, cam.name, (int(p[0]) + 6, int(p[1]) - 6), cv2.FONT_HERSHEY_PLAIN, 0.9, (0, 0, 0), 1,
                        cv2.LINE_AA)
        cv2.putText(canvas, f"{hname} (z = {z:.2f} m)", (ox + 10, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    # Colour bar.
    y0 = panel + 35
    bar_w = H * panel - 40
    ramp = _error_colours(np.linspace(0, 1, bar_w))[None]
    canvas[y0:y0 + 14, 20:20 + bar_w] = np.repeat(ramp, 14, axis=0)
    cv2.putText(canvas, "0 mm", (20, y0 + 30), cv2.FONT_HERSHEY_PLAIN, 1.0, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, f">= {vmax:.0f} mm", (bar_w - 60, y0 + 30), cv2.FONT_HERSHEY_PLAIN, 1.0, (0, 0, 0), 1,
                cv2.LINE_AA)
    numbers = "; numbers: cameras seeing the point" if step * scale > 18 else ""
    cv2.putText(canvas, f"RMS 3D error with {report.noise_px:g} px of 2D noise; grey: seen by fewer than 2 cameras"
                f"; circle: capture volume{numbers}", (20, y0 + 48), cv2.FONT_HERSHEY_PLAIN, 1.0, (0, 0, 0), 1,
                cv2.LINE_AA)
    return canvas
