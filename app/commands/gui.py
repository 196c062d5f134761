"""``ppt-mocap gui``: the desktop app; headless, a timed screenshot or a display-rate measurement.

    ppt-mocap gui                                   # open the app (same as ppt-mocap with no arguments)
    ppt-mocap gui --screenshot shot.png --after 8   # run the embedded default 8 s, save the window, exit
    ppt-mocap gui --session takes/t1 --screenshot replay.png --after 3
    ppt-mocap gui --wizard-images left=DIR/left*.jpg --wizard-images right=DIR/right*.jpg --board 9x6 --square 25mm \\
        --screenshot wizard.png
    ppt-mocap gui --measure 20                      # pipeline rate vs display rate
    ppt-mocap gui --teach takes/t1 --screenshot teach.png   # the "Teach the model" dialog of a session
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="open the desktop app (or run it headless for a screenshot/measurement)")
    p.add_argument("--studio", default="ring4", help="virtual studio preset for the headless modes (default ring4)")
    p.add_argument("--backend", default="demo", help="2D backend (demo, ppt, studio-truth, openpose-json)")
    p.add_argument("--weights", type=Path, default=None, help="PPT weights file")
    p.add_argument("--session", type=Path, default=None, help="replay this session folder")
    p.add_argument("--teach", type=Path, default=None, metavar="SESSION",
                   help="with --screenshot: the 'Teach the model' dialog of this session (its run for --weights)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE", help="save a picture of the window, exit")
    p.add_argument("--after", type=float, default=5.0, metavar="SECONDS", help="run this long before the screenshot")
    p.add_argument("--measure", type=float, default=None, metavar="SECONDS",
                   help="print the pipeline rate and the display rate over this many seconds, exit")
    p.add_argument("--token-stage", default="heat", help="token view: heat, off or a stage number (1, 2, ...)")
    p.add_argument("--wizard-images", action="append", default=[], metavar="CAMERA=GLOB",
                   help="open the calibration wizard on these images (one option per camera)")
    p.add_argument("--board", default="9x6", help="wizard board: inner corners COLSxROWS or charuco:COLSxROWS")
    p.add_argument("--square", default="25mm", help="wizard board square size")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")
    p.set_defaults(func=run)


def _stage(text: str):
    if text == "heat":
        return None
    if text == "off":
        return False
    try:
        return int(text) - 1
    except ValueError:
        raise ValueError(f"--token-stage {text!r}: expected heat, off or a stage number") from None


def run(args: argparse.Namespace) -> int:
    from app.gui.config import RunConfig

    config = RunConfig(studio=args.studio, backend=args.backend, weights=str(args.weights) if args.weights else None)
    stage = _stage(args.token_stage)
    if args.teach is not None and args.screenshot is None:
        raise ValueError("--teach needs --screenshot FILE (in the app: Sessions… -> Teach the model this session)")
    if args.screenshot is None and args.measure is None:
        from app.gui.main import run_app
        from app.gui.qt_app import has_display

        if not has_display():
            raise ValueError("no display (DISPLAY / WAYLAND_DISPLAY unset): use --screenshot FILE or --measure S, "
                             "or set QT_QPA_PLATFORM=offscreen")
        return run_app(config=config, autostart=args.session is None, session=args.session,
                       token_stage=None if args.token_stage == "heat" else stage)
    from app.gui.main import run_headless

    if args.teach is not None:
        from app.gui.finetune import run_teach_headless

        out = run_teach_headless(args.teach, args.screenshot, args.weights)
    elif args.wizard_images:
        from app.gui.calibration_wizard import run_wizard_headless

        out = run_wizard_headless(args.wizard_images, args.board, args.square, args.screenshot)
    else:
        out = run_headless(args.screenshot, args.after, config=config, session=args.session, measure=args.measure,
                           token_stage=stage)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        if "pipeline_fps" in out:
            ratio = out["display_fps"] / out["pipeline_fps"] if out["pipeline_fps"] else float("nan")
            print(f"pipeline {out['pipeline_fps']:.2f} results/s, display {out['display_fps']:.2f} frames/s "
                  f"({ratio:.1%}) over {out['seconds']:.1f} s; drawing {out['draw_ms']:.1f} ms per result; "
                  f"{out['cameras']} cameras; backend: {out['backend']}")
        if out.get("screenshot"):
            print(f"screenshot saved: {out['screenshot']}")
        for e in out.get("errors", []):
            print(f"  shown in the window: {e}")
    return 0
