"""Triangulation of image points seen by a calibrated rig: vectorised, confidence-weighted, robust.

All functions work on every point at once (no per-point Python loop): ``points_2d`` (C, N, 2) pixels,
``confidence`` (C, N) in [0, 1]; a missing observation is NaN or has confidence <= ``min_confidence``.
Points seen by fewer than two valid views come out NaN.

Method: points are undistorted to ideal normalised coordinates, then a confidence-weighted DLT solves
``w_c * (x_c * p3 - p1) . X = 0``, ``w_c * (y_c * p3 - p2) . X = 0`` for every camera ``c`` (rows scaled by the
focal length, i.e. the pixel-space DLT of Pose2Sim and aniposelib), via the smallest eigenvector of the
4x4 normal matrix per point. Outlier views (a wrong person, a left/right swap) are removed by iterative
worst-view rejection or by RANSAC over view pairs; an optional batched Gauss-Newton refinement then
minimises the weighted reprojection error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.geometry.camera import CameraRig


@dataclass(frozen=True)
class TriangulationResult:
    """Output of :func:`triangulate`.

    Attributes:
        points_3d: world points (N, 3) in the rig's unit; NaN where fewer than two views were valid.
        reprojection_error: mean pixel distance over the views used, (N,); NaN where no 3D point.
        views_used: which views contributed to each point, (C, N) bool.
    """

    points_3d: np.ndarray
    reprojection_error: np.ndarray
    views_used: np.ndarray

    @property
    def num_views(self) -> np.ndarray:
        """Number of views used per point, (N,)."""
        return self.views_used.sum(axis=0)


def _check_inputs(rig: CameraRig, points_2d, confidence) -> tuple[np.ndarray, np.ndarray]:
    pts = rig.check_points_2d(points_2d)
    C, N, _ = pts.shape
    if confidence is None:
        conf = np.ones((C, N))
    else:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != (C, N):
            raise ValueError(f"confidence: expected shape (C, N) = {(C, N)} to match points_2d, got {conf.shape}")
    return pts, conf


def _dlt_rows(rig: CameraRig, normalized: np.ndarray) -> np.ndarray:
    """Unweighted DLT rows, laid out (4, C, 2, N): component, camera, x/y row, point.

    From ideal normalised coordinates (C, N, 2); rows of missing observations are 0. Each row is scaled
    by the focal length so the system equals the pixel-space DLT.
    """
    E = np.stack([c.extrinsic_matrix for c in rig.cameras])  # (C, 3, 4)
    f = np.stack([[c.K[0, 0], c.K[1, 1]] for c in rig.cameras])  # (C, 2)
    xy = np.nan_to_num(normalized).transpose(2, 0, 1)  # (2, C, N)
    rows = np.empty((4, len(E), 2, normalized.shape[1]))
    for k in range(2):  # k = 0: x row uses E[:, 0]; k = 1: y row uses E[:, 1]
        rows[:, :, k, :] = f[None, :, k, None] * (
            xy[k][None] * E[:, 2, :].T[:, :, None] - E[:, k, :].T[:, :, None])
    return rows


def _adjugate_4x4(A: np.ndarray) -> np.ndarray:
    """Adjugate (det(A) * inverse(A), defined for singular A too) of (4, 4, N) matrices, element-wise."""
    a = A
    s0 = a[0][0] * a[1][1] - a[1][0] * a[0][1]
    s1 = a[0][0] * a[1][2] - a[1][0] * a[0][2]
    s2 = a[0][0] * a[1][3] - a[1][0] * a[0][3]
    s3 = a[0][1] * a[1][2] - a[1][1] * a[0][2]
    s4 = a[0][1] * a[1][3] - a[1][1] * a[0][3]
    s5 = a[0][2] * a[1][3] - a[1][2] * a[0][3]
    c5 = a[2][2] * a[3][3] - a[3][2] * a[2][3]
    c4 = a[2][1] * a[3][3] - a[3][1] * a[2][3]
    c3 = a[2][1] * a[3][2] - a[3][1] * a[2][2]
    c2 = a[2][0] * a[3][3] - a[3][0] * a[2][3]
    c1 = a[2][0] * a[3][2] - a[3][0] * a[2][2]
    c0 = a[2][0] * a[3][1] - a[3][0] * a[2][1]
    B = np.empty_like(A)
    B[0, 0] = a[1][1] * c5 - a[1][2] * c4 + a[1][3] * c3
    B[0, 1] = -a[0][1] * c5 + a[0][2] * c4 - a[0][3] * c3
    B[0, 2] = a[3][1] * s5 - a[3][2] * s4 + a[3][3] * s3
    B[0, 3] = -a[2][1] * s5 + a[2][2] * s4 - a[2][3] * s3
    B[1, 0] = -a[1][0] * c5 + a[1][2] * c2 - a[1][3] * c1
    B[1, 1] = a[0][0] * c5 - a[0][2] * c2 + a[0][3] * c1
    B[1, 2] = -a[3][0] * s5 + a[3][2] * s2 - a[3][3] * s1
    B[1, 3] = a[2][0] * s5 - a[2][2] * s2 + a[2][3] * s1
    B[2, 0] = a[1][0] * c4 - a[1][1] * c2 + a[1][3] * c0
    B[2, 1] = -a[0][0] * c4 + a[0][1] * c2 - a[0][3] * c0
    B[2, 2] = a[3][0] * s4 - a[3][1] * s2 + a[3][3] * s0
    B[2, 3] = -a[2][0] * s4 + a[2][1] * s2 - a[2][3] * s0
    B[3, 0] = -a[1][0] * c3 + a[1][1] * c1 - a[1][2] * c0
    B[3, 1] = a[0][0] * c3 - a[0][1] * c1 + a[0][2] * c0
    B[3, 2] = -a[3][0] * s3 + a[3][1] * s1 - a[3][2] * s0
    B[3, 3] = a[2][0] * s3 - a[2][1] * s1 + a[2][2] * s0
    return B


def _solve_dlt(rows: np.ndarray, weights: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Weighted DLT. rows (4, C, 2, N), weights (C, N) (0 = unused) -> (N, 3); NaN where < 2 views.

    The solution is the eigenvector of the smallest eigenvalue of the 4x4 normal matrix ``A = M^T M`` of
    each point (what one SVD of ``M`` gives). It is the dominant eigenvector of ``adj(A)`` (which is
    ``det(A) A^-1``, and exactly rank one with that vector when the rays meet), so a few batched power
    iterations on the adjugate find it with element-wise arithmetic only.
    """
    N = rows.shape[-1]
    r = (rows * weights[None, :, None, :]).reshape(4, -1, N)  # (4, 2C, N)
    A = np.empty((4, 4, N))
    for i in range(4):
        for j in range(i, 4):
            A[i, j] = A[j, i] = np.einsum("kn,kn->n", r[i], r[j])
    scale = A[0, 0] + A[1, 1] + A[2, 2] + A[3, 3]
    A /= np.where(scale > 0, scale, 1.0)
    B = _adjugate_4x4(A)
    # Start from the adjugate's column with the largest diagonal entry (parallel to the answer if rank one).
    k = np.argmax(np.abs(np.stack([B[i, i] for i in range(4)])), axis=0)
    v = B[:, k, np.arange(N)]  # (4, N)
    for _ in range(iterations):
        v = v / np.maximum(np.sqrt((v * v).sum(axis=0)), 1e-300)
        v = np.einsum("ijn,jn->in", B, v)
    v = v.T
    with np.errstate(invalid="ignore", divide="ignore"):
        pts = v[:, :3] / v[:, 3:4]
    pts[(weights > 0).sum(axis=0) < 2] = np.nan
    return pts


