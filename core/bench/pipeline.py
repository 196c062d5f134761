"""``ppt-mocap bench pipeline``: the live pipeline against the model alone, measured side by side in one run.

Four virtual-studio cameras at 640x480 and 30 fps feed the whole pipeline (capture threads, sync, batched
multi-view PPT, robust triangulation, One-Euro filter). The studio frames are rendered once up front and then
played by the camera threads in real time, so the cameras cost the CPU what real ones do (decoding only), not the
renderer's work. The model-only figure runs the same estimator (crops + one batched forward over the 4 views +
decoding) in a tight loop on one frame set; runs alternate (model, pipeline, model, ...) and medians are reported.

Figures: frame sets per second of both, their ratio (target >= 0.9), the pipeline's latency per stage
(glass-to-skeleton = camera capture stamp to filtered 3D), and the person-localisation stage's ms per frame set
while tracking beside the model's (preprocess + forward + decode) in the same results (target < 5 %), with the
frame sets it spent searching. The model is the demo backend (the shipped demo weights; a labelled random
initialisation of the same architecture where they are missing, at the same cost).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

NAME = "pipeline"
HELP = "live pipeline (4 studio cameras, 640x480) vs the model alone: sets/s, ratio, glass-to-skeleton latency"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="demo", help="'demo' (the demo model: its weights when shipped, else "
                        "its architecture randomly initialised) or a preset name (multiview_ppt_s, ...)")
    parser.add_argument("--weights", type=Path, default=None, help="weights file for a preset (default random init)")
    parser.add_argument("--cameras", type=int, default=4, choices=(2, 4, 8), help="studio cameras (ring preset)")
    parser.add_argument("--fps", type=float, default=30.0, help="camera frame rate")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each timed run")
    parser.add_argument("--rounds", type=int, default=3, help="alternated model/pipeline rounds")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads (same for both; 1 is best "
                        "beside capture threads on 2 cores)")
    parser.add_argument("--frames", type=int, default=30, help="studio frame sets rendered up front and looped")


def make_estimator(preset: str, weights: Path | None, threads: int):
    """The demo model (``preset="demo"``) or a preset with optional weights."""
    if preset == "demo":
        from core.estimators.ppt import create_demo_estimator

        return create_demo_estimator(weights, num_threads=threads)
    from core.estimators.ppt import PPTEstimator

    return PPTEstimator(preset, weights=weights, num_threads=threads)


def prerendered_sources(preset: str, fps: float, frames: int, seed: int = 0):
    """(sources looping pre-rendered studio frames, rig, the rendered frame sets)."""
    from core.capture.sources import SyntheticSource
    from core.studio.sources import make_virtual_rig

    vrig = make_virtual_rig(preset, size=(640, 480), fps=fps, seed=seed, realtime=False)
    sets = [vrig.read_set(k)[0] for k in range(frames)]
    rig = vrig.studio.rig
    sources = [SyntheticSource(name, fps=fps, images=[fs.frames[name].image for fs in sets if name in fs.frames])
               for name in rig.names]
    return sources, rig, sets


def model_only(estimator, frame_set, rig, seconds: float, boxes=None) -> dict:
    """Sets per second of ``estimator.estimate`` alone on one frame set (after one warm-up call), called from a
    worker thread like the pipeline's processing thread (PyTorch's CPU thread pools behave differently on the main
    thread, so comparing across threads would not be like for like). A top-down estimator gets ``boxes``."""
    import threading

    times: list[float] = []
    extra = {"boxes": boxes} if getattr(estimator, "top_down", False) else {}

    def work():
        estimator.estimate(frame_set, rig, **extra)
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end or len(times) < 3:
            t0 = time.perf_counter()
            estimator.estimate(frame_set, rig, **extra)
            times.append(time.perf_counter() - t0)

    t = threading.Thread(target=work, name="model-only")
    t.start()
    t.join()
    return {"sets_per_s": len(times) / float(np.sum(times)), "calls": len(times),
            "median_ms": 1e3 * float(np.median(times))}


def pipeline_run(sources, rig, estimator, seconds: float, warmup: float = 3.0) -> dict:
    """Run the live pipeline; sets/s over the timed window after ``warmup`` and latency statistics."""
    from core.pipeline import Pipeline
    from core.processing import PipelineSettings

    pipeline = Pipeline(sources, rig, estimator, PipelineSettings(filter="one-euro"))
    done: list[int] = []
    stage: list[tuple[float, float, bool]] = []  # (locate ms, model forward ms, searching) per result

    def sink(r) -> None:
        done.append(time.perf_counter_ns())
        t = r.poses_2d.timings
        if "locate" in t:
            stage.append((t["locate"], t.get("preprocess", 0.0) + t.get("forward", 0.0) + t.get("decode", 0.0),
                          "detect" in t))

    pipeline.add_sink(sink)
    with pipeline:
        time.sleep(warmup)
        n0, t0 = len(done), time.perf_counter_ns()
        time.sleep(seconds)
        n1, t1 = len(done), time.perf_counter_ns()
        metrics = pipeline.metrics()
    hist = pipeline.latency_history()
    n = min(len(hist.get("glass_to_skeleton", [])), max(n1 - n0, 1))
    lat = {k: {"p50": float(np.median(v[-n:])), "p95": float(np.percentile(v[-n:], 95))}
           for k, v in hist.items() if k != "t"}
    errors = [e.message for e in pipeline.events.history() if e.is_error]
    track = [(a, b) for a, b, searching in stage[len(stage) // 5:] if not searching]  # after the warm-up fifth
    locate = {"tracking_ms_p50": float(np.median([a for a, _ in track])) if track else float("nan"),
              "model_ms_p50": float(np.median([b for _, b in track])) if track else float("nan"),
              "searching_sets": int(sum(1 for *_, searching in stage if searching)),
              "searching_ms_mean": float(np.mean([a for a, _, s in stage if s])) if any(s for *_, s in stage)
              else float("nan")}
    return {"sets_per_s": (n1 - n0) / ((t1 - t0) / 1e9), "results": metrics.results, "latency_ms": lat,
            "locate": locate,
            "camera_fps": {c: v["fps"] for c, v in metrics.cameras.items()},
            "skipped_sets": metrics.skipped_sets, "errors": errors}


def run(args: argparse.Namespace) -> dict:
    import platform

    import torch

    preset = {2: "stereo2", 4: "ring4", 8: "ring8"}[args.cameras]
    sources, rig, sets = prerendered_sources(preset, args.fps, args.frames)
    estimator = make_estimator(args.preset, args.weights, args.torch_threads)
    model_rates, pipe_runs = [], []
    boxes = None
    if getattr(estimator, "top_down", False):  # the model alone gets the person's boxes, found once
        from core.locate import PersonLocator

        locator = PersonLocator(rig, "mog2,mediapipe" if _has_mediapipe() else "mog2")
        for fs in sets:
            boxes = locator.locate(fs).boxes
        locator.close()
    for _ in range(args.rounds):
        model_rates.append(model_only(estimator, sets[-1], rig, seconds=args.seconds, boxes=boxes)["sets_per_s"])
        sources, rig, _ = prerendered_sources(preset, args.fps, args.frames)
        pipe_runs.append(pipeline_run(sources, rig, estimator, args.seconds))
    model = float(np.median(model_rates))
    pipe = float(np.median([r["sets_per_s"] for r in pipe_runs]))
    last = pipe_runs[-1]
    return {
        "cameras": args.cameras, "image": "640x480", "camera_fps": args.fps, "model": estimator.preset,
        "weights": estimator.description,
        "torch_threads": torch.get_num_threads(), "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "model_only_sets_per_s": model, "pipeline_sets_per_s": pipe,
        "pipeline_over_model": pipe / model if model else float("nan"),
        "pipeline_over_model_per_round": [r["sets_per_s"] / m for r, m in zip(pipe_runs, model_rates)],
        "model_only_runs": model_rates, "pipeline_runs": [r["sets_per_s"] for r in pipe_runs],
        "glass_to_skeleton_ms_p50": last["latency_ms"]["glass_to_skeleton"]["p50"],
        "glass_to_skeleton_ms_p95": last["latency_ms"]["glass_to_skeleton"]["p95"],
        "stage_ms_p50": {k: v["p50"] for k, v in last["latency_ms"].items()},
        "skipped_sets_latest_wins": last["skipped_sets"], "errors": last["errors"],
        "locate_tracking_ms_p50": last["locate"]["tracking_ms_p50"],
        "model_ms_p50_in_pipeline": last["locate"]["model_ms_p50"],
        "locate_over_model": last["locate"]["tracking_ms_p50"] / last["locate"]["model_ms_p50"]
        if last["locate"]["model_ms_p50"] else float("nan"),
        "locate_searching_sets": last["locate"]["searching_sets"],
        "locate_searching_ms_mean": last["locate"]["searching_ms_mean"],
    }


def _has_mediapipe() -> bool:
    from core.locate.detectors import mediapipe_available

    return mediapipe_available()[0]
