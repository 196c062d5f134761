"""Intrinsic calibration of one camera from views of a board, with outlier views rejected and coverage told.

``calibrate_intrinsics(detections, board)`` -> :class:`IntrinsicsResult` (a :class:`core.geometry.Camera`
with ``R = I``, ``t = 0``, its RMS and per-view errors in pixels, the views it rejected and why, and a
:class:`Coverage` report of where on the sensor corners were seen).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from calibration.boards import Board
from calibration.detection import Detection, DetectionSet
from core.geometry.camera import Camera

log = logging.getLogger(__name__)

MIN_VIEWS = 3
RECOMMENDED_VIEWS = 10


class NotEnoughViewsError(ValueError):
    """Too few usable views of the board for the requested solve."""


# ------------------------------------------------------------------------------------------------
# Coverage
@dataclass
class Coverage:
    """Where on the sensor board corners were seen.

    Attributes:
        image_size: (width, height) px.
        counts: corners seen per cell of a coarse grid over the image, (gy, gx).
        cell_fraction: share of grid cells with at least one corner, 0..1.
        hull_fraction: area of the convex hull of all corners / image area, 0..1.
        points: every corner seen, (M, 2) px.
        outlines: the outline of each view's corners (list of (K, 2) px), for drawing.
    """

    image_size: tuple[int, int]
    counts: np.ndarray
    cell_fraction: float
    hull_fraction: float
    points: np.ndarray = field(repr=False)
    outlines: list = field(default_factory=list, repr=False)

    def missing_regions(self) -> list[str]:
        """Plain-language parts of the image with no corners: "left edge", "top-right corner"..."""
        gy, gx = self.counts.shape
        seen = self.counts > 0
        names = []
        edges = {"left edge": seen[:, 0], "right edge": seen[:, -1], "top edge": seen[0, :],
                 "bottom edge": seen[-1, :]}
        for name, cells in edges.items():
            if cells.mean() < 0.5:
                names.append(name)
        corners = {"top-left corner": seen[0, 0], "top-right corner": seen[0, -1],
                   "bottom-left corner": seen[-1, 0], "bottom-right corner": seen[-1, -1]}
        names += [n for n, ok in corners.items() if not ok and not any(e in names for e in _edges_of(n))]
        if not seen[gy // 4: gy - gy // 4, gx // 4: gx - gx // 4].all():
            names.append("centre")
        return names

    def advice(self) -> str:
        missing = self.missing_regions()
        if not missing:
            return f"good coverage ({self.cell_fraction:.0%} of the image)"
        return (f"corners cover {self.cell_fraction:.0%} of the image; none near the {', '.join(missing)}: "
                "add views with the board there (distortion is estimated only where corners were seen)")

    def image(self, max_side: int = 640) -> np.ndarray:
        """A BGR picture of the coverage: grid cells shaded by corner count, corners as dots, view outlines."""
        w, h = self.image_size
        s = max_side / max(w, h)
        W, H = int(round(w * s)), int(round(h * s))
        img = np.full((H, W, 3), 40, np.uint8)
        gy, gx = self.counts.shape
        peak = max(1, int(self.counts.max()))
        for i in range(gy):
            for j in range(gx):
                c = self.counts[i, j]
                x0, x1 = int(j * W / gx), int((j + 1) * W / gx)
                y0, y1 = int(i * H / gy), int((i + 1) * H / gy)
                color = (40, 40, 120) if c == 0 else (40, int(80 + 150 * min(1.0, c / peak)), 40)
                cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), color, -1)
                cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (70, 70, 70), 1)
        for outline in self.outlines:
            pts = np.round(np.asarray(outline) * s).astype(np.int32)
            cv2.polylines(img, [pts], True, (200, 160, 60), 1, cv2.LINE_AA)
        for x, y in np.round(self.points * s).astype(int):
            cv2.circle(img, (int(x), int(y)), 1, (255, 255, 255), -1)
        cv2.putText(img, f"cells {self.cell_fraction:.0%}  hull {self.hull_fraction:.0%}", (8, 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        return img


def _edges_of(corner_name: str) -> list[str]:
    v, hz = corner_name.split(" ")[0].split("-")
    return [f"{v} edge", f"{hz} edge"]


def coverage_grid_shape(image_size: tuple[int, int], cells_long_side: int = 8) -> tuple[int, int]:
    w, h = image_size
    if w >= h:
        return max(2, int(round(cells_long_side * h / w))), cells_long_side
    return cells_long_side, max(2, int(round(cells_long_side * w / h)))


def compute_coverage(detections: Sequence[Detection], image_size: tuple[int, int],
                     cells_long_side: int = 8) -> Coverage:
    """Coverage of the sensor by the corners of ``detections`` (image size (width, height) px)."""
    w, h = image_size
    gy, gx = coverage_grid_shape(image_size, cells_long_side)
    counts = np.zeros((gy, gx), np.int64)
    pts_all, outlines = [], []
    for det in detections:
        pts = det.corners[det.mask]
        if len(pts) == 0:
            continue
        pts_all.append(pts)
        if len(pts) >= 3:
            outlines.append(cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2))
    points = np.concatenate(pts_all) if pts_all else np.zeros((0, 2))
    if len(points):
        ix = np.clip((points[:, 0] / w * gx).astype(int), 0, gx - 1)
        iy = np.clip((points[:, 1] / h * gy).astype(int), 0, gy - 1)
        np.add.at(counts, (iy, ix), 1)
    hull = 0.0
    if len(points) >= 3:
        hull = float(cv2.contourArea(cv2.convexHull(points.astype(np.float32)))) / (w * h)
    return Coverage(image_size, counts, float((counts > 0).mean()), min(1.0, hull), points, outlines)


# ------------------------------------------------------------------------------------------------
# Intrinsics
@dataclass
class IntrinsicsResult:
    """Result of :func:`calibrate_intrinsics`.

    Attributes:
        camera: the calibrated camera (``R = I``, ``t = 0``); ``K`` in px, ``dist`` of its lens model.
        rms: root-mean-square reprojection error over all corners of the views used, px.
        per_view_errors: RMS reprojection error of each used view, (V,) px.
        views: the detections used, in order.
        rejected: ``(detection, rms px)`` of views dropped as outliers (error > ``max(factor x median, min)``).
        board_rvecs: board -> camera rotation (Rodrigues) per used view, (V, 3).
        board_tvecs: board -> camera translation per used view, (V, 3), metres.
        std: standard deviation of ``fx, fy, cx, cy`` in px as estimated by OpenCV (NaN if unavailable).
        coverage: where on the sensor corners were seen (used views).
        frames_read, frames_without_board: input counts when a :class:`DetectionSet` was given.
    """

    camera: Camera
    rms: float
    per_view_errors: np.ndarray
    views: list[Detection]
    rejected: list[tuple[Detection, float]]
    board_rvecs: np.ndarray
    board_tvecs: np.ndarray
    std: dict
    coverage: Coverage
    fix_aspect: bool = False
    frames_read: int | None = None
    frames_without_board: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def num_views(self) -> int:
        return len(self.views)

    def summary(self) -> dict:
        """Plain numbers for tables and TOML metadata."""
        K = self.camera.K
        return {"camera": self.camera.name, "views": self.num_views, "rejected": len(self.rejected),
                "rms_px": round(self.rms, 4), "worst_view_px": round(float(self.per_view_errors.max()), 4),
                "fx": round(K[0, 0], 3), "fy": round(K[1, 1], 3), "cx": round(K[0, 2], 3), "cy": round(K[1, 2], 3),
                "coverage": round(self.coverage.cell_fraction, 3)}


def select_views(detections: Sequence[Detection], image_size: tuple[int, int], max_views: int) -> list[Detection]:
    """At most ``max_views`` detections chosen for coverage: greedily the view adding most new grid cells
    (fine grid), then evenly spaced among the rest. Deterministic; keeps the original order."""
    dets = list(detections)
    if len(dets) <= max_views:
        return dets
    gy, gx = coverage_grid_shape(image_size, 16)
    w, h = image_size
    cells = []
    for d in dets:
        p = d.corners[d.mask]
        cells.append(set(zip(np.clip((p[:, 1] / h * gy).astype(int), 0, gy - 1),
                             np.clip((p[:, 0] / w * gx).astype(int), 0, gx - 1))))
    chosen, covered = [], set()
    remaining = list(range(len(dets)))
    while remaining and len(chosen) < max_views:
        gains = [len(cells[i] - covered) for i in remaining]
        best = int(np.argmax(gains))
        if gains[best] == 0:
            break
        i = remaining.pop(best)
        chosen.append(i)
        covered |= cells[i]
    if len(chosen) < max_views and remaining:
        k = max_views - len(chosen)
        pick = np.linspace(0, len(remaining) - 1, k).round().astype(int)
        chosen += [remaining[i] for i in sorted(set(pick.tolist()))]
    return [dets[i] for i in sorted(chosen)]


def _view_arrays(det: Detection, obj_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = det.mask
    return obj_all[m].astype(np.float32), det.corners[m].astype(np.float32)


def _solve(views: list[Detection], obj_all: np.ndarray, size: tuple[int, int], model: str, fix_aspect: bool,
           flags_extra: int):
    objp, imgp = zip(*[_view_arrays(d, obj_all) for d in views])
    if model == "fisheye":
        flags = _fisheye_flag("CALIB_RECOMPUTE_EXTRINSIC") | _fisheye_flag("CALIB_FIX_SKEW") | flags_extra
        K0 = cv2.initCameraMatrix2D(list(objp), list(imgp), size)
        try:
            rms, K, dist, rvecs, tvecs = cv2.fisheye.calibrate(
                [o.reshape(-1, 1, 3).astype(np.float64) for o in objp],
                [i.reshape(-1, 1, 2).astype(np.float64) for i in imgp], size, K0, np.zeros(4),
                flags=flags | _fisheye_flag("CALIB_USE_INTRINSIC_GUESS"),
                criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-9))
        except cv2.error as exc:
            raise ValueError(
                f"fisheye calibration failed inside OpenCV {cv2.__version__} ({str(exc).splitlines()[-1][:120]}); "
                "its Python fisheye.calibrate is broken in some 5.x builds: calibrate with the default lens "
                "model, or with OpenCV 4.x"
            ) from exc
        std = np.full(4, np.nan)
    else:
        flags = flags_extra | (cv2.CALIB_FIX_ASPECT_RATIO if fix_aspect else 0)
        K0 = np.eye(3)
        rms, K, dist, rvecs, tvecs, std_int, _, _ = cv2.calibrateCameraExtended(
            list(objp), list(imgp), size, K0, np.zeros(5), flags=flags,
            criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-12))
        std = std_int.ravel()[:4]
    return K, np.asarray(dist, np.float64).ravel(), np.asarray(rvecs).reshape(-1, 3), \
        np.asarray(tvecs).reshape(-1, 3), std


def _fisheye_flag(name: str) -> int:
    """Fisheye calibration flags live in ``cv2.fisheye`` up to OpenCV 4 and in ``cv2`` from OpenCV 5."""
    return int(getattr(cv2.fisheye, name, None) or getattr(cv2, name))


def _view_errors(cam: Camera, views: list[Detection], obj_all: np.ndarray, rvecs, tvecs) -> np.ndarray:
    """RMS reprojection error per view (V,) px, computed with our own camera model."""
    out = []
    for det, rv, tv in zip(views, rvecs, tvecs):
        view_cam = cam.with_(R=cv2.Rodrigues(np.asarray(rv, np.float64))[0], t=np.asarray(tv, np.float64))
        proj = view_cam.project(obj_all[det.mask])
        out.append(np.sqrt(np.mean(np.sum((proj - det.corners[det.mask]) ** 2, axis=1))))
    return np.asarray(out)


def calibrate_intrinsics(detections: Sequence[Detection] | DetectionSet, board: Board, *,
                         image_size: tuple[int, int] | None = None, camera_name: str | None = None,
                         fix_aspect: bool = False, model: str = "opencv", reject_outliers: bool = True,
                         outlier_factor: float = 3.0, outlier_min_px: float = 1.0, max_views: int = 60,
                         zero_tangential: bool = False, fix_k3: bool = False) -> IntrinsicsResult:
    """Calibrate one camera's intrinsics from views of ``board``.

    Args:
        detections: views of the board (a :class:`DetectionSet` also carries the image size and counts).
        board: the board that was detected.
        image_size: (width, height) px; taken from the detections when omitted.
        fix_aspect: keep ``fx = fy`` (OpenCV ``CALIB_FIX_ASPECT_RATIO``).
        model: ``"opencv"`` (k1, k2, p1, p2, k3) or ``"fisheye"`` (k1..k4).
        reject_outliers: drop views whose RMS exceeds ``max(outlier_factor x median, outlier_min_px)`` and
            solve again (repeated until none is dropped; at least 3 views are kept).
        max_views: use at most this many views, chosen for coverage (videos give hundreds).
        zero_tangential, fix_k3: simpler lens models for few views.

    Raises:
        NotEnoughViewsError: fewer than 3 views.
    """
    frames_read = frames_without = None
    name = camera_name
    if isinstance(detections, DetectionSet):
        frames_read, frames_without = detections.frames_read, len(detections.without_board)
        image_size = image_size or detections.image_size
        name = name or detections.camera
        detections = detections.detections
    dets = list(detections)
    name = name or (dets[0].camera if dets and dets[0].camera else "camera")
    if model not in ("opencv", "fisheye"):
        raise ValueError(f"lens model {model!r}: expected 'opencv' or 'fisheye'")
    if len(dets) < MIN_VIEWS:
        raise NotEnoughViewsError(
            f"camera {name}: the board was found in {len(dets)} view(s); intrinsics need at least {MIN_VIEWS} "
            f"(aim for {RECOMMENDED_VIEWS}-30 views tilted up to ~45 degrees, covering the whole image)"
        )
    image_size = tuple(image_size or dets[0].image_size)
    sizes = {tuple(d.image_size) for d in dets}
    if len(sizes) > 1:
        raise ValueError(f"camera {name}: views have different image sizes {sorted(sizes)}; expected one size")
    warnings = []
    if len(dets) < RECOMMENDED_VIEWS:
        warnings.append(f"only {len(dets)} views: the lens distortion may be poorly constrained "
                        f"(aim for {RECOMMENDED_VIEWS}-30)")
    views = select_views(dets, image_size, max_views)
    obj_all = board.object_points()
    flags_extra = 0
    if model == "opencv":
        flags_extra |= cv2.CALIB_ZERO_TANGENT_DIST if zero_tangential else 0
        flags_extra |= cv2.CALIB_FIX_K3 if fix_k3 else 0
    rejected: list[tuple[Detection, float]] = []
    while True:
        K, dist, rvecs, tvecs, std = _solve(views, obj_all, image_size, model, fix_aspect, flags_extra)
        cam = Camera(name, image_size, K, dist, distortion_model=model)
        errors = _view_errors(cam, views, obj_all, rvecs, tvecs)
        if not reject_outliers or len(views) <= MIN_VIEWS:
            break
        limit = max(outlier_factor * float(np.median(errors)), outlier_min_px)
        worst = int(np.argmax(errors))
        if errors[worst] <= limit:
            break
        log.info("camera %s: view %s rejected (%.2f px > %.2f px)", name, views[worst].source, errors[worst], limit)
        rejected.append((views[worst], float(errors[worst])))
        views = views[:worst] + views[worst + 1:]
    n_pts = np.array([d.num_found for d in views])
    rms = float(np.sqrt(np.sum(errors ** 2 * n_pts) / n_pts.sum()))
    cov = compute_coverage(views, image_size)
    if cov.cell_fraction < 0.5:
        warnings.append(cov.advice())
    for w in warnings:
        log.warning("camera %s: %s", name, w)
    std_d = dict(zip(("fx", "fy", "cx", "cy"), (float(v) for v in std)))
    if fix_aspect and model == "opencv":
        std_d["fx"] = std_d["fy"]  # OpenCV reports the free focal length as fy when the ratio is fixed
    return IntrinsicsResult(cam, rms, errors, views, rejected, rvecs, tvecs, std_d, cov, fix_aspect,
                            frames_read, frames_without, warnings)