def reprojection_errors(rig: CameraRig, points_3d: np.ndarray, points_2d: np.ndarray) -> np.ndarray:
    """Pixel distance between ``points_2d`` (C, N, 2) and the projection of ``points_3d`` (N, 3): (C, N)."""
    projected = rig.project(points_3d)
    return np.linalg.norm(projected - points_2d, axis=-1)


def _refine(rig: CameraRig, points_3d: np.ndarray, normalized: np.ndarray, weights: np.ndarray,
            iterations: int = 10) -> np.ndarray:
    """Batched Gauss-Newton on the weighted reprojection error in ideal (undistorted) pixel units."""
    X = points_3d.copy()
    ok = np.isfinite(X).all(axis=1)
    if not ok.any():
        return X
    R = np.stack([c.R for c in rig.cameras])  # (C, 3, 3)
    t = np.stack([c.t for c in rig.cameras])  # (C, 3)
    f = np.stack([[c.K[0, 0], c.K[1, 1]] for c in rig.cameras])  # (C, 2)
    obs = np.nan_to_num(normalized[:, ok])  # (C, M, 2)
    w = np.where(np.isfinite(normalized[:, ok]).all(axis=-1), weights[:, ok], 0.0)  # (C, M)
    Xm = X[ok]
    for _ in range(iterations):
        P = np.einsum("cij,mj->cmi", R, Xm) + t[:, None, :]  # (C, M, 3)
        z = np.where(np.abs(P[..., 2]) > 1e-12, P[..., 2], 1e-12)
        proj = P[..., :2] / z[..., None]
        r = (proj - obs) * f[:, None, :] * w[..., None]  # (C, M, 2)
        # d proj / d P = [[1/z, 0, -x/z^2], [0, 1/z, -y/z^2]]; d P / d X = R.
        dproj = np.zeros(P.shape[:2] + (2, 3))
        dproj[..., 0, 0] = 1 / z
        dproj[..., 1, 1] = 1 / z
        dproj[..., 0, 2] = -P[..., 0] / z**2
        dproj[..., 1, 2] = -P[..., 1] / z**2
        J = np.einsum("cmij,cjk->cmik", dproj, R) * (f[:, None, :, None] * w[..., None, None])  # (C, M, 2, 3)
        H = np.einsum("cmki,cmkj->mij", J, J) + 1e-9 * np.eye(3)
        g = np.einsum("cmki,cmk->mi", J, r)
        step = np.linalg.solve(H, g[..., None])[..., 0]
        Xm = Xm - step
        if np.max(np.abs(step)) < 1e-10:
            break
    X[ok] = Xm
    return X


