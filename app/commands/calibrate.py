"""``ppt-mocap calibrate``: intrinsics, extrinsics (bundle adjustment), floor and printable boards.

Thin over :mod:`calibration`; prints progress bars (stderr) and a final table per camera (stdout).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from calibration.boards import PAPER_SIZES_MM, load_board_file, make_board, parse_length, write_board
from calibration.detection import DetectionSet, count_frames, detect_in_sources, synchronized_stride
from calibration.extrinsics import calibrate_extrinsics
from calibration.floor import board_pose_in_world, find_floor_frame, set_world_frame
from calibration.intrinsics import calibrate_intrinsics
from calibration.report import extrinsics_notes, extrinsics_table, intrinsics_notes, intrinsics_table
from core.geometry.camera import CameraRig

log = logging.getLogger(__name__)


def _add_board_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("board")
    g.add_argument("--board", required=True,
                   help="checkerboard INNER corners COLSxROWS (where four squares meet: 10x7 squares = 9x6), "
                        "charuco:SXxSY (ChArUco SQUARES), or a board file: Caliscope's charuco.toml")
    g.add_argument("--square", help="square side: 0.025 (metres) or 25mm / 2.5cm (not with a board file)")
    g.add_argument("--marker", help="ChArUco marker side (default 0.75 x square)")
    g.add_argument("--dictionary", help="ChArUco ArUco dictionary, e.g. 4X4_50 (default)")
    g.add_argument("--legacy", action="store_true", help="ChArUco printed by OpenCV < 4.6 with an even row count")
    g.add_argument("--inverted", action="store_true",
                   help="ChArUco printed inverted (white on black; Caliscope's 'inverted'). Either polarity is "
                        "found anyway; this only tries the inverted one first")


def _board(args):
    if args.board.lower().endswith((".toml", ".json")):
        board = load_board_file(args.board)
        return dataclasses.replace(board, inverted=True) if args.inverted and hasattr(board, "inverted") else board
    if args.square is None:
        raise ValueError(f"--board {args.board} needs --square (the side of one square, e.g. 25mm)")
    return make_board(args.board, args.square, marker=args.marker, dictionary=args.dictionary, legacy=args.legacy,
                      inverted=args.inverted)


def _parse_named(items: list[str], default_name: str | None = None) -> dict[str, list[str]]:
    """``cam01=PATH`` items -> {name: [paths]}; bare paths go to ``default_name``."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name and "/" not in name and "\\" not in name and not Path(item).exists():
            out.setdefault(name, []).append(path)
        elif default_name is not None:
            out.setdefault(default_name, []).append(item)
        else:
            raise ValueError(f"--images {item!r}: expected CAMERA=PATH (e.g. cam01=videos/cam01.mp4)")
    return out


def _detect(sources: dict[str, list[str]], board, *, stride=None, max_frames=300, subpix_window=None,
            quiet=False) -> dict[str, DetectionSet]:
    out = {}
    for name, srcs in sources.items():
        total = count_frames(srcs, stride=stride, max_frames=max_frames)
        with tqdm(total=total, desc=f"detect {name}", unit="frame", file=sys.stderr, disable=quiet,
                  leave=False) as bar:
            out[name] = detect_in_sources(srcs, board, camera=name, stride=stride, max_frames=max_frames,
                                          subpix_window=subpix_window, progress=lambda n, _t: bar.update(n))
        print(out[name].summary(), file=sys.stderr)
    return out


