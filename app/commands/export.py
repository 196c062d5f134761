"""``ppt-mocap export SESSION --format trc|c3d|csv|json|bvh``: a result set's 3D joints for other tools."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    from core.geometry.filters import BUTTERWORTH_CUTOFF_HZ
    from core.session.export import SESSION_EXPORT_FORMATS

    p = subparsers.add_parser("export", help="export a session's 3D joints (TRC, C3D, CSV, JSON, BVH)",
                              description="Write the 3D joints of a session's result set, one row per recorded "
                              "frame set (NaN/gaps where a set was not processed), to SESSION/exports/ or --out.")
    p.add_argument("session", type=Path, help="session folder")
    p.add_argument("--format", required=True, choices=SESSION_EXPORT_FORMATS)
    p.add_argument("--result", default=None, help="result set (default: the only or first one)")
    p.add_argument("--out", type=Path, default=None, help="output file (default SESSION/exports/<result>.<format>)")
    p.add_argument("--fill-gaps", type=int, default=0, help="interpolate gaps up to this many frames")
    p.add_argument("--filter", choices=("butterworth", "recorded", "none"), default="butterworth",
                   help="butterworth (default): zero-phase low-pass of the raw triangulation over the whole take "
                   "(order 4, --butterworth Hz); recorded: the result set's own filtered points (live One-Euro "
                   "for a live recording); none: the raw triangulation")
    p.add_argument("--butterworth", type=float, default=None, metavar="HZ",
                   help=f"zero-phase low-pass cutoff (default {BUTTERWORTH_CUTOFF_HZ:g} Hz)")
    p.add_argument("--raw", action="store_true", help="export the unfiltered triangulation (= --filter none)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.geometry.filters import BUTTERWORTH_CUTOFF_HZ, BUTTERWORTH_ORDER, butterworth_filter, fill_gaps
    from core.session.export import export_points
    from core.session.replay import Session

    session = Session(args.session)
    names = session.result_names()
    if not names:
        raise ValueError(f"{args.session} has no result sets to export (record with a backend, or "
                         f"`ppt-mocap replay {args.session} --reprocess`)")
    result = args.result or names[0]
    res = session.results(result)
    if "points_3d" not in res.arrays:
        raise ValueError(f"result set {result!r} has no 3D joints")
    mode = "none" if args.raw else args.filter
    key = "points_3d" if mode == "recorded" or "raw_points_3d" not in res.arrays else "raw_points_3d"
    points = np.full((len(session),) + res.arrays[key].shape[1:], np.nan)
    idx = res.arrays["frame_index"]
    ok = (idx >= 0) & (idx < len(session))
    points[idx[ok]] = res.arrays[key][ok]
    if args.fill_gaps:
        points = fill_gaps(points, args.fill_gaps)
    if mode == "butterworth" or (args.butterworth and mode != "none"):
        points = butterworth_filter(points, session.fps, cutoff=args.butterworth or BUTTERWORTH_CUTOFF_HZ,
                                    order=BUTTERWORTH_ORDER, max_gap=args.fill_gaps)
    sk = res.skeleton
    out = args.out or session.path / "exports" / f"{result}.{args.format}"
    if out.suffix.lower().lstrip(".") != args.format:
        raise ValueError(f"--out {out} does not end in .{args.format}")
    export_points(out, points, list(sk.joints), fps=session.fps, units=session.rig.units, up=session.rig.up,
                  skeleton=sk.name)
    valid = np.isfinite(points).all(axis=-1).mean()
    how = {"butterworth": f"zero-phase Butterworth {args.butterworth or BUTTERWORTH_CUTOFF_HZ:g} Hz",
           "recorded": "as recorded", "none": "unfiltered"}[mode]
    print(f"exported {len(points)} frames x {sk.num_joints} joints ({valid:.1%} reconstructed, {how}) -> {out}")
    return 0
