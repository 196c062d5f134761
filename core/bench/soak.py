"""``ppt-mocap bench soak``: run the live pipeline on the virtual studio for minutes and watch for leaks.

Four studio cameras (rendered live, 640x480) feed the pipeline with a 2D backend (PPT, random init unless weights
are given, or the studio's exact 2D), OSC streaming to a loopback receiver, and optionally recording. Halfway
through, one camera is switched off for ``--outage`` seconds and switched back on. Every few seconds the process's
resident memory, the synchroniser's buffered frames and the recorder's queue are sampled.

Pass criteria (reported as ``ok_*``): memory growth after warm-up (median of the last quarter of the samples minus
median of the first quarter) within ``--max-growth-mb`` (50), bounded queues,
no error events other than the deliberate camera loss, the lost camera reported and back, and results still
arriving from the other cameras during the outage.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NAME = "soak"
HELP = "long live run on the studio rig: memory, queues, errors, a camera lost and back"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0, help="run length in minutes (default 10)")
    parser.add_argument("--seconds", type=float, default=None, help="run length in seconds (overrides --minutes)")
    parser.add_argument("--backend", choices=("ppt", "studio-truth"), default="ppt",
                        help="ppt: the demo model on the shipped demo weights; studio-truth: exact 2D")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--fps", type=float, default=15.0, help="studio frame rate (rendering is the CPU's work)")
    parser.add_argument("--outage", type=float, default=None, help="seconds camera 2 is off (default 10%% of the run)")
    parser.add_argument("--record", type=Path, default=None, help="also record into this (new) session folder")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--recording-only", action="store_true",
                        help="instead: record 4 cameras (pre-rendered studio frames, 640x480 at --fps) for the run "
                        "length with a no-op 2D backend and count frames lost to the writer")


def rss_mb() -> float:
    """Resident memory of this process (MB)."""
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float("nan")


def recording_run(seconds: float, fps: float, folder: Path | None = None, cameras: int = 4) -> dict:
    """Record ``cameras`` x 640x480 at ``fps`` for ``seconds`` through the pipeline; frames in vs frames written."""
    import shutil
    import tempfile

    from core.bench.pipeline import prerendered_sources
    from core.estimators.base import Estimator
    from core.geometry import get_skeleton
    from core.pipeline import Pipeline
    from core.processing import PipelineSettings
    from core.records import Poses2D

    class NullEstimator(Estimator):
        name = "none"
        skeleton = get_skeleton("coco17")

        def estimate(self, frame_set, rig):
            return Poses2D.empty(rig.names, self.skeleton, frame_set.index)

    preset = {2: "stereo2", 4: "ring4", 8: "ring8"}[cameras]
    sources, rig, _ = prerendered_sources(preset, fps, frames=10)
    tmp = None
    if folder is None:
        tmp = tempfile.mkdtemp(prefix="ppt-rec-")
        folder = Path(tmp) / "session"
    pipeline = Pipeline(sources, rig, NullEstimator(), PipelineSettings(filter=None))
    try:
        with pipeline:
            recorder = pipeline.start_recording(folder)
            time.sleep(seconds)
            captured = {n: c["frames"] for n, c in pipeline.capture_stats().items()}
            pipeline.stop_recording()
        stats = recorder.stats()
        size_mb = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    expected = cameras * fps * seconds
    return {"cameras": cameras, "fps": fps, "seconds": seconds, "frames_expected": expected,
            "frames_captured": int(sum(captured.values())), "frames_received_by_recorder": stats["frames_received"],
            "frames_written": stats["frames_written"], "frames_dropped_by_writer": stats["frames_dropped_by_writer"],
            "frames_not_grouped": stats["frames_not_grouped"], "sets_written": stats["sets_written"],
            "session_mb": size_mb, "error": stats["error"],
            "ok_no_frame_lost_to_writer": stats["frames_dropped_by_writer"] == 0
            and stats["frames_written"] == stats["frames_received"]}


def run(args: argparse.Namespace) -> dict:
    if args.recording_only:
        duration = args.seconds if args.seconds is not None else args.minutes * 60.0
        return recording_run(duration, args.fps, args.record)
    from core.estimators.studio_truth import StudioTruthEstimator
    from core.pipeline import Pipeline
    from core.processing import PipelineSettings
    from core.streaming.osc import OSCStreamer
    from core.studio.sources import make_virtual_rig, studio_sources

    duration = args.seconds if args.seconds is not None else args.minutes * 60.0
    outage = args.outage if args.outage is not None else max(3.0, 0.1 * duration)
    vrig = make_virtual_rig("ring4", size=(640, 480), fps=args.fps, seed=0, motion="mix")
    sources = studio_sources(vrig)
    if args.backend == "ppt":
        from core.bench.pipeline import make_estimator

        estimator = make_estimator("demo", args.weights, args.torch_threads)
    else:
        estimator = StudioTruthEstimator(vrig)
    pipeline = Pipeline(sources, vrig.studio.rig, estimator, PipelineSettings(filter="one-euro"))
    for cap in pipeline._captures.values():
        cap.lost_after_s = 2.0
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    received = [0]
    stop_rx = threading.Event()

    def receive():
        while not stop_rx.is_set():
            try:
                rx.recv(65536)
                received[0] += 1
            except socket.timeout:
                continue
            except OSError:
                return

    rx_thread = threading.Thread(target=receive, daemon=True)
    rx_thread.start()
    streamer = OSCStreamer("127.0.0.1", rx.getsockname()[1])
    pipeline.add_sink(streamer)
    samples = []
    during_outage = []
    t_off = duration / 2
    t_on = t_off + outage
    switched_off = switched_on = False
    pipeline.start()
    if args.record is not None:
        pipeline.start_recording(args.record)
    t0 = time.monotonic()
    next_sample = 0.0
    try:
        while True:
            t = time.monotonic() - t0
            if t >= duration:
                break
            if not switched_off and t >= t_off:
                sources[1].set_available(False)
                switched_off = True
                n_off = pipeline.metrics().results
            if switched_off and not switched_on and t >= t_on:
                during_outage.append(pipeline.metrics().results - n_off)
                sources[1].set_available(True)
                switched_on = True
            if t >= next_sample:
                next_sample += args.sample_every
                m = pipeline.metrics()
                rec = m.recording or {}
                samples.append({"t": round(t, 1), "rss_mb": rss_mb(), "results": m.results,
                                "sync_pending": pipeline._sync.pending, "recorder_queue": rec.get("queued", 0),
                                "fps": m.fps})
            time.sleep(0.2)
        final = pipeline.metrics()
    finally:
        pipeline.stop()
        stop_rx.set()
        streamer.close()
        rx.close()
    events = pipeline.events.history()
    errors = [e.message for e in events if e.kind == "error" or e.kind == "camera_error"]
    lost = [e for e in events if e.kind == "camera_lost"]
    back = [e for e in events if e.kind == "camera_back"]
    warm = [s for s in samples if s["t"] >= min(60.0, duration / 4)]
    rss = np.array([s["rss_mb"] for s in warm]) if warm else np.array([np.nan])
    # Growth = level at the end minus level after warm-up (medians of the last and first quarter of the samples),
    # robust to the allocator's ups and downs; the peak-to-peak range is reported beside it.
    q = max(1, len(rss) // 4)
    growth = float(np.median(rss[-q:]) - np.median(rss[:q]))
    slope = float(np.polyfit([s["t"] for s in warm], rss, 1)[0] * 60) if len(warm) > 2 else float("nan")
    max_pending = max((s["sync_pending"] for s in samples), default=0)
    max_queue = max((s["recorder_queue"] for s in samples), default=0)
    lat = final.latency_ms.get("glass_to_skeleton", {})
    rec_stats = final.recording or {}
    return {
        "seconds": duration, "backend": args.backend, "estimator": estimator.description or estimator.name, "studio_fps": args.fps, "results": final.results,
        "sets_per_s": final.results / duration, "osc_packets_received": received[0],
        "rss_mb_after_warmup": float(rss[0]), "rss_mb_end": float(rss[-1]), "rss_growth_mb": growth,
        "rss_range_mb": float(np.nanmax(rss) - np.nanmin(rss)),
        "rss_slope_mb_per_min": slope, "max_sync_pending_frames": max_pending, "max_recorder_queue": max_queue,
        "errors": errors, "camera_lost_events": len(lost), "camera_back_events": len(back),
        "results_during_outage": during_outage[0] if during_outage else 0,
        "glass_to_skeleton_ms_p50": lat.get("p50", float("nan")),
        "recorded_frames_dropped_by_writer": rec_stats.get("frames_dropped_by_writer"),
        "ok_memory": bool(growth <= args.max_growth_mb), "ok_queues": bool(max_pending <= 4 * 8 and max_queue < 1000),
        "ok_errors": not errors, "ok_camera_back": bool(lost) and bool(back),
        "ok_others_kept_running": bool(during_outage and during_outage[0] > 0),
        "samples": samples,
    }
