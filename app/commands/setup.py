"""``ppt-mocap setup mediapipe``: prepare optional components once (model bundles in the user cache)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("setup", help="prepare optional components (MediaPipe BlazePose weights)",
                              description="One-time set-up of optional components.")
    sub = p.add_subparsers(dest="component", metavar="COMPONENT", required=True)
    mp = sub.add_parser("mediapipe", help="bundle BlazePose weights (from the mediapipe==0.10.21 wheel) for the "
                        "mediapipe backend", description="Extract BlazePose's detector and landmark models from the "
                        "mediapipe==0.10.21 wheel (downloaded with pip, not installed, unless --wheel is given), add "
                        "the metadata the Tasks API needs and write a .task bundle to the user cache. Needs the "
                        "'mediapipe' extra: pip install 'ppt-mocap[mediapipe]'. Only the full landmark model can be "
                        "set up: that wheel, the newest Python package with BlazePose's models, holds "
                        "pose_landmark_full.tflite and pose_detection.tflite only, and no registry package ships the "
                        "lite or heavy model.")
    mp.add_argument("--variant", default="full", metavar="full",
                    help="landmark model: full (the only one the mediapipe==0.10.21 wheel holds)")
    mp.add_argument("--wheel", type=Path, default=None, help="a local mediapipe-0.10.21-*.whl")
    mp.add_argument("--force", action="store_true", help="rebuild the bundle")
    mp.set_defaults(func=run_mediapipe)


def run_mediapipe(args: argparse.Namespace) -> int:
    from core.mediapipe_models import setup_mediapipe

    try:
        path = setup_mediapipe(args.variant, wheel=args.wheel, force=args.force)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    print(f"MediaPipe BlazePose ({args.variant}) ready: {path}")
    return 0
