"""``ppt-mocap evaluate``: a trained multi-view model on a studio session -> 2D JDR/PCK, 3D MPJPE tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate pose weights on a studio session (JDR, PCK, MPJPE, PA-MPJPE)",
        description="Run a multi-view PPT weights file over a studio session's frames, with crops from the "
        "ground-truth 2D (as the official evaluation) or from the person-localisation stage (--boxes locate), "
        "and compare with the session's ground truth: 2D JDR "
        "(<= 12.8 px, PPT_SPEC 5.4) and PCK per joint, 3D MPJPE and PA-MPJPE (mm) after triangulation with the "
        "session's calibration, each also split by the ground-truth occlusion flags. See core/train/evaluate.py.")
    p.add_argument("--weights", type=Path, default=None,
                   help="weights file (state_dict + model_config); default: the demo weights in assets/weights")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", type=Path, help="studio session folder (with ground_truth.npz)")
    what.add_argument("--real", choices=("h36m", "coco", "pose2sim"),
                      help="real frames of ../shared/data instead: Human3.6M frames, COCO people (single view), "
                      "or the Pose2Sim recording against its OpenPose 2D (single view and fused)")
    p.add_argument("--data", type=Path, default=None,
                   help="folder of the --real data (default ../shared/data/poses/h36m, .../coco, "
                   "../shared/data/sessions/pose2sim_balancing)")
    p.add_argument("--views", choices=("1", "all"), default="all",
                   help="'all': every view in one fused forward; '1': each view alone (single-view PPT)")
    p.add_argument("--boxes", choices=("truth", "locate"), default="truth",
                   help="person crops: 'truth' (from the ground-truth 2D, as the official evaluation) or 'locate' "
                   "(the person-localisation stage run on every frame set in order, as live; the session's first "
                   "person is selected on the first frame set)")
    p.add_argument("--detectors", default="auto", help="person detectors for --boxes locate: auto, mog2, knn, "
                   "mediapipe or a comma-separated list")
    p.add_argument("--keep-ratio", type=float, default=None, help="token keep ratio (default: the model's, 0.7)")
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame set")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frame sets")
    p.add_argument("--threshold", type=float, default=12.8, help="JDR threshold, px in the original images")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.inference.weights import DEMO_WEIGHTS, load_demo_estimator
    from core.train.evaluate import evaluate_session, format_table
    from core.train.progress import session_mean_pose_baseline

    if args.keep_ratio is not None and not 0 < args.keep_ratio <= 1:
        raise ValueError(f"--keep-ratio must be in (0, 1], got {args.keep_ratio}")
    estimator = load_demo_estimator(args.weights or DEMO_WEIGHTS, device="cpu", keep_ratio=args.keep_ratio,
                                    num_threads=args.threads)
    if not estimator.multiview:
        raise ValueError(f"{args.weights}: evaluate needs a multi-view model (fusion layers); this one is "
                         f"single-view ({estimator.config.name})")
    if args.real:
        return _run_real(args, estimator)
    result = evaluate_session(estimator, args.session, args.views, stride=args.stride, max_frames=args.max_frames,
                              threshold_px=args.threshold, boxes=args.boxes, detectors=args.detectors)
    result.weights = str(args.weights or DEMO_WEIGHTS)
    # The figure a model must beat: every crop predicting the session's mean pose (core.train.progress).
    baseline = session_mean_pose_baseline(args.session, stride=args.stride, threshold_px=args.threshold,
                                          max_frames=args.max_frames)
    if args.json:
        print(json.dumps({"weights": result.weights, **result.as_dict(), "mean_pose_baseline": baseline}))
    else:
        print(f"weights {result.weights}")
        print(format_table(result))
        ratio = result.overall["error_2d_px_median"] / baseline["median_px"]
        print(f"mean-pose baseline (every crop predicts the session's mean pose): JDR {100 * baseline['jdr']:.1f} %, "
              f"median {baseline['median_px']:.1f} px; the model's median is {ratio:.2f}x the baseline's")
    return 0


REAL_DEFAULTS = {"h36m": ("poses", "h36m"), "coco": ("poses", "coco"), "pose2sim": ("sessions", "pose2sim_balancing")}


def _run_real(args: argparse.Namespace, estimator) -> int:
    from core.train import real_eval

    folder = args.data or Path(__file__).resolve().parents[2].parent / "shared" / "data" / Path(*REAL_DEFAULTS[args.real])
    if not folder.is_dir():
        raise FileNotFoundError(f"{args.real} data folder not found: {folder} (pass --data)")
    fn = {"h36m": real_eval.eval_h36m_frames, "coco": real_eval.eval_coco_people,
          "pose2sim": real_eval.eval_pose2sim}[args.real]
    figures = fn(estimator, folder)
    if args.json:
        print(json.dumps({"weights": str(args.weights), "data": str(folder), "figures": figures}))
    else:
        print(f"{args.real} ({folder}), weights {args.weights}")
        rows = figures.items() if args.real == "pose2sim" else [("single_view", figures)]
        for mode, f in rows:
            print(f"  {mode:<12}" + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in f.items()))
    return 0
