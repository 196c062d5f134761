"""Extrinsics of N cameras from synchronised views of a board: PnP, pairwise poses, spanning tree, bundle adjustment.

Steps (all deterministic: same input, same output):

1. Board pose per view (board -> camera) by PnP on undistorted points (IPPE, then Levenberg-Marquardt).
2. Relative pose of every camera pair from the frames both saw. A symmetric chessboard's corner order can
   flip between views (180°; also 90° for square boards): each frame proposes one relative pose per board
   symmetry and the pose most frames agree on wins, so flipped views are recognised, not averaged in.
3. Maximum spanning tree over the pairs (weight = frames agreeing) from the first camera: initial poses.
4. Each frame's flipped views are relabelled to agree with the others; the board's pose in the world per
   frame is initialised from its cameras.
5. Bundle adjustment with ``scipy.optimize.least_squares``: residuals are the pixel errors of every corner
   of every view; unknowns the camera poses (the first camera fixed as the gauge), one rigid board pose per
   frame and optionally the intrinsics; sparse Jacobian pattern, Huber loss (1 px). Observations beyond
   ``max(outlier_px, 5 x median)`` are dropped once and the problem solved again.
6. Report: per-camera reprojection error, and the metric check (triangulated neighbouring corners against
   the board's square size).

Frames: world = the first camera's frame (``X_cam = R X + t``, metres) until :mod:`calibration.floor` moves it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix

from calibration.boards import Board
from calibration.detection import Detection, DetectionSet
from calibration.intrinsics import NotEnoughViewsError
from core.geometry.alignment import rigid_transform, rodrigues_to_matrix
from core.geometry.camera import Camera, CameraRig, matrix_to_rodrigues
from core.geometry.triangulation import triangulate

log = logging.getLogger(__name__)

PNP_MAX_ERROR_PX = 10.0
MIN_SHARED_FRAMES = 3


class DisconnectedCamerasError(ValueError):
    """Some cameras never saw the board at the same time as the others."""


# ------------------------------------------------------------------------------------------------
# Small rigid-transform helpers (4x4 matrices, world/board -> camera)
def _T(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


def _inv(T: np.ndarray) -> np.ndarray:
    R, t = T[:3, :3], T[:3, 3]
    return _T(R.T, -R.T @ t)


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Rotation angle between rotations (..., 3, 3), degrees."""
    c = (np.einsum("...ij,...ij->...", Ra, Rb) - 1) / 2
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def _mean_rotation(Rs: np.ndarray) -> np.ndarray:
    """Chordal L2 mean of rotations (K, 3, 3)."""
    U, _, Vt = np.linalg.svd(Rs.sum(axis=0))
    R = U @ Vt
    if np.linalg.det(R) < 0:
        U[:, -1] *= -1
        R = U @ Vt
    return R


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rigid T (4x4) with dst ≈ R src + t for points (N, 3)."""
    return _T(*rigid_transform(src, dst))


# ------------------------------------------------------------------------------------------------
# Results
@dataclass
class MetricCheck:
    """Distances between neighbouring triangulated board corners against the true square size.

    Attributes:
        square_m: the board's square size, metres.
        mean_m: mean measured neighbour distance, metres.
        mean_abs_error_mm, rms_error_mm, max_abs_error_mm: |measured - square| statistics, millimetres.
        relative_error: mean_m / square_m - 1 (scale error; 0.001 = 0.1 %).
        pairs: number of neighbour distances measured.
    """

    square_m: float
    mean_m: float
    mean_abs_error_mm: float
    rms_error_mm: float
    max_abs_error_mm: float
    relative_error: float
    pairs: int


@dataclass
class ExtrinsicsResult:
    """Result of :func:`calibrate_extrinsics`.

    Attributes:
        rig: the calibrated cameras (world = first camera, metres, until a floor is set).
        per_camera: per camera name: ``mean_px``, ``median_px``, ``rms_px``, ``p95_px``, ``observations``,
            ``frames``.
        rms_px, median_px: over every corner observation kept.
        initial_rms_px: before bundle adjustment (spanning-tree initialisation).
        board_poses: frame index -> board -> world transform (4, 4) after bundle adjustment.
        board_cameras: frame index -> names of cameras that saw that frame.
        flips: (camera, frame) views whose corner order was relabelled (chessboard 180° ambiguity).
        shared_frames: (camera a, camera b) -> frames both saw.
        tree: spanning-tree edges (parent, child) used for the initialisation.
        outliers_removed: corner observations dropped after the first robust solve.
        metric: the metric check.
        evaluations, seconds: solver cost.
        refined_intrinsics: whether intrinsics were optimised too.
        warnings: things the user should know (weak links, few frames).
    """

    rig: CameraRig
    per_camera: dict
    rms_px: float
    median_px: float
    initial_rms_px: float
    board_poses: dict
    board_cameras: dict
    flips: list
    shared_frames: dict
    tree: list
    outliers_removed: int
    metric: MetricCheck | None
    evaluations: int
    seconds: float
    refined_intrinsics: bool
    warnings: list = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Input handling
def _check_cameras(detections: Mapping[str, Sequence[Detection] | DetectionSet],
                   cameras: Mapping[str, Camera] | CameraRig) -> tuple[list[str], dict[str, Camera], dict]:
    cams = {c.name: c for c in cameras} if isinstance(cameras, CameraRig) else dict(cameras)
    names = list(detections.keys())
    if len(names) < 2:
        raise NotEnoughViewsError(f"extrinsics need at least 2 cameras, got {len(names)} ({names})")
    missing = [n for n in names if n not in cams]
    if missing:
        raise ValueError(f"no intrinsics for camera(s) {missing}; the intrinsics file has {sorted(cams)}")
    dets = {}
    for n in names:
        d = detections[n]
        dets[n] = list(d.detections if isinstance(d, DetectionSet) else d)
        for det in dets[n]:
            if tuple(det.image_size) != tuple(cams[n].size):
                raise ValueError(
                    f"camera {n}: images are {det.image_size[0]}x{det.image_size[1]} px but its intrinsics are "
                    f"for {cams[n].size[0]}x{cams[n].size[1]} px ({det.source}); calibrate intrinsics at this size"
                )
    never = [n for n in names if not dets[n]]
    if never:
        raise DisconnectedCamerasError(f"camera(s) {never} never saw the board; they cannot be placed")
    return names, cams, dets


def _pnp(cam: Camera, det: Detection, obj: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Board -> camera transform (4x4) from one view, and its RMS error in px; None if it fails."""
    m = det.mask
    if m.sum() < 4:
        return None
    xy = cam.undistort_normalized(det.corners[m])
    obj_m = obj[m]
    ok, rvec, tvec = cv2.solvePnP(obj_m, xy, np.eye(3), None, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        ok, rvec, tvec = cv2.solvePnP(obj_m, xy, np.eye(3), None, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            return None
    rvec, tvec = cv2.solvePnPRefineLM(obj_m, xy, np.eye(3), None, rvec, tvec)
    T = _T(cv2.Rodrigues(rvec)[0], tvec.ravel())
    if T[2, 3] <= 0:
        return None
    proj = cam.with_(R=T[:3, :3], t=T[:3, 3]).project(obj_m)
    err = float(np.sqrt(np.mean(np.sum((proj - det.corners[m]) ** 2, axis=1))))
    return T, err


def _symmetry_transforms(board: Board) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The board's corner permutations and the rigid board motions S with X[perm[k]] = S X[k]."""
    obj = board.object_points()
    perms = board.symmetries()
    return perms, [_kabsch(obj, obj[p]) for p in perms]


def _relative_pose(Ta_list: list[np.ndarray], Tb_list: list[np.ndarray], syms: list[np.ndarray],
                   rot_tol_deg: float = 3.0, trans_tol: float = 0.05) -> tuple[np.ndarray, int, list[int]]:
    """Consensus relative pose T_ab (X_a = T_ab X_b) over frames, one candidate per frame and symmetry.

    Returns (T_ab, number of frames agreeing, per-frame symmetry index or -1 for frames that disagree).
    """
    F, S = len(Ta_list), len(syms)
    cand = np.array([[Ta @ Sm @ _inv(Tb) for Sm in syms] for Ta, Tb in zip(Ta_list, Tb_list)])  # (F, S, 4, 4)
    flat = cand.reshape(F * S, 4, 4)
    Rf, tf = flat[:, :3, :3], flat[:, :3, 3]
    scale = max(float(np.median(np.linalg.norm(tf, axis=1))), 1e-6)
    ang = _angle_deg(Rf[:, None], Rf[None, :])  # (FS, FS)
    dt = np.linalg.norm(tf[:, None] - tf[None, :], axis=-1) / scale
    agree = (ang < rot_tol_deg) & (dt < trans_tol)  # (FS, FS)
    per_frame = agree.reshape(F * S, F, S).any(axis=2)  # candidate i agrees with some candidate of frame f
    support = per_frame.sum(axis=1)
    cost = np.where(agree, ang / rot_tol_deg + dt / trans_tol, 0).sum(axis=1)
    order = np.lexsort((np.arange(F * S), cost, -support))
    best = int(order[0])
    choice = []
    Rs, ts = [], []
    for f in range(F):
        d = _angle_deg(Rf[best][None], Rf[f * S:(f + 1) * S]) / rot_tol_deg + \
            np.linalg.norm(tf[f * S:(f + 1) * S] - tf[best], axis=1) / scale / trans_tol
        s = int(np.argmin(d))
        if agree[best, f * S + s]:
            choice.append(s)
            Rs.append(Rf[f * S + s])
            ts.append(tf[f * S + s])
        else:
            choice.append(-1)
    return _T(_mean_rotation(np.array(Rs)), np.mean(ts, axis=0)), int(support[best]), choice


def _spanning_tree(names: list[str], weights: dict) -> list[tuple[str, str]]:
    """Maximum spanning tree (Kruskal, deterministic ties), edges oriented away from ``names[0]``."""
    parent = {n: n for n in names}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    order = sorted(weights.items(), key=lambda kv: (-kv[1], names.index(kv[0][0]), names.index(kv[0][1])))
    edges = []
    for (a, b), _w in order:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            edges.append((a, b))
    # Orient from the root by breadth-first search.
    adj = {n: [] for n in names}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    seen, queue, tree = {names[0]}, [names[0]], []
    while queue:
        a = queue.pop(0)
        for b in sorted(adj[a], key=names.index):
            if b not in seen:
                seen.add(b)
                tree.append((a, b))
                queue.append(b)
    return tree


def _components(names: list[str], links: set) -> list[list[str]]:
    comp = {n: {n} for n in names}
    for a, b in links:
        if comp[a] is not comp[b]:
            merged = comp[a] | comp[b]
            for n in merged:
                comp[n] = merged
    out, seen = [], set()
    for n in names:
        if n not in seen:
            seen |= comp[n]
            out.append([m for m in names if m in comp[n]])
    return out


# ------------------------------------------------------------------------------------------------
# Bundle adjustment
class _Problem:
    """The bundle-adjustment problem: observations, parameter layout, residuals and Jacobian pattern."""

    def __init__(self, cams: list[Camera], obj: np.ndarray, obs_cam: np.ndarray, obs_frame: np.ndarray,
                 obs_corner: np.ndarray, obs_xy: np.ndarray, n_frames: int, refine_intrinsics: bool,
                 fix_aspect: bool):
        self.cams, self.obj = cams, obj
        self.obs_cam, self.obs_frame, self.obs_corner, self.obs_xy = obs_cam, obs_frame, obs_corner, obs_xy
        self.C, self.F = len(cams), n_frames
        self.refine_intrinsics = refine_intrinsics
        self.fix_aspect = fix_aspect
        self.models = [c.distortion_model for c in cams]
        self.n_dist = 4 if any(m == "fisheye" for m in self.models) else 5
        self.n_intr = (3 if fix_aspect else 4) + self.n_dist if refine_intrinsics else 0
        self.n_cam = 6 + self.n_intr
        self.off_frames = (self.C - 1) * 6 + self.C * self.n_intr

    # layout: [extrinsics of cameras 1..C-1 (6 each)] [intrinsics of all cameras] [frames (6 each)]
    def pack(self, cam_T: np.ndarray, frame_T: np.ndarray) -> np.ndarray:
        parts = [np.concatenate([matrix_to_rodrigues(T[:3, :3]), T[:3, 3]]) for T in cam_T[1:]]
        if self.refine_intrinsics:
            for c in self.cams:
                K = c.K
                f = [K[0, 0]] if self.fix_aspect else [K[0, 0], K[1, 1]]
                parts.append(np.concatenate([f, [K[0, 2], K[1, 2]], c.dist[:self.n_dist]]))
        parts += [np.concatenate([matrix_to_rodrigues(T[:3, :3]), T[:3, 3]]) for T in frame_T]
        return np.concatenate(parts) if parts else np.zeros(0)

    def unpack(self, x: np.ndarray):
        ext = np.vstack([np.zeros((1, 6)), x[: (self.C - 1) * 6].reshape(-1, 6)])
        intr = None
        if self.refine_intrinsics:
            intr = x[(self.C - 1) * 6: self.off_frames].reshape(self.C, self.n_intr)
        frames = x[self.off_frames:].reshape(self.F, 6)
        return ext, intr, frames

    def _intrinsics_arrays(self, intr):
        """Per camera fx, fy, cx, cy (C,) each and distortion (C, n_dist)."""
        if intr is None:
            K = np.stack([c.K for c in self.cams])
            dist = np.stack([np.resize(np.append(c.dist, np.zeros(5))[: self.n_dist], self.n_dist)
                             for c in self.cams])
            return K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], dist
        if self.fix_aspect:
            ratio = np.array([c.K[1, 1] / c.K[0, 0] for c in self.cams])
            fx = intr[:, 0]
            return fx, fx * ratio, intr[:, 1], intr[:, 2], intr[:, 3:]
        return intr[:, 0], intr[:, 1], intr[:, 2], intr[:, 3], intr[:, 4:]

    def project(self, x: np.ndarray) -> np.ndarray:
        """Predicted pixels of every observation, (M, 2)."""
        ext, intr, frames = self.unpack(x)
        Rc, tc = rodrigues_to_matrix(ext[:, :3]), ext[:, 3:]
        Rf, tf = rodrigues_to_matrix(frames[:, :3]), frames[:, 3:]
        Xw = np.einsum("fij,nj->fni", Rf, self.obj) + tf[:, None, :]  # (F, N, 3)
        Xw = Xw[self.obs_frame, self.obs_corner]  # (M, 3)
        ci = self.obs_cam
        Xc = np.einsum("mij,mj->mi", Rc[ci], Xw) + tc[ci]
        z = np.where(Xc[:, 2] > 1e-9, Xc[:, 2], 1e-9)
        x_, y_ = Xc[:, 0] / z, Xc[:, 1] / z
        fx, fy, cx, cy, dist = self._intrinsics_arrays(intr)
        d = dist[ci]
        r2 = x_ * x_ + y_ * y_
        fisheye = np.array([self.models[c] == "fisheye" for c in range(self.C)])[ci]
        xd, yd = x_.copy(), y_.copy()
        if (~fisheye).any():
            k1, k2, p1, p2 = d[:, 0], d[:, 1], d[:, 2], d[:, 3]
            k3 = d[:, 4] if self.n_dist == 5 else 0.0
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            xo = x_ * radial + 2 * p1 * x_ * y_ + p2 * (r2 + 2 * x_ * x_)
            yo = y_ * radial + p1 * (r2 + 2 * y_ * y_) + 2 * p2 * x_ * y_
            xd = np.where(fisheye, xd, xo)
            yd = np.where(fisheye, yd, yo)
        if fisheye.any():
            r = np.sqrt(r2)
            th = np.arctan(r)
            t2 = th * th
            thd = th * (1 + t2 * (d[:, 0] + t2 * (d[:, 1] + t2 * (d[:, 2] + t2 * d[:, 3]))))
            sc = np.where(r > 1e-12, thd / np.where(r > 1e-12, r, 1), 1)
            xd = np.where(fisheye, x_ * sc, xd)
            yd = np.where(fisheye, y_ * sc, yd)
        return np.stack([fx[ci] * xd + cx[ci], fy[ci] * yd + cy[ci]], axis=1)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return (self.project(x) - self.obs_xy).ravel()

    def sparsity(self) -> coo_matrix:
        """Which parameters each residual depends on: its camera's pose (and intrinsics), its frame's pose."""
        M = len(self.obs_cam)
        n_params = self.off_frames + self.F * 6
        rows = np.arange(2 * M)
        cam = np.repeat(self.obs_cam, 2)
        frame = np.repeat(self.obs_frame, 2)
        r_list, c_list = [], []
        moving = cam > 0
        for k in range(6):
            r_list += [rows[moving], rows]
            c_list += [(cam[moving] - 1) * 6 + k, self.off_frames + frame * 6 + k]
        for k in range(self.n_intr):
            r_list.append(rows)
            c_list.append((self.C - 1) * 6 + cam * self.n_intr + k)
        r, c = np.concatenate(r_list), np.concatenate(c_list)
        return coo_matrix((np.ones(r.size, np.int8), (r, c)), shape=(2 * M, n_params)).tocsr()

    def cameras_from(self, x: np.ndarray) -> list[Camera]:
        ext, intr, _ = self.unpack(x)
        fx, fy, cx, cy, dist = self._intrinsics_arrays(intr)
        out = []
        for i, c in enumerate(self.cams):
            K = c.K.copy()
            dist_i = c.dist.copy()
            if intr is not None:
                K[0, 0], K[1, 1], K[0, 2], K[1, 2] = fx[i], fy[i], cx[i], cy[i]
                dist_i[: self.n_dist] = dist[i]
            out.append(Camera(c.name, c.size, K, dist_i, rodrigues_to_matrix(ext[i, :3]), ext[i, 3:],
                              distortion_model=c.distortion_model))
        return out

    def frame_transforms(self, x: np.ndarray) -> np.ndarray:
        _, _, frames = self.unpack(x)
        return np.array([_T(R, t) for R, t in zip(rodrigues_to_matrix(frames[:, :3]), frames[:, 3:])])


def _solver_options(problem: _Problem) -> dict:
    """``least_squares`` options: finite differences grouped by the sparse Jacobian pattern, LSMR steps with
    tight tolerances (loose ones stall the robust solve)."""
    return dict(jac_sparsity=problem.sparsity(), x_scale="jac", method="trf", tr_solver="lsmr",
                tr_options={"atol": 1e-12, "btol": 1e-12}, xtol=1e-8, ftol=1e-8, gtol=1e-8)


def _errors(problem: _Problem, x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(problem.project(x) - problem.obs_xy, axis=1)


# ------------------------------------------------------------------------------------------------
def calibrate_extrinsics(detections: Mapping[str, Sequence[Detection] | DetectionSet],
                         cameras: Mapping[str, Camera] | CameraRig, board: Board, *,
                         refine_intrinsics: bool = False, fix_aspect: bool = False, loss: str = "huber",
                         loss_scale_px: float = 1.0, outlier_px: float = 3.0, max_evaluations: int = 200,
                         progress: Callable[[str, float], None] | None = None) -> ExtrinsicsResult:
    """Calibrate the poses of N cameras from simultaneous views of ``board``.

    Args:
        detections: camera name -> its detections; detections with the same ``frame`` index in different
            cameras are simultaneous. The first camera becomes the world frame.
        cameras: intrinsics per camera name (``R``, ``t`` ignored), or a rig holding them.
        board: the board detected.
        refine_intrinsics: also optimise ``fx, fy, cx, cy`` and distortion of every camera.
        fix_aspect: with ``refine_intrinsics``, keep each camera's ``fy / fx``.
        loss, loss_scale_px: robust loss of ``scipy.optimize.least_squares`` and its scale in pixels.
        outlier_px: after the first solve, observations worse than ``max(outlier_px, 5 x median)`` px are
            dropped and the problem solved again.
        progress: called with (stage, fraction 0..1).

    Raises:
        NotEnoughViewsError: fewer than two cameras, or no frame seen by two cameras.
        DisconnectedCamerasError: a camera never saw the board together with the others (named).
    """
    t0 = time.perf_counter()
    report = progress or (lambda stage, frac: None)
    names, cam_by_name, dets = _check_cameras(detections, cameras)
    if refine_intrinsics:
        log.info("refining intrinsics: without views near the image edges the principal point trades against "
                 "camera rotation; compare the camera positions with and without --refine-intrinsics")
    obj = board.object_points()
    perms, syms = _symmetry_transforms(board)
    warnings: list[str] = []

    # 1. PnP per view.
    report("board poses", 0.0)
    poses: dict[str, dict[int, tuple[Detection, np.ndarray]]] = {n: {} for n in names}
    for n in names:
        for det in dets[n]:
            res = _pnp(cam_by_name[n], det, obj)
            if res is None or res[1] > PNP_MAX_ERROR_PX:
                log.info("camera %s frame %d: board pose rejected (%s)", n, det.frame,
                         "PnP failed" if res is None else f"{res[1]:.1f} px")
                continue
            if det.frame in poses[n]:
                raise ValueError(f"camera {n}: two detections with frame index {det.frame}; frame indices must "
                                 "be unique per camera (same index = same moment across cameras)")
            poses[n][det.frame] = (det, res[0])

    # 2. Pairwise relative poses.
    report("pairwise poses", 0.15)
    shared, rel, support = {}, {}, {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = sorted(set(poses[a]) & set(poses[b]))
            shared[(a, b)] = len(common)
            if not common:
                continue
            T_ab, sup, _ = _relative_pose([poses[a][f][1] for f in common], [poses[b][f][1] for f in common], syms)
            rel[(a, b)], support[(a, b)] = T_ab, sup
    links = {p for p, s in support.items() if s >= 1}
    comps = _components(names, links)
    if len(comps) > 1:
        main = comps[0]
        others = [n for comp in comps[1:] for n in comp]
        detail = "; ".join(f"{n}: board in {len(poses[n])} frame(s), shared with "
                           + (", ".join(f"{m} ({shared.get((n, m), shared.get((m, n), 0))})"
                                        for m in names if m != n) or "none") for n in others)
        raise DisconnectedCamerasError(
            f"camera(s) {others} never saw the board at the same time as camera(s) {main}, so they cannot be "
            f"placed in one world. Record frames where the board is visible to both groups at once "
            f"(same frame index). Shared frames per camera -> {detail}"
        )
    for (a, b), s in support.items():
        if s < MIN_SHARED_FRAMES and all(support.get(e, 0) < MIN_SHARED_FRAMES for e in support if a in e or b in e):
            warnings.append(f"cameras {a} and {b} share only {s} agreeing frame(s); aim for 10+")

    # 3. Spanning tree -> initial camera poses (world = first camera).
    report("spanning tree", 0.25)
    tree = _spanning_tree(names, support)
    cam_T = {names[0]: np.eye(4)}
    for a, b in tree:
        T_ab = rel[(a, b)] if (a, b) in rel else _inv(rel[(b, a)])
        cam_T[b] = _inv(T_ab) @ cam_T[a]

    # 4. Per-frame flips and board poses.
    frames = sorted({f for n in names for f in poses[n]})
    frames = [f for f in frames if sum(f in poses[n] for n in names) >= 2]
    if not frames:
        raise NotEnoughViewsError("no frame shows the board to two cameras at once; extrinsics need "
                                  "simultaneous views (same frame index across cameras)")
    depth = {names[0]: 0}
    for a, b in tree:
        depth[b] = depth[a] + 1
    flips, frame_T, frame_cams, kept = [], [], {}, {n: {} for n in names}
    for f in frames:
        seen = [n for n in names if f in poses[n]]
        ref = min(seen, key=lambda n: (depth[n], -poses[n][f][0].num_found, names.index(n)))
        W_ref = _inv(cam_T[ref]) @ poses[ref][f][1]
        members, Ws = [], []
        for n in seen:
            det, T_nb = poses[n][f]
            cands = [_inv(cam_T[n]) @ T_nb @ S for S in syms]
            scale = max(np.linalg.norm(W_ref[:3, 3] - cam_T[n][:3, :3].T @ -cam_T[n][:3, 3]), 1e-6)
            dist = [_angle_deg(W[:3, :3], W_ref[:3, :3]) / 5.0 + np.linalg.norm(W[:3, 3] - W_ref[:3, 3]) / scale / 0.1
                    for W in cands]
            s = int(np.argmin(dist))
            if dist[s] > 4.0:
                log.info("camera %s frame %d: board pose disagrees with camera %s; view left out", n, f, ref)
                continue
            if s != 0:
                flips.append((n, f))
                det = det.with_corners(det.corners[perms[s]])
            members.append(n)
            Ws.append(cands[s])
            kept[n][f] = det
        if len(members) < 2:
            for n in members:
                kept[n].pop(f, None)
            continue
        frame_cams[f] = members
        frame_T.append(_T(_mean_rotation(np.array([W[:3, :3] for W in Ws])), np.mean([W[:3, 3] for W in Ws], 0)))
    frames = sorted(frame_cams)
    if flips:
        log.info("relabelled %d view(s) whose corner order was flipped (chessboard symmetry)", len(flips))

    # 5. Bundle adjustment.
    report("bundle adjustment", 0.35)
    cams0 = [cam_by_name[n].with_(R=cam_T[n][:3, :3], t=cam_T[n][:3, 3]) for n in names]
    obs_cam, obs_frame, obs_corner, obs_xy = [], [], [], []
    for fi, f in enumerate(frames):
        for n in frame_cams[f]:
            det = kept[n][f]
            ids = det.ids
            obs_cam.append(np.full(len(ids), names.index(n)))
            obs_frame.append(np.full(len(ids), fi))
            obs_corner.append(ids)
            obs_xy.append(det.corners[ids])
    obs = [np.concatenate(a) for a in (obs_cam, obs_frame, obs_corner, obs_xy)]

    def build(mask):
        return _Problem(cams0, obj, obs[0][mask], obs[1][mask], obs[2][mask], obs[3][mask], len(frames),
                        refine_intrinsics, fix_aspect)

    keep = np.ones(len(obs[0]), bool)
    problem = build(keep)
    x0 = problem.pack(np.array([cam_T[n] for n in names]), np.array(frame_T))
    initial_rms = float(np.sqrt(np.mean(_errors(problem, x0) ** 2)))
    evaluations = 0
    x = x0
    removed = 0
    def solve(problem: _Problem, x: np.ndarray, loss_name: str):
        return least_squares(problem.residuals, x, loss=loss_name, f_scale=loss_scale_px,
                             max_nfev=max_evaluations, **_solver_options(problem))

    # Plain least squares first (converges in a few Gauss-Newton-like steps from the tree initialisation),
    # then the robust loss from there.
    sol = solve(problem, x, "linear")
    evaluations += int(sol.nfev)
    x = sol.x
    for attempt in range(2):
        sol = solve(problem, x, loss)
        evaluations += int(sol.nfev)
        x = sol.x
        report("bundle adjustment", 0.35 + 0.3 * (attempt + 1))
        if attempt == 1:
            break
        err = _errors(problem, x)
        limit = max(outlier_px, 5 * float(np.median(err)))
        bad = err > limit
        if not bad.any():
            break
        removed = int(bad.sum())
        log.info("dropping %d corner observations above %.2f px and solving again", removed, limit)
        keep_idx = np.flatnonzero(keep)
        keep[keep_idx[bad]] = False
        problem = build(keep)
    err = _errors(problem, x)
    final_cams = problem.cameras_from(x)
    F_T = problem.frame_transforms(x)

    per_camera = {}
    for i, n in enumerate(names):
        e = err[problem.obs_cam == i]
        per_camera[n] = {
            "mean_px": float(e.mean()) if e.size else float("nan"),
            "median_px": float(np.median(e)) if e.size else float("nan"),
            "rms_px": float(np.sqrt(np.mean(e ** 2))) if e.size else float("nan"),
            "p95_px": float(np.percentile(e, 95)) if e.size else float("nan"),
            "observations": int(e.size),
            "frames": int(sum(n in frame_cams[f] for f in frames)),
        }
    rig = CameraRig(final_cams, units="m", up="-y", metadata={})
    report("metric check", 0.95)
    metric = metric_check(rig, {f: {n: kept[n][f] for n in frame_cams[f]} for f in frames}, board)
    result = ExtrinsicsResult(
        rig=rig, per_camera=per_camera, rms_px=float(np.sqrt(np.mean(err ** 2))), median_px=float(np.median(err)),
        initial_rms_px=initial_rms, board_poses={f: F_T[i] for i, f in enumerate(frames)},
        board_cameras={f: list(frame_cams[f]) for f in frames}, flips=flips, shared_frames=shared, tree=tree,
        outliers_removed=removed, metric=metric, evaluations=evaluations, seconds=time.perf_counter() - t0,
        refined_intrinsics=refine_intrinsics, warnings=warnings)
    result.rig.metadata.update(extrinsics_metadata(result, board))
    for w in warnings:
        log.warning("%s", w)
    report("done", 1.0)
    return result


def metric_check(rig: CameraRig, frames: Mapping[int, Mapping[str, Detection]], board: Board) -> MetricCheck | None:
    """Triangulate the board corners of each frame and compare neighbour distances with the square size."""
    dists = []
    N = board.num_corners
    for views in frames.values():
        pts = np.full((len(rig), N, 2), np.nan)
        for n, det in views.items():
            pts[rig.names.index(n)] = det.corners
        X = triangulate(rig, pts).points_3d.reshape(board.rows, board.cols, 3)
        dx = np.linalg.norm(np.diff(X, axis=1), axis=-1).ravel()
        dy = np.linalg.norm(np.diff(X, axis=0), axis=-1).ravel()
        d = np.concatenate([dx, dy])
        dists.append(d[np.isfinite(d)])
    d = np.concatenate(dists) if dists else np.zeros(0)
    if d.size == 0:
        return None
    e = (d - board.square) * 1000
    return MetricCheck(board.square, float(d.mean()), float(np.abs(e).mean()), float(np.sqrt(np.mean(e ** 2))),
                       float(np.abs(e).max()), float(d.mean() / board.square - 1), int(d.size))


def extrinsics_metadata(result: ExtrinsicsResult, board: Board) -> dict:
    """The ``[metadata]`` entries that describe an extrinsic calibration (TOML-safe values)."""
    meta = {
        "error": round(result.median_px, 4),
        "reprojection_error_px": {n: round(v["mean_px"], 4) for n, v in result.per_camera.items()},
        "rms_px": round(result.rms_px, 4),
        "board": board.to_dict(),
        "frames_used": len(result.board_poses),
        "bundle_adjusted": True,
        "intrinsics_refined": result.refined_intrinsics,
        "calibrated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "software": "ppt-mocap calibration",
        "world": {"origin": f"camera {result.rig.names[0]}", "note": "world = first camera until a floor is set"},
    }
    if result.metric is not None:
        meta["metric_check"] = {"square_mm": round(result.metric.square_m * 1000, 4),
                                "mean_abs_error_mm": round(result.metric.mean_abs_error_mm, 4),
                                "relative_error": round(result.metric.relative_error, 6)}
    return meta
