"""``ppt-mocap evaluate``: a trained multi-view model on a studio session -> 2D JDR/PCK, 3D MPJPE tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="evaluate pose weights on a studio session (JDR, PCK, MPJPE, PA-MPJPE)",
        description="Run a multi-view PPT weights file over a studio session's frames, with crops from the "
        "ground-truth 2D (as the official evaluation), and compare with the session's ground truth: 2D JDR "
        "(<= 12.8 px, PPT_SPEC 5.4) and PCK per joint, 3D MPJPE and PA-MPJPE (mm) after triangulation with the "
        "session's calibration, each also split by the ground-truth occlusion flags. See core/train/evaluate.py.")
    p.add_argument("--weights", type=Path, default=None,
                   help="weights file (state_dict + model_config); default: the demo weights in assets/weights")
    p.add_argument("--session", required=True, type=Path, help="studio session folder (with ground_truth.npz)")
    p.add_argument("--views", choices=("1", "all"), default="all",
                   help="'all': every view in one fused forward; '1': each view alone (single-view PPT)")
    p.add_argument("--keep-ratio", type=float, default=None, help="token keep ratio (default: the model's, 0.7)")
    p.add_argument("--stride", type=int, default=1, help="use every N-th frame set")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frame sets")
    p.add_argument("--threshold", type=float, default=12.8, help="JDR threshold, px in the original images")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.inference.demo import DEMO_WEIGHTS, load_demo_estimator
    from core.train.evaluate import evaluate_session, format_table

    if args.keep_ratio is not None and not 0 < args.keep_ratio <= 1:
        raise ValueError(f"--keep-ratio must be in (0, 1], got {args.keep_ratio}")
    estimator = load_demo_estimator(args.weights or DEMO_WEIGHTS, device="cpu", keep_ratio=args.keep_ratio,
                                    num_threads=args.threads)
    if not estimator.multiview:
        raise ValueError(f"{args.weights}: evaluate needs a multi-view model (fusion layers); this one is "
                         f"single-view ({estimator.config.name})")
    result = evaluate_session(estimator, args.session, args.views, stride=args.stride, max_frames=args.max_frames,
                              threshold_px=args.threshold)
    result.weights = str(args.weights or DEMO_WEIGHTS)
    if args.json:
        print(json.dumps({"weights": result.weights, **result.as_dict()}))
    else:
        print(f"weights {result.weights}")
        print(format_table(result))
    return 0