# ------------------------------------------------------------------------------------------------
def _cmd_intrinsics(args) -> int:
    board = _board(args)
    sources = _parse_named(args.images, default_name=args.camera)
    sets = _detect(sources, board, max_frames=args.max_frames, subpix_window=args.subpix_window, quiet=args.quiet)
    results = []
    for name, ds in sets.items():
        ds.require_board()
        results.append(calibrate_intrinsics(ds, board, fix_aspect=args.fix_aspect,
                                            model="fisheye" if args.fisheye else "opencv",
                                            reject_outliers=not args.keep_outliers, max_views=args.max_views))
    print(intrinsics_table(results))
    notes = intrinsics_notes(results)
    if notes:
        print(notes)
    rig = CameraRig([r.camera for r in results], units="m", up="z", metadata={
        "board": board.to_dict(), "stage": "intrinsics",
        "intrinsics": {r.camera.name: r.summary() | {"fx": float(r.camera.K[0, 0]), "fy": float(r.camera.K[1, 1]),
                                                     "cx": float(r.camera.K[0, 2]), "cy": float(r.camera.K[1, 2])}
                       for r in results},
        "error": round(max(r.rms for r in results), 4)})
    rig.save(args.out)
    if args.coverage_image:
        import cv2

        base = Path(args.coverage_image)
        for r in results:
            path = base if len(results) == 1 else base.with_name(f"{base.stem}_{r.camera.name}{base.suffix}")
            cv2.imwrite(str(path), r.coverage.image())
            print(f"coverage image: {path}")
    print(f"wrote {args.out}")
    return 0


def _cmd_extrinsics(args) -> int:
    board = _board(args)
    sources = _parse_named(args.images)
    if len(sources) < 2:
        raise ValueError("extrinsics need images of at least 2 cameras: --images cam01=PATH cam02=PATH ...")
    intr = CameraRig.load(args.intrinsics, units="m")
    missing = [n for n in sources if n not in intr.names]
    if missing:
        raise ValueError(f"camera(s) {missing} are not in {args.intrinsics} (it has {intr.names}); "
                         "calibrate their intrinsics first or rename the --images entries")
    stride = synchronized_stride(sources, args.max_frames)
    sets = _detect(sources, board, stride=stride, max_frames=args.max_frames, quiet=args.quiet)
    with tqdm(total=100, desc="solve", unit="%", file=sys.stderr, disable=args.quiet, leave=False) as bar:
        def progress(stage: str, frac: float) -> None:
            bar.set_postfix_str(stage)
            bar.update(int(frac * 100) - bar.n)

        result = calibrate_extrinsics(sets, {n: intr[n] for n in sources}, board,
                                      refine_intrinsics=args.refine_intrinsics, fix_aspect=args.fix_aspect,
                                      progress=progress)
    rig = result.rig
    floor = None
    if args.floor_frame != "none":
        floor = find_floor_frame(result) if args.floor_frame == "auto" else int(args.floor_frame)
        if floor is not None and floor not in result.board_poses:
            raise ValueError(f"--floor-frame {floor}: no such calibration frame seen by 2+ cameras "
                             f"(frames: {sorted(result.board_poses)[:20]}...)")
        if floor is not None:
            rig = set_world_frame(rig, result.board_poses[floor], up=args.up, units=args.units,
                                  source=f"calibration frame {floor}")
    if floor is None:
        rig = rig.to_units(args.units) if args.units != "m" else rig
        print("world frame: the first camera's (up = -y); set a floor with `ppt-mocap calibrate floor`",
              file=sys.stderr)
    rig.save(args.out)
    print(extrinsics_table(result, rig))
    print(extrinsics_notes(result))
    if floor is not None:
        print(f"world frame: board of frame {floor} on the floor, {args.up} up, {rig.units}")
    print(f"wrote {args.out}")
    return 0


def _cmd_floor(args) -> int:
    board = _board(args)
    rig = CameraRig.load(args.calibration, units="m")
    sources = _parse_named(args.images)
    sets = _detect(sources, board, quiet=args.quiet)
    # The moment seen by most cameras.
    by_frame: dict[int, dict] = {}
    for name, ds in sets.items():
        for det in ds.detections:
            by_frame.setdefault(det.frame, {})[name] = det
    if not by_frame:
        for ds in sets.values():
            ds.require_board()
    frame = min(by_frame, key=lambda f: (-len(by_frame[f]), f))
    thickness = parse_length(args.board_thickness)[0] if args.board_thickness not in (None, "0") else 0.0
    T = board_pose_in_world(rig, by_frame[frame], board)
    out = set_world_frame(rig, T, up=args.up, units=args.units, board_thickness=thickness,
                          source=f"floor board ({', '.join(sorted(by_frame[frame]))})")
    out.save(args.out)
    rows = [f"{c.name}: position {' '.join(f'{v:+.3f}' for v in c.center)} {out.units}" for c in out]
    print("\n".join(rows))
    print(f"world frame: floor board seen by {sorted(by_frame[frame])}, {args.up} up, {out.units}")
    print(f"wrote {args.out}")
    return 0


