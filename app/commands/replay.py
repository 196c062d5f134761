"""``ppt-mocap replay SESSION``: summarise a recorded session, or re-process it with other settings.

    ppt-mocap replay takes/t1                                  # cameras, frames, sync, result sets
    ppt-mocap replay takes/t1 --reprocess --backend recorded --filter none --outliers ransac --name ransac
    ppt-mocap replay takes/t1 --reprocess --backend ppt --weights w.pt --name ppt_w
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _offsets(values: list[str]) -> dict[str, float]:
    out = {}
    for v in values:
        cam, sep, ms = v.partition("=")
        try:
            out[cam] = float(ms)
        except ValueError:
            raise ValueError(f"--offset {v!r}: expected CAMERA=MILLISECONDS, e.g. cam_02=12.5") from None
        if not sep or not cam:
            raise ValueError(f"--offset {v!r}: expected CAMERA=MILLISECONDS")
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help="summarise or re-process a recorded session",
                              description="Replay a session folder: list what it holds, or run its frame sets "
                              "through a 2D backend, triangulation and filter into a new result set.")
    p.add_argument("session", type=Path, help="session folder")
    p.add_argument("--offset", action="append", default=[], metavar="CAM=MS",
                   help="per-camera clock offset (ms, subtracted from its stamps) for regrouping")
    p.add_argument("--reprocess", action="store_true", help="re-process into results/<--name>/")
    p.add_argument("--name", default="reprocessed", help="result set name for --reprocess")
    p.add_argument("--overwrite", action="store_true", help="replace an existing result set of that name")
    p.add_argument("--backend", default="recorded",
                   help="recorded (the 2D of --from, default), demo (the shipped demo weights), ppt (--weights: ours "
                   "or an official checkpoint of --preset), mediapipe or openpose-json (--keypoints)")
    p.add_argument("--from", dest="from_result", default=None, help="result set whose 2D 'recorded' re-uses")
    p.add_argument("--preset", default="multiview_ppt_s")
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--keypoints", type=Path, default=None, help="openpose-json folder")
    p.add_argument("--detectors", default="auto", help="person detectors of the top-down (ppt/demo) backend: auto (MOG2 background subtraction, plus mediapipe's person detector when installed), mog2, knn, mediapipe or a comma-separated list")
    p.add_argument("--outliers", choices=("none", "worst-view", "ransac"), default="worst-view")
    p.add_argument("--min-confidence", type=float, default=0.3)
    p.add_argument("--filter", choices=("auto", "butterworth", "one-euro", "none"), default="auto",
                   help="auto (default) = butterworth: zero-phase low-pass over the whole take (order 4, 6 Hz); "
                   "one-euro: the live causal filter")
    p.add_argument("--butterworth", type=float, default=None, metavar="HZ",
                   help="zero-phase low-pass cutoff (default 6 Hz; applied whatever --filter says when given)")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--stop", type=int, default=None)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.processing import reprocess_session
    from core.run_spec import RunSpec
    from core.session.replay import Session

    session = Session(args.session, offsets_ms=_offsets(args.offset) or None)
    if not args.reprocess:
        ts = session.reader.timestamps
        rec = session.manifest.settings.get("recording", {})
        summary = {"session": str(session.path), "cameras": session.cameras, "fps": session.fps,
                   "frame_sets": len(session), "complete": session.manifest.complete,
                   "frames_dropped": int(ts["dropped"].sum()), "source": session.manifest.source,
                   "results": {n: len(session.results(n)) for n in session.result_names()},
                   "frames_dropped_by_writer": rec.get("frames_dropped_by_writer"),
                   "sync": rec.get("pipeline_sync", {})}
        if args.json:
            print(json.dumps(summary, default=float))
        else:
            for k, v in summary.items():
                print(f"{k:<26} {v}")
        return 0
    spec = RunSpec(offline=True, backend=args.backend, preset=args.preset, weights=args.weights,
                   keypoints=args.keypoints, recorded=args.from_result, torch_threads=args.torch_threads,
                   detectors=args.detectors, min_confidence=args.min_confidence, outliers=args.outliers,
                   filter=args.filter)
    estimator = spec.build_backend(session.rig, session=session)  # replay is offline: every frame on its own
    settings = spec.pipeline_settings("offline")
    res = reprocess_session(session, estimator, settings, name=args.name, overwrite=args.overwrite, start=args.start,
                            stop=args.stop, smoothing_hz=args.butterworth)
    pts = res.arrays.get("points_3d")
    valid = np.isfinite(pts).all(axis=-1).mean() if pts is not None and pts.size else 0.0
    print(f"re-processed {len(res)} frame sets with {estimator.name} -> {session.path / 'results' / args.name} "
          f"(joints reconstructed: {valid:.1%})")
    return 0