def _ransac_pairs(rows: np.ndarray, valid: np.ndarray, weights: np.ndarray, rig: CameraRig,
                  points_2d: np.ndarray, threshold_px: float) -> np.ndarray:
    """Choose inlier views by consensus over all view pairs. Returns the inlier mask (C, N)."""
    C, N = valid.shape
    best_count = np.full(N, -1)
    best_err = np.full(N, np.inf)
    best_mask = valid.copy()
    for a in range(C):
        for b in range(a + 1, C):
            pair_w = np.zeros_like(weights)
            pair_w[a], pair_w[b] = weights[a], weights[b]
            pair_ok = valid[a] & valid[b]
            if not pair_ok.any():
                continue
            X = _solve_dlt(rows, np.where(valid, pair_w, 0.0))
            err = reprojection_errors(rig, X, points_2d)
            inliers = valid & (err < threshold_px) & pair_ok[None]
            count = inliers.sum(axis=0)
            mean_err = np.where(count > 0, np.where(inliers, err, 0).sum(axis=0) / np.maximum(count, 1), np.inf)
            better = (count > best_count) | ((count == best_count) & (mean_err < best_err))
            better &= pair_ok
            best_count = np.where(better, count, best_count)
            best_err = np.where(better, mean_err, best_err)
            best_mask[:, better] = inliers[:, better]
    # Points where no pair agreed keep all their valid views.
    none = best_count < 2
    best_mask[:, none] = valid[:, none]
    return best_mask


def _drop_worst_views(rig, rows, pts, X, valid, weights, threshold_px, min_views):
    """Iteratively remove, per point, the view whose removal best explains the others (leave-one-out).

    A point is revisited while its largest reprojection error exceeds ``threshold_px`` and more than
    ``min_views`` views remain. Returns the updated points (N, 3) and view mask (C, N).
    """
    C = len(rig)
    for _ in range(C - min_views):
        err = np.where(valid, reprojection_errors(rig, X, pts), -np.inf)
        todo = np.nonzero((err.max(axis=0) > threshold_px) & (valid.sum(axis=0) > min_views))[0]
        if todo.size == 0:
            break
        sub_rows, sub_pts, sub_valid = rows[..., todo], pts[:, todo], valid[:, todo]
        sub_w = np.where(sub_valid, weights[:, todo], 0.0)
        best_score = np.full(todo.size, np.inf)
        best_view = np.zeros(todo.size, dtype=int)
        for c in range(C):
            w = sub_w.copy()
            w[c] = 0.0
            Xc = _solve_dlt(sub_rows, w)
            e = reprojection_errors(rig, Xc, sub_pts)
            keep = sub_valid.copy()
            keep[c] = False
            score = np.where(keep, e, 0).sum(axis=0) / np.maximum(keep.sum(axis=0), 1)
            score = np.where(sub_valid[c] & np.isfinite(score), score, np.inf)
            better = score < best_score
            best_score[better], best_view[better] = score[better], c
        valid[best_view, todo] = False
        X[todo] = _solve_dlt(rows[..., todo], np.where(valid[:, todo], weights[:, todo], 0.0))
    return X, valid


