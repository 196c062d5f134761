"""``ppt-mocap demo`` (``make demo``): the desktop app on the embedded default, the virtual studio with the demo
weights, capturing at once; no camera needed.

On a machine without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` and no ``QT_QPA_PLATFORM``) it says so, runs the
app off-screen for a few seconds and saves a screenshot. ``--triangulation`` runs the older text-only demo:
triangulate the real 4-camera Pose2Sim session from ``../shared/data`` when it is there (and compare with Pose2Sim's
own result), else a synthetic ring rig filming a moving point cloud.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core.geometry import CameraRig, triangulate_sequence
from core.geometry.skeletons import BODY25B, POSE2SIM_BODY25B_MARKERS
from core.session.openpose_json import read_openpose_session
from core.session.trc import read_trc, write_trc

SHARED_SESSION = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sessions" / "pose2sim_balancing"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the end-to-end demo on the embedded default (no camera needed)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.add_argument("--synthetic", action="store_true", help="use the synthetic rig even if real data is present")
    p.add_argument("--triangulation", action="store_true",
                   help="text-only demo: triangulate the Pose2Sim session (or a synthetic rig) instead of the app")
    p.add_argument("--seconds", type=float, default=8.0, help="headless run length without a display (default 8)")
    p.add_argument("--studio", default="ring4", help="virtual studio preset (default ring4)")
    p.set_defaults(func=run)


def _real_session(out: Path) -> None:
    rig = CameraRig.load(SHARED_SESSION / "calibration.toml")
    pts, conf = read_openpose_session(sorted((SHARED_SESSION / "openpose_2d").glob("cam*_json")))
    names = list(POSE2SIM_BODY25B_MARKERS)
    idx = [BODY25B.index(POSE2SIM_BODY25B_MARKERS[n]) for n in names]
    res = triangulate_sequence(rig, pts[:, :, idx], conf[:, :, idx], min_confidence=0.3)
    trc = write_trc(out / "pose2sim_balancing.trc", res.points_3d, names, fps=60.0, world_up=rig.up)
    ref, _, _, _ = read_trc(next((SHARED_SESSION / "reference_3d").glob("*.trc")))
    err = np.linalg.norm(res.points_3d - ref, axis=-1) * 1000
    all4 = res.views_used.all(axis=1)
    print("Real Pose2Sim session (4 cameras, 100 frames at 60 fps, OpenPose BODY_25B 2D):")
    print(f"  calibration            {rig.names} ({rig.units}, up {rig.up})")
    print(f"  joints reconstructed   {np.isfinite(res.points_3d).all(-1).mean():.1%}")
    print(f"  reprojection error     {np.nanmedian(res.reprojection_error):.1f} px median")
    print(f"  vs Pose2Sim's TRC      {np.nanmedian(err[all4]):.3f} mm median where all 4 views agree, "
          f"{np.nanmedian(err):.2f} mm overall (our outlier rejection differs from Pose2Sim's elsewhere)")
    print(f"  wrote                  {trc}")


def _synthetic(out: Path) -> None:
    from core.bench.triangulation import ring_rig

    rig = ring_rig(4)
    T, J = 120, 17
    t = np.arange(T)[:, None] / 30.0
    base = np.random.default_rng(0).uniform([-0.3, -0.3, 0.2], [0.3, 0.3, 1.7], (J, 3))
    X = base[None] + np.stack([0.5 * np.sin(t), 0.5 * np.cos(t), 0.05 * np.sin(3 * t)], axis=-1)
    pts = np.stack([rig.project(x) for x in X]) + np.random.default_rng(1).normal(0, 1.0, (T, len(rig), J, 2))
    res = triangulate_sequence(rig, pts, None)
    err = np.linalg.norm(res.points_3d - X, axis=-1) * 1000
    path = write_trc(out / "synthetic.trc", res.points_3d, [f"p{j}" for j in range(J)], fps=30.0)
    print("Synthetic ring rig (4 cameras, 1 px noise):")
    print(f"  3D error               {np.median(err):.2f} mm median, {err.max():.2f} mm max")
    print(f"  wrote                  {path}")


def _gui(args: argparse.Namespace) -> int:
    import os

    from app.gui.config import RunConfig
    from app.gui.qt_app import has_display

    config = RunConfig(studio=args.studio, backend="demo")
    if has_display():
        from app.gui.main import run_app

        return run_app(config=config, autostart=True)
    print("No display found (DISPLAY / WAYLAND_DISPLAY unset and QT_QPA_PLATFORM not set): running the app "
          f"off-screen for {args.seconds:g} s and saving a screenshot.")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from app.gui.main import run_headless

    shot = args.out / "demo_window.png"
    out = run_headless(shot, args.seconds, config=config)
    print(f"screenshot of the app saved: {shot.resolve()}")
    for e in out.get("errors", []):
        print(f"  shown in the window: {e}")
    return 0


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.triangulation and not args.synthetic:
        return _gui(args)
    if SHARED_SESSION.exists() and not args.synthetic:
        _real_session(args.out)
    else:
        _synthetic(args.out)
    return 0
