"""``ppt-mocap bench calibration``: our bundle adjustment against aniposelib's on the same detections.

Two scenes: OpenCV's 13 real stereo pairs (``../shared/data/calibration/opencv_stereo_chessboard``, when
present) and a rendered 4-camera rig (30 board poses, real detection, 0.5 px corner noise). Both solvers get
the same corners and the same intrinsics (ours, from the same views); both start from their own pairwise
initialisation. The comparison metric is the same for both: triangulate every corner seen by 2+ cameras with
the solved rig (``core.geometry.triangulate``) and measure the reprojection error (px). On the synthetic
scene the pose error against the truth is given too. aniposelib is optional (``pip install --no-deps
aniposelib==0.8.0 numba toml pandas jax``); without it the bench says so and reports ours alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import time
from pathlib import Path

import numpy as np

from calibration.boards import Checkerboard
from calibration.detection import detect_in_sources
from calibration.extrinsics import calibrate_extrinsics
from calibration.intrinsics import calibrate_intrinsics
from calibration.synthetic import detect_scene, render_scene
from core.geometry.camera import Camera, CameraRig
from core.geometry.triangulation import triangulate

NAME = "calibration"
HELP = "bundle adjustment: ours vs aniposelib 0.8.0 on the same detections (error and time)"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "calibration"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--noise", type=float, default=0.5, help="corner noise of the synthetic scene, px")
    parser.add_argument("--poses", type=int, default=30, help="board poses of the synthetic scene")
    parser.add_argument("--no-real", action="store_true", help="skip the OpenCV stereo scene")
    parser.add_argument("--no-refined", action="store_true", help="skip our run with intrinsics refined (slow)")


def _points_2d(names: list[str], dets: dict, board) -> np.ndarray:
    """(C, F*N, 2) corners per camera for every frame index seen by 2+ cameras (NaN elsewhere)."""
    frames = sorted({d.frame for n in names for d in dets[n]})
    by = {n: {d.frame: d for d in dets[n]} for n in names}
    frames = [f for f in frames if sum(f in by[n] for n in names) >= 2]
    pts = np.full((len(names), len(frames), board.num_corners, 2), np.nan)
    for c, n in enumerate(names):
        for i, f in enumerate(frames):
            if f in by[n]:
                pts[c, i] = by[n][f].corners
    return pts.reshape(len(names), -1, 2)


def triangulated_error(rig: CameraRig, pts: np.ndarray) -> dict:
    """Mean / median reprojection error (px) of corners triangulated with ``rig``."""
    res = triangulate(rig, pts)
    proj = rig.project(np.nan_to_num(res.points_3d))
    err = np.linalg.norm(proj - pts, axis=-1)
    err = err[np.isfinite(pts).all(-1) & np.isfinite(res.points_3d).all(-1)[None]]
    return {"mean_px": float(err.mean()), "median_px": float(np.median(err))}


def _aniposelib_solve(names, intr: dict[str, Camera], dets: dict, board, seed: int):
    import aniposelib.boards as ab
    import aniposelib.cameras as ac

    np.random.seed(seed)  # aniposelib resamples points at random
    cams = [ac.Camera(matrix=intr[n].K.copy(), dist=intr[n].dist[:5].copy(), size=list(intr[n].size), name=n)
            for n in names]
    group = ac.CameraGroup(cams)
    ab_board = ab.Checkerboard(board.cols, board.rows, square_length=board.square)
    rows = []
    for n in names:
        rows.append([{"framenum": d.frame, "corners": d.corners.reshape(-1, 1, 2).astype(np.float32),
                      "ids": np.arange(board.num_corners), "fname": d.source} for d in dets[n]])
    rows = [ab_board.fill_points_rows(r) for r in rows]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its camera dicts unconditionally
        group.calibrate_rows(rows, ab_board, init_intrinsics=False, init_extrinsics=True, verbose=False)
    seconds = time.perf_counter() - t0
    out = []
    for n, c in zip(names, group.cameras):
        out.append(Camera.from_rodrigues(n, intr[n].size, c.get_camera_matrix(), c.get_distortions(),
                                         c.get_rotation(), c.get_translation()))
    return CameraRig(out), seconds


def _pose_errors(rig: CameraRig, truth: CameraRig) -> dict:
    """Max over cameras of the relative pose error to the first camera: degrees and mm."""
    ang, trans = [], []
    for i in range(1, len(rig)):
        Rg = truth[i].R @ truth[0].R.T
        tg = truth[i].t - Rg @ truth[0].t
        Re = rig[i].R @ rig[0].R.T
        te = rig[i].t - Re @ rig[0].t
        ang.append(np.degrees(np.arccos(np.clip((np.trace(Re @ Rg.T) - 1) / 2, -1, 1))))
        # Compare baselines in the truth's scale (the board fixes the scale for both).
        trans.append(np.linalg.norm(te - tg) * 1000)
    return {"max_rotation_error_deg": float(max(ang)), "max_translation_error_mm": float(max(trans))}


def _compare(names, intr, dets, board, truth: CameraRig | None, refined_run: bool = True) -> dict:
    pts = _points_2d(names, dets, board)
    out: dict = {"cameras": len(names), "views": int(sum(len(dets[n]) for n in names))}
    t0 = time.perf_counter()
    ours = calibrate_extrinsics(dets, intr, board)
    t_ours = time.perf_counter() - t0
    again = calibrate_extrinsics(dets, intr, board)
    same = all(np.array_equal(a.R, b.R) and np.array_equal(a.t, b.t) for a, b in zip(ours.rig, again.rig))
    out["ours"] = {"seconds": t_ours, **triangulated_error(ours.rig, pts), "board_model_rms_px": ours.rms_px,
                   "repeat_identical": same}
    if truth is not None:
        out["ours"].update(_pose_errors(ours.rig, truth))
    # aniposelib also refines focal length and k1: the like-for-like run refines our intrinsics too.
    if refined_run:
        t0 = time.perf_counter()
        refined = calibrate_extrinsics(dets, intr, board, refine_intrinsics=True)
        out["ours_refined_intrinsics"] = {"seconds": time.perf_counter() - t0,
                                          **triangulated_error(refined.rig, pts), "board_model_rms_px": refined.rms_px}
        if truth is not None:
            out["ours_refined_intrinsics"].update(_pose_errors(refined.rig, truth))
    try:
        import aniposelib  # noqa: F401
    except ImportError:
        out["aniposelib"] = "NOT INSTALLED, comparison skipped: pip install --no-deps aniposelib==0.8.0 && pip install numba toml pandas jax"
        return out
    runs = []
    for seed in (0, 1):
        rig, seconds = _aniposelib_solve(names, intr, dets, board, seed)
        runs.append((rig, seconds))
    rig, seconds = runs[0]
    out["aniposelib"] = {"seconds": seconds, **triangulated_error(rig, pts)}
    if truth is not None:
        out["aniposelib"].update(_pose_errors(rig, truth))
    other = runs[1][0]
    out["aniposelib"]["seed_to_seed_rotation_deg"] = _pose_errors(other, rig)["max_rotation_error_deg"]
    out["aniposelib"]["seed_to_seed_translation_mm"] = _pose_errors(other, rig)["max_translation_error_mm"]
    out["error_ratio_aniposelib_over_ours"] = out["aniposelib"]["mean_px"] / out["ours"]["mean_px"]
    if refined_run:
        out["error_ratio_aniposelib_over_ours_refined"] = (out["aniposelib"]["mean_px"]
                                                           / out["ours_refined_intrinsics"]["mean_px"])
    out["time_ratio_aniposelib_over_ours"] = seconds / t_ours
    return out


def run(args: argparse.Namespace) -> dict:
    logging.getLogger("calibration").setLevel(logging.WARNING)
    figures: dict = {}
    if not getattr(args, "no_real", False) and (SHARED / "opencv_stereo_chessboard").exists():
        board = Checkerboard(9, 6, 0.025)
        d = SHARED / "opencv_stereo_chessboard"
        sets = {n: detect_in_sources([str(d / f"{n}*.jpg")], board, camera=n) for n in ("left", "right")}
        intr = {n: calibrate_intrinsics(s, board).camera for n, s in sets.items()}
        figures["opencv_stereo"] = _compare(["left", "right"], intr, {n: s.detections for n, s in sets.items()},
                                            board, None, not args.no_refined)
    else:
        figures["opencv_stereo"] = f"skipped ({SHARED / 'opencv_stereo_chessboard'} not found)"
    board = Checkerboard(9, 6, 0.08)
    scene = render_scene(board, n_poses=args.poses, seed=0)
    dets = detect_scene(scene, noise_px=args.noise, seed=1)
    intr = {c.name: c.with_(R=np.eye(3), t=np.zeros(3)) for c in scene.rig}
    figures[f"synthetic_4cam_noise_{args.noise:g}px"] = _compare(scene.rig.names, intr, dets, board, scene.rig,
                                                                  not args.no_refined)
    return figures
