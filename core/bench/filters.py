"""``ppt-mocap bench filters``: lag and jitter of the temporal filters on real motion; how the defaults were chosen.

Motion: the real Pose2Sim session (4 cameras x 100 frames at 60 fps, one person balancing,
``../shared/data/sessions/pose2sim_balancing``), triangulated without any filter as the pipeline does
(confidence-weighted DLT, worst-view rejection at 20 px, confidence > 0.3) from

* ``openpose``: the session's OpenPose BODY_25B 2D (always), and
* ``mediapipe``: MediaPipe BlazePose run on the videos in video mode, as the live backend runs it
  (``--mediapipe``; needs the ``mediapipe`` extra and ``ppt-mocap setup mediapipe``). With ``--mediapipe`` the bench
  also runs the offline path (image mode, every frame on its own, then the zero-phase Butterworth) and reports the
  lag of that per-frame 2D behind the session's OpenPose 2D per camera: an offset in the data (both detectors work on
  single frames), which is why MediaPipe's best shift against the OpenPose-based reference is not 0 even unfiltered.

Each filter runs over that unfiltered 3D of the joints the reference has (21 body markers for OpenPose, 13 for
MediaPipe; no eyes or ears) at the session's rate, in the rig's units (metres). Figures per filter:

* ``lag_frames``: delay behind the unfiltered 3D by cross-correlation, median over joint coordinates
  (:func:`core.geometry.filters.lag_frames`, sub-frame); ``lag_ms`` the same in milliseconds;
* ``jitter_ratio``: median absolute second difference (:func:`core.geometry.filters.jitter`) of the filtered over the
  unfiltered 3D (1 = no smoothing);
* ``median_mm`` / ``best_shift``: median distance to the session's reference TRC (Pose2Sim's triangulation of the
  OpenPose 2D) on the shared joints, and the integer shift of the output (frames, -15..15) that minimises it.

Filters: none; the old default (One-Euro 1 Hz / beta 0.05 applied to metres, i.e. 0.05 s/m); a grid of One-Euro
``min_cutoff`` x ``beta`` (s/m) with ``d_cutoff`` 1 Hz; the current live default; zero-phase Butterworth (order 4,
6 Hz). The rule for the live default: the grid entry with the lowest mean jitter ratio whose lag is at most 0.9 frame
(the target of one frame at 60 fps, with a 10 % margin for the uncertainty of a lag measured on 100 frames) on every
motion measured; the bench reports it as ``chosen`` and whether it is the default. The defaults were chosen with
``--mediapipe`` (both motions); on the OpenPose motion alone the rule picks 0.5 Hz / 8 s/m, a near tie.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

NAME = "filters"
HELP = "lag and jitter of the One-Euro and Butterworth filters on real motion (Pose2Sim session); the default choice"
_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = _ROOT.parent / "shared" / "data" / "sessions" / "pose2sim_balancing"
MIN_CUTOFFS = (0.5, 1.0, 1.5, 2.0, 3.0)
BETAS = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0)
MAX_LAG_FRAMES = 1.0  # the target: live lag at most one frame at 60 fps ...
LAG_MARGIN = 0.9  # ... chosen with a 10 % margin: a lag measured on 100 frames of one motion is uncertain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Pose2Sim session folder (read only)")
    parser.add_argument("--mediapipe", action="store_true",
                        help="also measure on MediaPipe BlazePose 3D (runs the model over the 4 videos)")
    parser.add_argument("--grid", action="store_true", help="print every One-Euro grid entry, not only the best")


def _triangulate(rig, keypoints: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """(T, C, J, 2) px, (T, C, J) -> (T, J, 3) with the pipeline's default triangulation, unfiltered."""
    from core.geometry import triangulate
    from core.processing import PipelineSettings

    s = PipelineSettings(mode="offline", filter=None)
    return np.stack([triangulate(rig, keypoints[t], confidence[t], min_confidence=s.min_confidence,
                                 outliers=s.outliers, threshold_px=s.threshold_px, min_views=s.min_views).points_3d
                     for t in range(len(keypoints))])


def openpose_motion(data: Path, rig) -> tuple[np.ndarray, list[str]]:
    """Unfiltered 3D (T, 25, 3) of the session's OpenPose 2D, and its joint names."""
    from core.estimators.files import match_camera_folders
    from core.geometry import get_skeleton
    from core.session.openpose_json import read_openpose_folder

    folders = match_camera_folders(rig.names, data / "openpose_2d")
    per_cam = [read_openpose_folder(folders[n], num_joints=25) for n in rig.names]
    T = min(len(a) for a in per_cam)
    op = np.stack([a[:T] for a in per_cam], axis=1)  # (T, C, 25, 3)
    return _triangulate(rig, op[..., :2], op[..., 2]), list(get_skeleton("body25b").joints)


