"""``ppt-mocap run``: the live pipeline, headless: cameras/URLs/files/studio in, 3D skeletons out.

    ppt-mocap run --source cam_01=0 --source cam_02=rtsp://... --calibration calib.toml --backend ppt --headless
    ppt-mocap run --studio ring4 --backend ppt --duration 30 --record takes/t1 --stream osc://127.0.0.1:9000
    ppt-mocap run --source cam_01=cam01.mp4 ... --calibration calib.toml --backend openpose-json \\
        --keypoints pose/ --offline --export out.trc
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="run the live capture pipeline (headless)",
                              description="Capture from cameras, stream URLs, video files, image folders or the "
                              "virtual studio; estimate 2D, triangulate, filter; record, stream and export.")
    src = p.add_argument_group("sources")
    src.add_argument("--source", action="append", default=[], metavar="NAME=SPEC",
                     help="camera NAME (as in the calibration) = device index or /dev/videoN with an optional mode "
                     "(0:1280x720@60), rtsp:// or http:// URL, "
                     "video file or image folder; repeat per camera")
    src.add_argument("--studio", metavar="PRESET", default=None,
                     help="use the virtual studio with this camera preset (ring4, stereo2, ring8, high-low4)")
    src.add_argument("--studio-motion", default="walk", help="studio motion (default walk)")
    src.add_argument("--calibration", type=Path, default=None, help="calibration file of the sources' cameras")
    src.add_argument("--fps", type=float, default=None, help="nominal frame rate (default: from the sources)")
    src.add_argument("--offline", action="store_true",
                     help="files only: process every frame as fast as possible instead of in real time")
    est = p.add_argument_group("2D backend")
    est.add_argument("--backend", default="ppt",
                     help="ppt (--preset/--weights), demo (the demo model: its weights when shipped, else a labelled "
                     "random init), mediapipe, openpose-json (--keypoints), studio-truth (--studio only)")
    est.add_argument("--preset", default="multiview_ppt_s", help="PPT model preset")
    est.add_argument("--weights", type=Path, default=None, help="PPT weights (default: random init, labelled)")
    est.add_argument("--keypoints", type=Path, default=None, help="openpose-json: folder of per-camera JSON folders")
    est.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (1 beside capture threads)")
    est.add_argument("--detectors", default="auto", help="person detectors of the top-down (ppt/demo) backend: auto (MOG2 background subtraction, plus mediapipe's person detector when installed), mog2, knn, mediapipe or a comma-separated list")
    tri = p.add_argument_group("3D")
    tri.add_argument("--outliers", choices=("none", "worst-view", "ransac"), default="worst-view")
    tri.add_argument("--min-confidence", type=float, default=0.3)
    tri.add_argument("--filter", choices=("auto", "one-euro", "butterworth", "none"), default="auto",
                     help="auto (default): One-Euro live (causal, lag <= 1 frame at 60 fps), zero-phase Butterworth "
                     "with --offline (over the whole take, as Pose2Sim)")
    tri.add_argument("--min-cutoff", type=float, default=None, metavar="HZ", help="One-Euro cutoff at rest (Hz)")
    tri.add_argument("--beta", type=float, default=None, metavar="S_PER_M",
                     help="One-Euro speed coefficient: Hz of cutoff per m/s (unit-aware)")
    tri.add_argument("--butterworth", type=float, default=None, metavar="HZ",
                     help="offline Butterworth cutoff (default 6 Hz, order 4)")
    out = p.add_argument_group("outputs")
    out.add_argument("--record", type=Path, default=None, help="record a session folder (videos, timestamps, results)")
    out.add_argument("--overwrite", action="store_true", help="replace an existing --record folder")
    out.add_argument("--stream", default=None, metavar="URL", help="stream 3D joints: osc://HOST:PORT (send OSC over UDP) or ws://HOST:PORT (serve WebSocket JSON)")
    out.add_argument("--export", type=Path, default=None,
                     help="write all 3D results at the end (.trc, .c3d, .csv, .json, .bvh, .npz)")
    p.add_argument("--headless", action="store_true",
                   help="no window (this command never opens one; `ppt-mocap gui` is the desktop app)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--status-every", type=float, default=1.0, help="seconds between status lines")
    p.set_defaults(func=run)


def spec_from_args(args: argparse.Namespace):
    """The :class:`core.run_spec.RunSpec` of the command line (the app builds its runs from the same spec)."""
    from core.run_spec import RunSpec

    return RunSpec(studio=args.studio, studio_motion=args.studio_motion, sources=tuple(args.source),
                   calibration=args.calibration, fps=args.fps, offline=args.offline, backend=args.backend,
                   preset=args.preset, weights=args.weights, keypoints=args.keypoints,
                   torch_threads=args.torch_threads, detectors=args.detectors, min_confidence=args.min_confidence,
                   outliers=args.outliers, filter=args.filter, one_euro_min_cutoff=getattr(args, "min_cutoff", None),
                   one_euro_beta=getattr(args, "beta", None), butterworth_cutoff=getattr(args, "butterworth", None))


def build(args: argparse.Namespace):
    """(sources, rig, estimator, settings) from the command line."""
    spec = spec_from_args(args)
    setup = spec.open_sources()
    estimator = spec.build_backend(setup.rig, setup.virtual_rig)
    return setup.sources, setup.rig, estimator, spec.pipeline_settings()


def run(args: argparse.Namespace) -> int:
    from core.pipeline import Pipeline
    from core.processing import smooth_take
    from core.session.export import SESSION_EXPORT_FORMATS, export_points

    if args.export is not None and args.export.suffix.lower().lstrip(".") not in SESSION_EXPORT_FORMATS:
        raise ValueError(f"unknown export format {args.export.suffix!r}; expected one of {SESSION_EXPORT_FORMATS}")
    if not args.headless:
        print("note: `ppt-mocap run` shows no window; `ppt-mocap gui` is the desktop app")
    sources, rig, estimator, settings = build(args)
    streamer = None
    if args.stream:
        from core.streaming import streamer_from_url

        streamer = streamer_from_url(args.stream)
    pipeline = Pipeline(sources, rig, estimator, settings)
    print(f"backend: {estimator.description or estimator.name}")
    collected = []
    if args.export is not None:
        pipeline.add_sink(collected.append)
    if streamer is not None:
        pipeline.add_sink(streamer)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    t_start = time.monotonic()
    try:
        pipeline.start()
        if args.record is not None:
            pipeline.start_recording(args.record, overwrite=args.overwrite)
        next_status = time.monotonic() + args.status_every
        while not stop.is_set():
            if args.duration is not None and time.monotonic() - t_start >= args.duration:
                break
            if pipeline.finished.wait(0.1):
                break
            for e in pipeline.events.drain():
                if e.is_error or e.kind in ("camera_back", "warning"):
                    print(f"[{e.kind}] {e.message}")
            if time.monotonic() >= next_status:
                next_status += args.status_every
                m = pipeline.metrics()
                lat = m.latency_ms.get("glass_to_skeleton", {})
                cams = " ".join(f"{n}:{c['fps']:.0f}fps/{c['dropped']}drop" for n, c in m.cameras.items())
                print(f"{time.monotonic() - t_start:6.1f}s  {m.fps:5.1f} sets/s  glass-to-skeleton "
                      f"p50 {lat.get('p50', float('nan')):6.1f} ms  spread {m.sync['spread_ms_mean']:.1f} ms  {cams}")
    finally:
        signal.signal(signal.SIGINT, previous)
        pipeline.stop()
        estimator.close()  # native resources (MediaPipe) closed now, not at interpreter exit
        if streamer is not None:
            streamer.close()
    m = pipeline.metrics()
    errors = [e for e in pipeline.events.history() if e.is_error]
    lat = m.latency_ms.get("glass_to_skeleton", {})
    print(f"processed {m.results} frame sets; glass-to-skeleton p50 {lat.get('p50', float('nan')):.1f} ms, "
          f"p95 {lat.get('p95', float('nan')):.1f} ms; errors: {len(errors)}")
    for e in errors[:10]:
        print(f"  [{e.kind}] {e.message}")
    if args.record is not None:
        print(f"recorded into {args.record}")
    if args.export is not None:
        if not collected:
            raise ValueError("nothing to export: no frame set was processed")
        sk = collected[0].pose_3d.skeleton
        if settings.filter == "butterworth":  # zero-phase over the whole take, on consecutive frame sets
            first = collected[0].frame_set.index
            points = np.full((max(r.frame_set.index for r in collected) - first + 1, sk.num_joints, 3), np.nan)
            for r in collected:
                points[r.frame_set.index - first] = r.pose_3d.raw_points
            points = smooth_take(points, pipeline.fps, settings)
        else:
            points = np.stack([r.pose_3d.points for r in collected])
        export_points(args.export, points, list(sk.joints), fps=pipeline.fps, units=rig.units, up=rig.up,
                      skeleton=sk.name)
        print(f"exported {len(points)} frames x {sk.num_joints} joints -> {args.export}")
    return 0 if m.results > 0 else 1
