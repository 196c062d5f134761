"""``ppt-mocap triangulate``: 2D keypoint files from several cameras -> 3D trajectories (.trc/.csv/.npz/.json)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.estimators.files import SKELETON_BY_JOINTS, match_camera_folders
from core.geometry import CameraRig, get_skeleton, triangulate_sequence
from core.geometry.filters import butterworth_filter, fill_gaps
from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.session.export import EXPORT_FORMATS, write_points
from core.session.openpose_json import read_openpose_folder

log = logging.getLogger(__name__)
KEYPOINT_FORMATS = ("openpose",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "triangulate",
        help="triangulate 2D keypoint files of several cameras into 3D",
        description="Read one keypoint folder per camera (matched to the calibration's cameras by name, "
        "else by order), triangulate every frame with a robust confidence-weighted DLT and write 3D "
        f"trajectories ({', '.join(EXPORT_FORMATS)}). TRC files are Y-up (OpenSim): world (x, y, z) -> "
        "TRC (y, z, x) for the default Z-up world.",
    )
    p.add_argument("--calibration", required=True, type=Path, help="calibration file (.toml, Panoptic/Campus .json)")
    p.add_argument("--keypoints", required=True, type=Path,
                   help="folder holding one subfolder of per-frame keypoint files per camera")
    p.add_argument("--keypoint-format", default="openpose", help=f"one of {KEYPOINT_FORMATS}")
    p.add_argument("--out", required=True, type=Path, help=f"output file ({', '.join(EXPORT_FORMATS)})")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the keypoints (Hz), for time stamps")
    p.add_argument("--skeleton", default=None, help="joint set (default from the joint count: 25 -> body25b)")
    p.add_argument("--markers", choices=("all", "pose2sim"), default="all",
                   help="'pose2sim': the 21 named BODY_25B markers Pose2Sim writes")
    p.add_argument("--min-confidence", type=float, default=0.3, help="ignore observations at or below this")
    p.add_argument("--outliers", choices=("none", "worst-view", "ransac"), default="worst-view")
    p.add_argument("--threshold", type=float, default=20.0, help="outlier reprojection threshold (px)")
    p.add_argument("--refine", action="store_true", help="non-linear refinement of the reprojection error")
    p.add_argument("--fill-gaps", type=int, default=0, help="interpolate gaps up to this many frames")
    p.add_argument("--butterworth", type=float, default=None, metavar="HZ",
                   help="zero-phase low-pass cutoff (Hz); off by default")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.keypoint_format not in KEYPOINT_FORMATS:
        raise ValueError(f"unknown keypoint format {args.keypoint_format!r}; supported: {KEYPOINT_FORMATS}")
    if args.out.suffix.lower() not in EXPORT_FORMATS:
        raise ValueError(f"unknown output format {args.out.suffix!r}; expected one of {EXPORT_FORMATS}")
    rig = CameraRig.load(args.calibration)
    folders = list(match_camera_folders(rig.names, args.keypoints).values())
    per_camera = [read_openpose_folder(f) for f in tqdm(folders, desc="reading keypoints", unit="camera")]
    J = per_camera[0].shape[1]
    if any(a.shape[1] != J for a in per_camera):
        raise ValueError(f"cameras disagree on the number of joints: {[a.shape[1] for a in per_camera]}")
    skeleton = get_skeleton(args.skeleton or SKELETON_BY_JOINTS.get(J, ""))
    if skeleton.num_joints != J:
        raise ValueError(f"skeleton {skeleton.name} has {skeleton.num_joints} joints, the files have {J}")
    T = max(len(a) for a in per_camera)
    pts = np.full((T, len(rig), J, 2), np.nan)
    conf = np.zeros((T, len(rig), J))
    for c, a in enumerate(per_camera):
        pts[: len(a), c], conf[: len(a), c] = a[..., :2], a[..., 2]

    names = list(skeleton.joints)
    if args.markers == "pose2sim":
        if skeleton.name != "body25b":
            raise ValueError("--markers pose2sim needs BODY_25B keypoints (25 joints)")
        names = list(POSE2SIM_BODY25B_MARKERS)
        idx = [skeleton.index(POSE2SIM_BODY25B_MARKERS[n]) for n in names]
        pts, conf = pts[:, :, idx], conf[:, :, idx]

    chunks = []
    step = 2000
    for s in tqdm(range(0, T, step), desc="triangulating", unit="chunk"):
        chunks.append(triangulate_sequence(
            rig, pts[s:s + step], conf[s:s + step], min_confidence=args.min_confidence,
            outliers=None if args.outliers == "none" else args.outliers, threshold_px=args.threshold,
            refine=args.refine))
    points = np.concatenate([c.points_3d for c in chunks])
    errors = np.concatenate([c.reprojection_error for c in chunks])
    used = np.concatenate([c.views_used for c in chunks])
    if args.fill_gaps:
        points = fill_gaps(points, args.fill_gaps)
    if args.butterworth:
        points = butterworth_filter(points, args.fps, cutoff=args.butterworth, max_gap=args.fill_gaps)
    write_points(args.out, points, names, args.fps, units=rig.units, up=rig.up,
                 extra={"reprojection_error": errors, "views_used": used})
    valid = np.isfinite(points).all(axis=-1)
    print(f"triangulated {T} frames x {len(names)} joints from {len(rig)} cameras -> {args.out}")
    print(f"  joints reconstructed: {valid.mean():.1%}   median reprojection error: {np.nanmedian(errors):.2f} px"
          f"   median views used: {np.median(used.sum(axis=1)[valid]) if valid.any() else 0:.0f}")
    return 0
