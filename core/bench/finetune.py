"""``ppt-mocap bench finetune``: bootstrapped labels and fine-tuning measured on the real Pose2Sim session.

The session (4 cameras x 100 frames, ``../shared/data/sessions/pose2sim_balancing``) is imported into a session
folder under ``--work``; MediaPipe BlazePose labels it (``ppt-mocap finetune label``); the weights (``--weights``,
default the demo weights) are fine-tuned on frames 0-69 and evaluated on frames 70-99, against the session's
reference: its OpenPose BODY_25B 2D and Pose2Sim's TRC (a detector's output and its triangulation, not ground
truth), on the 13 joints the Human3.6M and COCO sets share. The held-out frames show the same person in the same
room as the training frames: this measures adaptation to a studio, not generalisation to new people.

Figures:

* labels vs teacher: per camera, the median 2D distance to OpenPose of the bootstrapped labels and of the
  teacher's raw 2D on the training frames (the same joints, where both exist and OpenPose's confidence > 0.3);
  also the pure projections (labels without the per-view offsets);
* 3D on frames 70-99 against the TRC, median mm: PPT before and after fine-tuning (the runtime estimator, views
  fused or not as each weights file says (fine-tuned weights: each view alone), crops around the labels' boxes,
  confidence-weighted triangulation with worst-view rejection), the teacher's own 3D (its triangulation as the
  MediaPipe backend gives it: worst-view at 20 px, no filter) and the labels' 3D;
* the whole replay path after fine-tuning (``live_after``: ``ppt-mocap replay --reprocess --backend ppt`` with the
  fine-tuned weights, the localisation stage finding the person without labels, worst-view triangulation at 20 px
  as the teacher's, Butterworth): median mm on the fine-tuned and on the held-out frames;
* cost: import, teacher, labelling and fine-tuning minutes on this machine.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

NAME = "finetune"
HELP = ("bootstrapped labels and fine-tuning on the real Pose2Sim session: labels vs teacher 2D per camera, PPT 3D "
        "before/after vs the teacher, minutes")
_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = _ROOT.parent / "shared" / "data" / "sessions" / "pose2sim_balancing"
REFERENCE_CONFIDENCE = 0.3
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Pose2Sim session folder (read only)")
    parser.add_argument("--work", type=Path, default=_ROOT / "runs" / "finetune_pose2sim",
                        help="working folder: the imported session, its labels and the run (default runs/finetune_"
                        "pose2sim)")
    parser.add_argument("--weights", type=Path, default=None, help="weights to fine-tune (default: the demo weights)")
    parser.add_argument("--preset", default="multiview_ppt_s", help="architecture of an official checkpoint")
    parser.add_argument("--train-frames", type=int, default=70, help="frames 0..N-1 train, the rest are held out")
    parser.add_argument("--epochs", type=int, default=13, help="epochs (13 fit the 11-minute budget on one thread)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--rotation", type=float, default=30.0,
                        help="in-plane rotation of the training crops, degrees (0: scale/shift jitter only)")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="do not mirror training frame sets (left/right labels swapped; default: half of them)")
    parser.add_argument("--fuse", action="store_true",
                        help="the fine-tuned weights run their views fused (default: each view alone)")
    parser.add_argument("--seed", type=int, default=0, help="fine-tuning random seed (augmentation and order)")
    parser.add_argument("--max-minutes", type=float, default=11.0, help="fine-tuning wall-time budget (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--fresh", action="store_true",
                        help="run the teacher, the labels and the fine-tuning again instead of reusing them")
    parser.add_argument("--skip-train", action="store_true", help="labels and the 'before' figures only")


def _reference(data: Path, openpose: np.ndarray):
    """From the project's OpenPose keypoints ``openpose (C, T, 25, 3)``: OpenPose 2D (T, C, 17, 2) in COCO order
    (NaN below the confidence), TRC points (T, 13, 3) m and their COCO joint indices."""
    from core.geometry.skeletons import COCO17, POSE2SIM_BODY25B_MARKERS
    from core.session.trc import read_trc

    op = openpose.transpose(1, 0, 2, 3)  # (T, C, 25, 3)
    ref2d = op[..., :17, :2].copy()  # BODY_25B starts with the 17 COCO keypoints
    ref2d[op[..., :17, 2] <= REFERENCE_CONFIDENCE] = np.nan
    points, names, _, _ = read_trc(next((data / "reference_3d").glob("*.trc")))
    shared = [n for n in names if POSE2SIM_BODY25B_MARKERS[n] in COCO17.joints]
    coco = [COCO17.index(POSE2SIM_BODY25B_MARKERS[n]) for n in shared]
    return ref2d, points[:, [names.index(n) for n in shared]], coco


def _median(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def label_figures(labels, ref2d: np.ndarray, coco: list[int], frames: np.ndarray) -> dict:
    """Per camera: median distance (px) to the reference of the labels, the pure projections and the teacher."""
    from core.finetune.labels import LABEL_JOINTS
    from core.geometry.skeletons import COCO17

    a = labels.arrays
    li = [LABEL_JOINTS.index(COCO17.joints[j]) for j in coco]
    teacher = a["teacher_keypoints"][frames][:, :, coco]  # COCO-17 teacher (MediaPipe)
    ref = ref2d[frames][:, :, coco]
    lab, proj = a["joints_2d"][frames][:, :, li], a["projected"][frames][:, :, li]
    d_lab, d_proj, d_teacher = (np.linalg.norm(x - ref, axis=-1) for x in (lab, proj, teacher))
    both = np.isfinite(d_lab) & np.isfinite(d_teacher)
    out = {}
    for c, cam in enumerate(labels.info["cameras"]):
        m = both[:, c]
        out[cam] = {"labels_px": _median(d_lab[:, c][m]), "projections_px": _median(d_proj[:, c][m]),
                    "teacher_px": _median(d_teacher[:, c][m]), "joints": int(m.sum())}
    out["closer_in_every_camera"] = all(v["labels_px"] < v["teacher_px"] for k, v in out.items()
                                        if isinstance(v, dict))
    return out


def ppt_3d(weights, preset: str, session, labels, frames: np.ndarray, trc: np.ndarray, coco: list[int],
           threads: int) -> dict:
    """PPT through the runtime estimator on ``frames`` (boxes from the labels), triangulated, vs the TRC. Views
    are fused as the weights run by default (not for weights whose fusion was never trained or whose metadata
    says ``fuse`` false, as fine-tuned weights do)."""
    from core.geometry.camera import UNIT_SCALE_TO_M
    from core.geometry.skeletons import COCO17, H36M17
    from core.geometry.triangulation import triangulate
    from core.inference.runner import PoseModelRunner
    from core.inference.weights import NotAWeightsFileError, load_demo_estimator
    from core.model import build_model, load_checkpoint
    from core.train.evaluate import gt_boxes

    try:
        runtime = load_demo_estimator(weights, device="cpu", num_threads=threads)
    except NotAWeightsFileError:  # an official checkpoint
        model = build_model(preset)
        load_checkpoint(model, weights)
        runtime = PoseModelRunner(model.eval(), device="cpu", num_threads=threads)
    rig = session.rig
    multiview = runtime.multiview
    skeleton = H36M17 if multiview else COCO17
    idx = [skeleton.index(COCO17.joints[j]) for j in coco]
    li = list(range(H36M17.num_joints))
    errors, seconds = [], 0.0
    wanted = set(int(f) for f in frames)
    for fs in session.frame_sets(int(min(frames)), int(max(frames)) + 1):
        if fs.index not in wanted:
            continue
        boxes = gt_boxes(labels.arrays["joints_2d"][fs.index][:, li])
        images = [fs.frames[c].image for c in rig.names]
        t0 = time.perf_counter()
        res = runtime.estimate(images, boxes=boxes, cameras=list(rig) if multiview else None)
        seconds += time.perf_counter() - t0
        person = float(labels.arrays["person_px"][fs.index])
        X = triangulate(rig, res.keypoints, np.clip(res.confidence, 1e-6, None), outliers="worst-view",
                        threshold_px=0.05 * person).points_3d
        errors.append(np.linalg.norm(X[idx] - trc[fs.index], axis=-1) * 1000.0 * UNIT_SCALE_TO_M[rig.units])
    errors = np.stack(errors)
    return {"median_mm": _median(errors), "mean_mm": float(np.nanmean(errors)), "frames": len(errors),
            "reconstructed": float(np.isfinite(errors).mean()), "seconds_per_frame_set": seconds / len(errors),
            "weights": str(weights)}


def live_3d(weights, session, trc: np.ndarray, coco: list[int], train_frames: int, threads: int) -> dict:
    """The whole replay path with ``weights`` (``ppt-mocap replay --reprocess --backend ppt``: the localisation
    stage finds and tracks the person, no labels; worst-view triangulation; zero-phase Butterworth) vs the TRC:
    median mm on the fine-tuned frames and on the held-out ones. Written as the result set ``bench_live``."""
    from core.geometry.camera import UNIT_SCALE_TO_M
    from core.geometry.skeletons import COCO17, H36M17
    from core.processing import reprocess_session
    from core.run_spec import RunSpec

    spec = RunSpec(offline=True, backend="ppt", weights=str(weights), torch_threads=threads)
    estimator = spec.build_backend(session.rig, session=session)
    t0 = time.perf_counter()
    res = reprocess_session(session, estimator, spec.pipeline_settings("offline"), name="bench_live",
                            overwrite=True, progress=False)
    seconds = time.perf_counter() - t0
    pts = res.points_by_frame(len(session))[:, [H36M17.index(COCO17.joints[j]) for j in coco]]
    scale = 1000.0 * UNIT_SCALE_TO_M[session.rig.units]  # rig units -> mm
    err = np.linalg.norm(pts - trc, axis=-1) * scale
    return {"train_median_mm": _median(err[:train_frames]), "heldout_median_mm": _median(err[train_frames:]),
            "heldout_mean_mm": float(np.nanmean(err[train_frames:])),
            "reconstructed": float(np.isfinite(err).mean()), "seconds_per_frame_set": seconds / len(session)}


def teacher_3d(session, labels, result: str, frames: np.ndarray, trc: np.ndarray, coco: list[int]) -> dict:
    """The teacher's own 3D (its result set: worst-view triangulation, no filter) and the labels' 3D vs the TRC."""
    from core.finetune.labels import LABEL_JOINTS
    from core.geometry.camera import UNIT_SCALE_TO_M
    from core.geometry.skeletons import COCO17

    pts = session.results(result).points_by_frame(len(session))[frames][:, coco]
    li = [LABEL_JOINTS.index(COCO17.joints[j]) for j in coco]
    lab = labels.arrays["joints_3d"][frames][:, li]
    scale = 1000.0 * UNIT_SCALE_TO_M[session.rig.units]  # rig units -> mm
    d_teacher = np.linalg.norm(pts - trc[frames], axis=-1) * scale
    d_labels = np.linalg.norm(lab - trc[frames], axis=-1) * scale
    return {"teacher_median_mm": _median(d_teacher), "teacher_mean_mm": float(np.nanmean(d_teacher)),
            "labels_median_mm": _median(d_labels), "labels_mean_mm": float(np.nanmean(d_labels))}


def run(args: argparse.Namespace) -> dict:
    import torch

    from core.finetune.labels import holdout_start, make_labels
    from core.finetune.run import FinetuneOptions, finetune
    from core.inference.weights import DEMO_WEIGHTS
    from core.session.importer import import_videos
    from core.session.openpose_json import read_pose2sim_project
    from core.session.replay import Session

    if args.threads:
        torch.set_num_threads(args.threads)
    data, work = Path(args.data), Path(args.work)
    if not (data / "calibration.toml").exists():
        raise FileNotFoundError(f"the Pose2Sim session is not at {data} (pass --data)")
    weights = Path(args.weights) if args.weights else DEMO_WEIGHTS
    figures: dict = {"data": str(data), "weights": str(weights), "minutes": {}}
    session_dir = work / "session"
    rig, openpose, videos = read_pose2sim_project(data)
    if args.fresh or not (session_dir / "session.json").exists():
        t0 = time.monotonic()
        import_videos(dict(zip(rig.names, videos)), rig, session_dir, overwrite=True)
        figures["minutes"]["import"] = (time.monotonic() - t0) / 60
    session = Session(session_dir)
    T = len(session)
    holdout = 1 - args.train_frames / T
    if holdout_start(T, holdout) != args.train_frames:
        raise ValueError(f"cannot hold out frames {args.train_frames}..{T - 1} of {T} by a share")
    if session.cameras != rig.names:
        raise ValueError(f"{session_dir} has the cameras {session.cameras}, the project {data} has {rig.names}; "
                         "run again with --fresh")
    ref2d, trc, coco = _reference(data, openpose)
    if len(trc) != T or len(ref2d) != T:
        raise ValueError(f"reference has {len(trc)} TRC rows and {len(ref2d)} OpenPose frames for {T} frame sets")

    t0 = time.monotonic()
    if args.fresh or "mediapipe" not in session.result_names():
        from core.finetune.labels import run_teacher

        run_teacher(session, "mediapipe", "mediapipe", overwrite=True)
        figures["minutes"]["teacher"] = (time.monotonic() - t0) / 60
    t0 = time.monotonic()
    labels = make_labels(session_dir, "recorded", "mediapipe", name="mediapipe", overwrite=True)
    figures["minutes"]["labels"] = (time.monotonic() - t0) / 60
    figures["label_counts"] = labels.info["counts"]
    train, held = np.arange(args.train_frames), np.arange(args.train_frames, T)
    figures["labels_vs_reference_2d"] = label_figures(labels, ref2d, coco, train)
    figures["teacher_3d_heldout"] = teacher_3d(session, labels, "mediapipe", held, trc, coco)
    figures["ppt_before"] = ppt_3d(weights, args.preset, session, labels, held, trc, coco, args.threads)
    if not args.skip_train:
        t0 = time.monotonic()
        summary = finetune(FinetuneOptions(sessions=[str(session_dir)], init=str(weights), labels="mediapipe",
                                           preset=args.preset, holdout=holdout, epochs=args.epochs, lr=args.lr,
                                           max_minutes=args.max_minutes, device="cpu", threads=args.threads,
                                           rotation=args.rotation, flip=args.flip, fuse=args.fuse,
                                           seed=args.seed,
                                           fresh=args.fresh))
        figures["minutes"]["finetune"] = (time.monotonic() - t0) / 60
        figures["finetune"] = {k: summary[k] for k in ("epochs", "epochs_planned", "before", "after", "minutes",
                                                        "weights")}
        figures["finetune"].update(rotation_deg=args.rotation, flip=args.flip, fuse=args.fuse, seed=args.seed)
        figures["ppt_after"] = ppt_3d(summary["weights"], args.preset, session, labels, held, trc, coco,
                                      args.threads)
        figures["live_after"] = live_3d(summary["weights"], session, trc, coco, args.train_frames, args.threads)
        before, after = figures["ppt_before"]["median_mm"], figures["ppt_after"]["median_mm"]
        teacher = figures["teacher_3d_heldout"]["teacher_median_mm"]
        live = figures["live_after"]["heldout_median_mm"]
        figures["targets"] = {"falls_by_half": bool(after <= 0.5 * before),
                              "within_1.3x_teacher": bool(after <= 1.3 * teacher),
                              "after_over_before": after / before, "after_over_teacher": after / teacher,
                              "live_over_teacher": live / teacher,
                              "live_within_1.3x_teacher": bool(live <= 1.3 * teacher)}
    figures["note"] = ("reference = OpenPose 2D and Pose2Sim's triangulation (a detector, not ground truth); the "
                       "held-out frames 70-99 show the same person and room as the training frames")
    return figures