def triangulate(
    rig: CameraRig,
    points_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    min_confidence: float = 0.0,
    outliers: str | None = "worst-view",
    threshold_px: float = 20.0,
    min_views: int = 2,
    refine: bool = False,
) -> TriangulationResult:
    """Triangulate (C, N, 2) pixels into (N, 3) world points.

    Args:
        rig: the calibrated cameras (C of them, in the order of ``points_2d``).
        points_2d: pixels (C, N, 2); NaN marks a missing observation.
        confidence: per-observation weights (C, N); ``None`` means all 1. Observations with confidence
            ``<= min_confidence`` are ignored.
        outliers: ``None`` (use every valid view), ``"worst-view"`` (while a view's reprojection error
            exceeds ``threshold_px`` and more than ``min_views`` remain, drop the view whose removal leaves
            the smallest error on the others) or
            ``"ransac"`` (consensus over all view pairs, inliers within ``threshold_px``).
        threshold_px: reprojection error (pixels) above which a view counts as an outlier.
        min_views: fewest views a point may be triangulated from (at least 2).
        refine: minimise the weighted reprojection error with Gauss-Newton after the DLT.
    """
    if outliers not in (None, "none", "worst-view", "ransac"):
        raise ValueError(f"outliers must be None, 'worst-view' or 'ransac', got {outliers!r}")
    if min_views < 2:
        raise ValueError(f"min_views must be at least 2, got {min_views}")
    pts, conf = _check_inputs(rig, points_2d, confidence)
    normalized = rig.undistort_normalized(pts)
    rows = _dlt_rows(rig, normalized)
    valid = np.isfinite(normalized).all(axis=-1) & np.isfinite(conf) & (conf > min_confidence)
    weights = np.where(valid, np.nan_to_num(conf), 0.0)

    if outliers == "ransac" and len(rig) > 2:
        valid = _ransac_pairs(rows, valid, weights, rig, pts, threshold_px)
    X = _solve_dlt(rows, np.where(valid, weights, 0.0))
    if outliers == "worst-view" and len(rig) > 2:
        X, valid = _drop_worst_views(rig, rows, pts, X, valid, weights, threshold_px, min_views)
    if refine:
        X = _refine(rig, X, normalized, np.where(valid, weights, 0.0))
    X[valid.sum(axis=0) < min_views] = np.nan
    errors = reprojection_errors(rig, X, pts)
    used = valid & np.isfinite(X).all(axis=1)[None]
    with np.errstate(invalid="ignore"):
        mean_err = np.where(used, errors, 0).sum(axis=0) / used.sum(axis=0)
    mean_err[~np.isfinite(X).all(axis=1)] = np.nan
    return TriangulationResult(points_3d=X, reprojection_error=mean_err, views_used=used)


def triangulate_sequence(
    rig: CameraRig,
    points_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    **kwargs,
) -> TriangulationResult:
    """Triangulate a sequence: ``points_2d`` (T, C, J, 2), ``confidence`` (T, C, J) -> points (T, J, 3).

    Frames are flattened into one batch, so this is as fast as one call on T*J points. The result's
    ``reprojection_error`` is (T, J) and ``views_used`` (T, C, J).
    """
    arr = np.asarray(points_2d, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[-1] != 2:
        raise ValueError(f"points_2d: expected shape (T, C, J, 2), got {arr.shape}")
    T, C, J, _ = arr.shape
    flat = arr.transpose(1, 0, 2, 3).reshape(C, T * J, 2)
    flat_conf = None
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != (T, C, J):
            raise ValueError(f"confidence: expected shape (T, C, J) = {(T, C, J)}, got {conf.shape}")
        flat_conf = conf.transpose(1, 0, 2).reshape(C, T * J)
    res = triangulate(rig, flat, flat_conf, **kwargs)
    return TriangulationResult(
        points_3d=res.points_3d.reshape(T, J, 3),
        reprojection_error=res.reprojection_error.reshape(T, J),
        views_used=res.views_used.reshape(C, T, J).transpose(1, 0, 2),
    )
