"""``ppt-mocap studio``: render virtual-studio sessions and plan camera layouts.

    ppt-mocap studio render --preset ring4 --motion walk --frames 300 --seed 0 --out DIR
    ppt-mocap studio render --calibration my_rig.toml --motion mix --frames 120 --out DIR
    ppt-mocap studio plan --preset ring4            (or --calibration FILE) [--image plan.png]
    ppt-mocap studio corpus --out runs/corpus/studio_train --samples 24576 --workers 2
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image size must look like 640x480, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"image size must be at least 16x16, got {text!r}")
    return w, h


def _add_rig_arguments(p: argparse.ArgumentParser) -> None:
    from core.studio.rig_presets import PRESETS

    group = p.add_mutually_exclusive_group()
    group.add_argument("--preset", default=None, help=f"virtual rig layout: {', '.join(PRESETS)} (default ring4)")
    group.add_argument("--calibration", type=Path, default=None,
                       help="your own rig: a calibration file (Anipose/Pose2Sim/FreeMoCap TOML, ...; Z up)")
    p.add_argument("--size", type=_size, default=(640, 480), help="image size of preset cameras, WxH (640x480)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("studio", help="virtual studio: render synthetic sessions, plan camera layouts",
                                   description="The virtual studio: calibrated virtual cameras filming animated "
                                   "synthetic people, with exact ground truth.")
    sub = parser.add_subparsers(dest="studio_command", metavar="ACTION", required=True)

    r = sub.add_parser("render", help="render a session folder (videos, timestamps, calibration, ground truth)")
    _add_rig_arguments(r)
    r.add_argument("--motion", default="walk",
                   help="walk, turn, squat, arm_raise, reach, jump, balance, sit_to_stand, mix, or a .trc file")
    r.add_argument("--frames", type=int, default=300, help="number of frame sets (default 300)")
    r.add_argument("--fps", type=float, default=30.0, help="frame rate, Hz (default 30)")
    r.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    r.add_argument("--people", type=int, default=1, help="number of people (1-6)")
    r.add_argument("--out", type=Path, required=True, help="session folder to create")
    r.add_argument("--overwrite", action="store_true", help="replace the output folder if it exists")
    r.add_argument("--no-props", action="store_true", help="no occluding props")
    r.add_argument("--no-room", action="store_true", help="plain grey background instead of a textured room")
    r.add_argument("--steady-light", action="store_true", help="no lighting changes over time")
    r.add_argument("--clock-offset-ms", type=float, default=0.0, help="per-camera clock offsets up to +-this (ms)")
    r.add_argument("--jitter-ms", type=float, default=0.0, help="per-frame capture jitter, standard deviation (ms)")
    r.add_argument("--drop-rate", type=float, default=0.0, help="probability that a camera drops a frame")
    r.add_argument("--noise", type=float, default=0.0, help="sensor noise, grey levels (standard deviation)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=_render)

    p = sub.add_parser("plan", help="expected triangulation error of a camera layout, per joint and per region")
    _add_rig_arguments(p)
    p.add_argument("--noise-px", type=float, default=2.0, help="2D keypoint noise, pixels (default 2)")
    p.add_argument("--radius", type=float, default=None, help="capture volume radius, m (default: from the rig)")
    p.add_argument("--grid-step", type=float, default=0.25, help="grid spacing, m (default 0.25)")
    p.add_argument("--poses", type=int, default=40, help="actor poses for the per-joint estimate (default 40)")
    p.add_argument("--method", choices=("analytic", "montecarlo"), default="analytic",
                   help="error propagation (default) or Monte Carlo triangulation of noisy points")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image", type=Path, default=None, help="write the error maps as a PNG (default: plan.png "
                   "beside nothing; give a path to save)")
    p.set_defaults(func=_plan)

    c = sub.add_parser("corpus", help="render a training corpus: multi-view person crops with cameras, in shards",
                       description="Render synchronised multi-view person crops of random studio scenes into "
                       "shards for training ([data] kind = \"corpus\"). Resumable: run again to finish or grow "
                       "a corpus (shards on disk are kept).")
    c.add_argument("--out", type=Path, required=True, help="corpus folder (created; an existing one is continued)")
    c.add_argument("--samples", type=int, default=24576, help="frame groups to render (default 24576)")
    c.add_argument("--views", type=int, default=4, help="cameras per frame group (default 4)")
    c.add_argument("--seed", type=int, default=0, help="seed (default 0; use another for held-out corpora)")
    c.add_argument("--crop-size", type=int, default=192, help="stored crop side, px (default 192)")
    c.add_argument("--margin", type=float, default=1.5,
                   help="stored crop / padded person box, room for augmentation (default 1.5)")
    c.add_argument("--shard-size", type=int, default=64, help="frame groups per shard file (default 64)")
    c.add_argument("--people", type=int, nargs=2, default=(1, 2), metavar=("MIN", "MAX"),
                   help="people per scene, the first is the subject (default 1 2)")
    c.add_argument("--distractor-distance", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                   help="metres from the subject to each other person at the start (uniform; default 1.1 m +- "
                        "0.2 m per axis). 0.4 0.9 teaches the model to keep to the centred person beside another")
    c.add_argument("--motion", default="mix",
                   help="every person's motion: one of core.studio.motion.MOTIONS or a .trc file (default mix: all of "
                        "them in turn); walk teaches strides, legs crossing and people passing")
    c.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    c.set_defaults(func=_corpus)


def _rig(args):
    from core.studio.rig_presets import load_studio_rig, make_rig

    if args.calibration is not None:
        return load_studio_rig(args.calibration)
    return make_rig(args.preset or "ring4", size=args.size)


def _render(args: argparse.Namespace) -> int:
    from core.studio.motion import MOTIONS
    from core.studio.recording import check_output_folder, render_session
    from core.studio.studio import Imperfections, make_studio

    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    if args.fps <= 0:
        raise ValueError(f"--fps must be > 0, got {args.fps}")
    motion = args.motion
    if not motion.lower().endswith(".trc") and motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; expected one of {', '.join(MOTIONS)} or a .trc file")
    if motion.lower().endswith(".trc") and not Path(motion).exists():
        raise FileNotFoundError(f"motion file not found: {motion}")
    check_output_folder(args.out, args.overwrite)
    rig = _rig(args)
    imperfections = Imperfections(clock_offset_ms=args.clock_offset_ms, jitter_ms=args.jitter_ms,
                                  drop_rate=args.drop_rate, noise_sigma=args.noise)
    studio = make_studio(rig=rig, motion=motion, people=args.people, seed=args.seed, fps=args.fps,
                         props=not args.no_props, room=not args.no_room, lighting_changes=not args.steady_light,
                         imperfections=imperfections)
    settings = {"preset": None if args.calibration else (args.preset or "ring4"),
                "calibration": str(args.calibration) if args.calibration else None, "motion": motion,
                "props": not args.no_props, "room": not args.no_room, "lighting_changes": not args.steady_light}
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=args.frames, unit="frame set", desc="rendering")

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(1)

    try:
        out = render_session(studio, args.out, args.frames, overwrite=args.overwrite, settings=settings,
                             progress=progress)
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {args.frames} frame sets x {len(rig)} cameras to {out}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    import cv2

    from core.studio.planner import format_report, plan_image, plan_rig

    rig = _rig(args)
    report = plan_rig(rig, noise_px=args.noise_px, radius=args.radius, grid_step=args.grid_step, poses=args.poses,
                      seed=args.seed, method=args.method)
    print(format_report(report))
    if args.image is not None:
        args.image.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.image), plan_image(report, rig)):
            raise ValueError(f"could not write the plan image {args.image} (use a .png path)")
        print(f"error maps written to {args.image}")
    return 0


def _corpus(args: argparse.Namespace) -> int:
    from core.train.corpus_render import CorpusSpec, render_corpus

    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    spec = CorpusSpec(samples=args.samples, views=args.views, seed=args.seed, crop_size=args.crop_size,
                      margin=args.margin, shard_size=args.shard_size, people=tuple(args.people),
                      motion=args.motion, distractor_distance=None if args.distractor_distance is None
                      else tuple(args.distractor_distance))

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} shards", end="", flush=True)

    written = render_corpus(args.out, spec, workers=args.workers, progress=progress)
    print(f"\n{args.out}: {spec.samples} frame groups x {spec.views} views ({written} shards rendered now)")
    return 0