def mediapipe_2d(data: Path, rig, running_mode: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """MediaPipe BlazePose on the session's videos: keypoints (T, C, 17, 2) px, confidence (T, C, 17), joints."""
    import cv2

    from core.estimators.mediapipe_pose import MediaPipeEstimator
    from core.records import Frame, FrameSet

    est = MediaPipeEstimator(running_mode=running_mode)
    caps = {n: cv2.VideoCapture(str(data / "videos" / f"{n.replace('_', '')}.mp4")) for n in rig.names}
    kps, confs = [], []
    try:
        k = 0
        while True:
            frames = {}
            for n, cap in caps.items():
                ok, img = cap.read()
                if ok:
                    frames[n] = Frame(n, k, int(round(k * 1e9 / 60)), 0.0, img)
            if len(frames) < len(caps):
                break
            poses = est.estimate(FrameSet.from_frames(k, frames, rig.names), rig)
            kps.append(poses.keypoints)
            confs.append(poses.confidence)
            k += 1
    finally:
        for cap in caps.values():
            cap.release()
        est.close()
    if not kps:
        raise ValueError(f"no frame could be read from the videos in {data / 'videos'}")
    return np.stack(kps), np.stack(confs), list(est.skeleton.joints)


def offsets_2d(data: Path, rig, keypoints: np.ndarray) -> dict[str, float]:
    """Per camera: lag (frames) of MediaPipe's per-frame 2D behind the session's OpenPose 2D (COCO joints both
    have). Both detectors work on single frames, so a non-zero lag is an offset in the data, not a filter's."""
    from core.estimators.files import match_camera_folders
    from core.geometry.filters import lag_frames
    from core.session.openpose_json import read_openpose_folder

    folders = match_camera_folders(rig.names, data / "openpose_2d")
    out = {}
    for c, n in enumerate(rig.names):
        op = read_openpose_folder(folders[n], num_joints=25)  # BODY_25B starts with the 17 COCO keypoints
        T = min(len(op), len(keypoints))
        ref = np.where(op[:T, :17, 2:] > 0.3, op[:T, :17, :2], np.nan)
        out[n] = lag_frames(keypoints[:T, c], ref, max_lag=10)
    return out


def _reference_joints(points: np.ndarray, joints: list[str], ref_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Only the joints the reference TRC has (its markers: body joints, no eyes or ears)."""
    from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS

    keep = [j for j in joints if j in {POSE2SIM_BODY25B_MARKERS[n] for n in ref_names}]
    return points[:, [joints.index(j) for j in keep]], keep


def reference_errors(points: np.ndarray, joints: list[str], ref: np.ndarray, ref_names: list[str],
                     max_shift: int = 15) -> dict:
    """Median distance (mm, metres in) to the reference TRC at shift 0 and the shift (frames) that minimises it."""
    from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS

    shared = [n for n in ref_names if POSE2SIM_BODY25B_MARKERS[n] in joints]
    a = points[:, [joints.index(POSE2SIM_BODY25B_MARKERS[n]) for n in shared]]
    r = ref[:, [ref_names.index(n) for n in shared]]
    T = min(len(a), len(r))
    a, r = a[:T], r[:T]
    med = {}
    for s in range(-max_shift, max_shift + 1):
        d = (np.linalg.norm(a[s:] - r[:T - s], axis=-1) if s >= 0 else np.linalg.norm(a[:s] - r[-s:], axis=-1))
        d = d[np.isfinite(d)]
        med[s] = float(np.median(d)) * 1000 if d.size else float("inf")
    best = min(med, key=med.get)
    return {"median_mm": med[0], "best_shift": int(best), "best_shift_mm": med[best], "joints": len(shared)}


def evaluate(raw: np.ndarray, filtered: np.ndarray, fps: float) -> dict:
    from core.geometry.filters import jitter, lag_frames

    lag = lag_frames(filtered, raw)
    return {"lag_frames": lag, "lag_ms": lag * 1000 / fps, "jitter_ratio": jitter(filtered) / jitter(raw)}


def run(args: argparse.Namespace) -> dict:
    from core.geometry import CameraRig
    from core.geometry.filters import (BUTTERWORTH_CUTOFF_HZ, BUTTERWORTH_ORDER, ONE_EURO_BETA_S_PER_M,
                                       ONE_EURO_D_CUTOFF_HZ, ONE_EURO_MIN_CUTOFF_HZ, OneEuroFilter, butterworth_filter)
    from core.session.trc import read_trc

    data = Path(args.data)
    if not (data / "calibration.toml").is_file():
        raise FileNotFoundError(f"{data}: not the Pose2Sim session (no calibration.toml); pass --data")
    rig = CameraRig.load(data / "calibration.toml")
    ref, ref_names, fps, _ = read_trc(next((data / "reference_3d").glob("*.trc")))
    fps = float(fps)
    motions = {"openpose": openpose_motion(data, rig)}
    offline = {}
    offsets = None
    if args.mediapipe:
        kp, conf, joints = mediapipe_2d(data, rig, "video")
        motions["mediapipe"] = (_triangulate(rig, kp, conf), joints)
        kp, conf, joints = mediapipe_2d(data, rig, "image")
        offline["mediapipe (image mode, offline)"] = _reference_joints(_triangulate(rig, kp, conf), joints, ref_names)
        offsets = offsets_2d(data, rig, kp)
    motions = {k: _reference_joints(*v, ref_names) for k, v in motions.items()}

    def one_euro(mc: float, beta: float) -> OneEuroFilter:
        return OneEuroFilter(mc, beta, ONE_EURO_D_CUTOFF_HZ, units=rig.units)

    out: dict = {"fps": fps, "frames": int(len(ref)), "units": rig.units,
                 "defaults": {"one_euro": {"min_cutoff_hz": ONE_EURO_MIN_CUTOFF_HZ, "beta_s_per_m":
                                           ONE_EURO_BETA_S_PER_M, "d_cutoff_hz": ONE_EURO_D_CUTOFF_HZ},
                              "butterworth": {"order": BUTTERWORTH_ORDER, "cutoff_hz": BUTTERWORTH_CUTOFF_HZ}}}
    grid: dict = {}
    for name, (raw, joints) in motions.items():
        rows = {"none": evaluate(raw, raw, fps) | reference_errors(raw, joints, ref, ref_names)}
        named = {"one-euro old (1 Hz, 0.05 s/m)": OneEuroFilter(1.0, 0.05, 1.0, units=rig.units),
                 f"one-euro default ({ONE_EURO_MIN_CUTOFF_HZ:g} Hz, {ONE_EURO_BETA_S_PER_M:g} s/m)":
                 one_euro(ONE_EURO_MIN_CUTOFF_HZ, ONE_EURO_BETA_S_PER_M)}
        for label, flt in named.items():
            f = flt.filter_sequence(raw, fps)
            rows[label] = evaluate(raw, f, fps) | reference_errors(f, joints, ref, ref_names)
        bw = butterworth_filter(raw, fps, BUTTERWORTH_CUTOFF_HZ, BUTTERWORTH_ORDER)
        rows[f"butterworth (order {BUTTERWORTH_ORDER}, {BUTTERWORTH_CUTOFF_HZ:g} Hz, zero-phase)"] = \
            evaluate(raw, bw, fps) | reference_errors(bw, joints, ref, ref_names)
        for mc in MIN_CUTOFFS:
            for beta in BETAS:
                f = one_euro(mc, beta).filter_sequence(raw, fps)
                grid.setdefault((mc, beta), {})[name] = evaluate(raw, f, fps)
        out[name] = rows
    limit = LAG_MARGIN * MAX_LAG_FRAMES * fps / 60  # frames at this rate
    for name, (raw, joints) in offline.items():  # the offline path: per-frame 2D, zero-phase filter
        bw = butterworth_filter(raw, fps, BUTTERWORTH_CUTOFF_HZ, BUTTERWORTH_ORDER)
        out[name] = {"none": evaluate(raw, raw, fps) | reference_errors(raw, joints, ref, ref_names),
                     "butterworth (default offline)": evaluate(raw, bw, fps) | reference_errors(bw, joints, ref,
                                                                                                ref_names)}
    if offsets is not None:
        out["mediapipe image-mode 2D lag behind the OpenPose 2D (frames)"] = offsets
    ok = {k: v for k, v in grid.items() if all(m["lag_frames"] <= limit for m in v.values())}
    if ok:
        best = min(ok, key=lambda k: np.mean([m["jitter_ratio"] for m in ok[k].values()]))
        out["chosen"] = {"min_cutoff_hz": best[0], "beta_s_per_m": best[1],
                         "rule": f"lowest mean jitter ratio with lag <= {LAG_MARGIN * MAX_LAG_FRAMES:g} frame "
                         f"(1 frame at 60 fps with a 10 % margin) on {', '.join(motions)}",
                         **{m: {"lag_frames": v["lag_frames"], "jitter_ratio": v["jitter_ratio"]}
                            for m, v in ok[best].items()},
                         "matches_default": bool(best == (ONE_EURO_MIN_CUTOFF_HZ, ONE_EURO_BETA_S_PER_M))}
    if args.grid:
        out["grid"] = {f"min_cutoff {mc:g} Hz, beta {beta:g} s/m": {m: f"lag {v['lag_frames']:.2f} fr, jitter "
                                                                       f"{v['jitter_ratio']:.2f}"
                                                                    for m, v in res.items()}
                       for (mc, beta), res in grid.items()}
    return out
