"""``ppt-mocap bench triangulation``: vectorised DLT against a per-point SVD loop, measured in one run."""

from __future__ import annotations

import argparse
import time

import numpy as np

from core.geometry.camera import Camera, CameraRig
from core.geometry.triangulation import triangulate

NAME = "triangulation"
HELP = "vectorised confidence-weighted DLT vs one SVD per point (aniposelib-style), and the robust variants"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=10_000, help="frames of 17 joints (default 10000)")
    parser.add_argument("--cameras", type=int, default=4, help="cameras in the ring rig (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each fast method")
    parser.add_argument("--seed", type=int, default=0)


def ring_rig(num_cameras: int = 4, radius: float = 4.0, height: float = 2.0) -> CameraRig:
    """Cameras on a circle around the origin, looking at (0, 0, 1) m; 1280x720, f = 1000 px, Z up."""
    K = np.array([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]])
    cams = []
    for i in range(num_cameras):
        a = 2 * np.pi * i / num_cameras
        pos = [radius * np.cos(a), radius * np.sin(a), height]
        cams.append(Camera.look_at(f"cam{i + 1:02d}", (1280, 720), K, pos, [0, 0, 1.0],
                                   dist=np.array([-0.05, 0.01, 0, 0, 0])))
    return CameraRig(cams, units="m", up="z")


def dlt_per_point_reference(rig: CameraRig, points_2d: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
    """Plain reference: for each point, undistort, build the weighted DLT matrix and take one SVD.

    points_2d (C, N, 2) pixels, confidence (C, N) -> (N, 3). This is the per-point loop of aniposelib's
    ``triangulate_simple``; it exists to check and time the vectorised :func:`triangulate` against.
    """
    C, N, _ = points_2d.shape
    conf = np.ones((C, N)) if confidence is None else confidence
    undist = [cam.undistort_normalized(points_2d[c]) for c, cam in enumerate(rig.cameras)]
    P = [cam.extrinsic_matrix for cam in rig.cameras]
    f = [(cam.K[0, 0], cam.K[1, 1]) for cam in rig.cameras]
    out = np.full((N, 3), np.nan)
    for n in range(N):
        rows = []
        for c in range(C):
            x, y = undist[c][n]
            w = conf[c, n]
            if not (np.isfinite(x) and np.isfinite(y)) or w <= 0:
                continue
            rows.append(w * f[c][0] * (x * P[c][2] - P[c][0]))
            rows.append(w * f[c][1] * (y * P[c][2] - P[c][1]))
        if len(rows) < 4:
            continue
        _, _, vh = np.linalg.svd(np.asarray(rows), full_matrices=True)
        X = vh[-1]
        out[n] = X[:3] / X[3]
    return out


def make_problem(rig: CameraRig, frames: int, joints: int = 17, noise_px: float = 1.0, seed: int = 0):
    """Random points in a 2x2x2 m volume, their projections with noise, and confidences."""
    rng = np.random.default_rng(seed)
    X = rng.uniform([-1, -1, 0], [1, 1, 2], size=(frames * joints, 3))
    pts = rig.project(X) + rng.normal(0, noise_px, size=(len(rig), len(X), 2))
    conf = rng.uniform(0.5, 1.0, size=(len(rig), len(X)))
    return X, pts, conf


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(args: argparse.Namespace) -> dict:
    rig = ring_rig(args.cameras)
    X, pts, conf = make_problem(rig, args.frames, seed=args.seed)
    N = len(X)
    t_fast = _median_time(lambda: triangulate(rig, pts, conf, outliers=None), args.repeats)
    t0 = time.perf_counter()
    ref = dlt_per_point_reference(rig, pts, conf)
    t_ref = time.perf_counter() - t0
    fast = triangulate(rig, pts, conf, outliers=None).points_3d
    t_robust = _median_time(lambda: triangulate(rig, pts, conf, outliers="worst-view"), args.repeats)
    t_ransac = _median_time(lambda: triangulate(rig, pts, conf, outliers="ransac"), args.repeats)
    t_refine = _median_time(lambda: triangulate(rig, pts, conf, outliers="worst-view", refine=True), args.repeats)
    return {
        "cameras": len(rig),
        "joints": 17,
        "frames": args.frames,
        "points": N,
        "reference_per_point_svd_s": t_ref,
        "vectorised_dlt_s": t_fast,
        "speedup_vectorised_vs_reference": t_ref / t_fast,
        "max_difference_vs_reference_mm": float(np.nanmax(np.abs(fast - ref)) * 1000),
        "median_error_vs_truth_mm": float(np.nanmedian(np.linalg.norm(fast - X, axis=1)) * 1000),
        "frames_per_s_vectorised": args.frames / t_fast,
        "frames_per_s_robust_worst_view": args.frames / t_robust,
        "frames_per_s_robust_ransac": args.frames / t_ransac,
        "frames_per_s_worst_view_refined": args.frames / t_refine,
    }