def _cmd_board(args) -> int:
    board = _board(args)
    info = write_board(board, args.out, paper=args.paper, dpi=args.dpi)
    print(f"{board.describe()}: {info['board_mm'][0]} x {info['board_mm'][1]} mm on {info['paper']} "
          f"{info['orientation']} -> {args.out}. Print at 100 % (actual size) and check one square with a ruler.")
    return 0


# ------------------------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("calibrate", help="calibrate cameras with a checkerboard or ChArUco board",
                                   description="Camera calibration: intrinsics, extrinsics, floor, printable board.")
    sub = parser.add_subparsers(dest="calibrate_command", metavar="STEP", required=True)

    p = sub.add_parser("intrinsics", help="lens and focal length of each camera from board views")
    p.add_argument("--images", nargs="+", required=True,
                   help="image files, folders, globs or videos; CAMERA=PATH to calibrate several cameras at once")
    p.add_argument("--camera", default="cam01", help="camera name for bare paths (default cam01)")
    _add_board_args(p)
    p.add_argument("--fix-aspect", action="store_true", help="keep fx = fy (square pixels)")
    p.add_argument("--fisheye", action="store_true", help="fisheye lens model (k1..k4)")
    p.add_argument("--keep-outliers", action="store_true", help="do not reject views with large errors")
    p.add_argument("--subpix-window", type=int, help="cornerSubPix half window (default: from square size)")
    p.add_argument("--max-frames", type=int, default=300, help="frames sampled per video (default 300)")
    p.add_argument("--max-views", type=int, default=60, help="views used per camera, chosen for coverage")
    p.add_argument("--coverage-image", help="write a PNG of where corners were seen (one per camera)")
    p.add_argument("--out", required=True, help="output calibration TOML")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_intrinsics)

    p = sub.add_parser("extrinsics", help="camera poses from simultaneous board views (bundle adjustment)")
    p.add_argument("--images", nargs="+", required=True,
                   help="CAMERA=PATH per camera (folder, glob or video); frames of the same index are simultaneous")
    p.add_argument("--intrinsics", required=True, help="TOML with every camera's intrinsics")
    _add_board_args(p)
    p.add_argument("--refine-intrinsics", action="store_true", help="also optimise focal, centre and distortion")
    p.add_argument("--fix-aspect", action="store_true", help="with --refine-intrinsics, keep fy/fx")
    p.add_argument("--floor-frame", default="auto",
                   help="calibration frame whose board lies on the floor: auto (flattest board), none, or N")
    p.add_argument("--up", choices=("z", "y"), default="z", help="world up axis (default z)")
    p.add_argument("--units", choices=("m", "mm"), default="m", help="length unit of the output (default m)")
    p.add_argument("--max-frames", type=int, default=300, help="frames sampled per video (default 300)")
    p.add_argument("--out", required=True, help="output calibration TOML")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_extrinsics)

    p = sub.add_parser("floor", help="set the world frame from a board lying on the floor")
    p.add_argument("--calibration", required=True, help="calibrated rig TOML")
    p.add_argument("--images", nargs="+", required=True, help="CAMERA=PATH: the floor board seen by the cameras")
    _add_board_args(p)
    p.add_argument("--up", choices=("z", "y"), default="z", help="world up axis (default z)")
    p.add_argument("--units", choices=("m", "mm"), default="m", help="length unit of the output (default m)")
    p.add_argument("--board-thickness", default="0", help="lower the origin by this much (e.g. 5mm)")
    p.add_argument("--out", required=True, help="output calibration TOML")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_floor)

    p = sub.add_parser("board", help="write a printable board (PNG or PDF) at true scale")
    _add_board_args(p)
    p.add_argument("--paper", default="A4", type=str.upper, choices=sorted(PAPER_SIZES_MM), help="paper size")
    p.add_argument("--dpi", type=int, default=300, help="resolution (default 300)")
    p.add_argument("--out", required=True, help="board.pdf or board.png")
    p.set_defaults(func=_cmd_board)
