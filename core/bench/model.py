"""``ppt-mocap bench model``: PPT speed against TokenPose and multi-view fusion cost; ``--flops``: paper complexity.

Timing protocol: both models of a pair live in one process with the same weights and the same inference path
(``optimize_for_inference``: BatchNorm folded, channels_last, SDPA; or ``--impl reference``: eager, explicit
softmax); after warm-up they run alternately in a random order per iteration; figures are medians and the median
of the per-iteration ratios. ``--flops`` counts instead of timing (deterministic): Table 1 with the
``get_model_summary`` rule (GFLOPs, / 1024^3) and Table 4 MACs (conv + linear + attention matmuls, / 2^30).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable

import torch

from core.model import build_model, get_config
from core.model.complexity import count_macs, summary_gflops

NAME = "model"
HELP = "PPT-S vs TokenPose-S speed, multi-view fusion cost, images/s; --flops: paper Table 1 / Table 4 complexity"

PAPER_TABLE1 = {"tokenpose_s": 2.2, "ppt_s": 1.6, "tokenpose_b": 5.7, "ppt_b": 5.0}
PAPER_TABLE4 = {"single_view_x4": 9.6, "multiview_fused": 9.7}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flops", action="store_true",
                        help="count complexity (paper Tables 1 and 4) instead of timing")
    parser.add_argument("--repeats", type=int, default=20, help="timed iterations per pair (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations per model (default 3)")
    parser.add_argument("--batch", type=int, default=4, help="batch of the PPT-S / TokenPose-S pair (default 4)")
    parser.add_argument("--views", type=int, default=4, help="views of the multi-view pair (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--impl", choices=("fast", "reference"), default="fast",
                        help="fast: folded BN, channels_last, SDPA, exact shortcuts; "
                        "reference: eager, explicit softmax")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time; cpu: process CPU time (robust to other jobs with --threads 1)")
    parser.add_argument("--compile", choices=("none", "backbone", "all"), default="none",
                        help="torch.compile the CNN only or the whole model (with freezing; slow to start)")


def _clock(args: argparse.Namespace) -> Callable[[], float]:
    return time.process_time if getattr(args, "clock", "wall") == "cpu" else time.perf_counter


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _prepare(model: torch.nn.Module, args: argparse.Namespace) -> torch.nn.Module:
    from core.inference.optimize import optimize_for_inference, set_attention_impl

    if args.impl == "fast":
        model = optimize_for_inference(model)
    else:
        model = model.eval()
        set_attention_impl(model, sdpa=False)
    from core.inference.optimize import compile_model

    return compile_model(model, getattr(args, "compile", "none"))


def time_pair(run_a: Callable[[], object], run_b: Callable[[], object], repeats: int, warmup: int,
              seed: int = 0, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Alternate ``run_a`` / ``run_b`` (random order per iteration); medians in ms and the paired ratio b/a."""
    rng = random.Random(seed)
    times: dict[str, list[float]] = {"a": [], "b": []}
    with torch.inference_mode():
        for _ in range(warmup):
            run_a()
            run_b()
        for _ in range(repeats):
            order = [("a", run_a), ("b", run_b)]
            rng.shuffle(order)
            for key, fn in order:
                t = clock()
                fn()
                times[key].append(clock() - t)
    a, b = statistics.median(times["a"]), statistics.median(times["b"])
    paired = statistics.median(tb / ta for ta, tb in zip(times["a"], times["b"]))
    return {"a_ms": a * 1e3, "b_ms": b * 1e3, "ratio_of_medians": b / a, "median_paired_ratio": paired}


def executed_gmacs(model: torch.nn.Module, run: Callable[[], object]) -> float:
    """Multiply-accumulates (1e9) of the computation ``run()`` executes on ``model`` as prepared (exact shortcuts
    included), counted per aten op by ``torch.utils.flop_counter``; attention runs as explicit matmuls during the
    count because the counter does not see CPU fused attention (the MACs are the same)."""
    from torch.utils.flop_counter import FlopCounterMode

    from core.inference.optimize import set_attention_impl

    sdpa = [m.use_sdpa for m in model.modules() if hasattr(m, "use_sdpa")]
    set_attention_impl(model, sdpa=False)
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            run()
    finally:
        for m, flag in zip((m for m in model.modules() if hasattr(m, "use_sdpa")), sdpa):
            m.use_sdpa = flag
    return counter.get_total_flops() / 2 / 1e9


def flops_figures() -> dict:
    """Deterministic complexity figures (Table 1 GFLOPs, Table 4 MACs, parameter counts)."""
    table1 = {}
    params = {}
    for name in ("tokenpose_s", "ppt_s", "tokenpose_b", "ppt_b", "ppt_l_d6", "tokenpose_l_d6"):
        model = build_model(name, init=False).eval()
        x = torch.zeros(1, 3, *get_config(name).image_size)
        table1[name] = round(summary_gflops(model, lambda: model(x)), 3)
        params[name] = sum(p.numel() for p in model.parameters())
    mv = build_model("multiview_ppt_s", init=False).eval()
    params["multiview_ppt_s"] = sum(p.numel() for p in mv.parameters())
    images = torch.zeros(1, 4, 3, 256, 256)
    rays = torch.nn.functional.normalize(torch.ones(1, 4, 256, 3), dim=-1)
    table4 = {
        "single_view_x4": count_macs(mv, lambda: mv(images, rays, fuse=False)).total / 2**30,
        "multiview_fused": count_macs(mv, lambda: mv(images, rays, fuse=True)).total / 2**30,
        "no_pruning_x4": count_macs(mv, lambda: mv(images, rays, fuse=False, keep_ratio=1.0)).total / 2**30,
    }
    return {
        "table1_gflops": table1,
        "table1_paper": PAPER_TABLE1,
        "table1_ratio_ppt_s_to_tokenpose_s": table1["ppt_s"] / table1["tokenpose_s"],
        "table4_gmacs": {k: round(v, 3) for k, v in table4.items()},
        "table4_paper": PAPER_TABLE4,
        "params": params,
    }


def _fusion_attention(args: argparse.Namespace) -> dict:
    """Attention of the two fusion layers over the kept tokens vs global fusion over all V x (17 + 256) tokens."""
    from core.inference.optimize import set_attention_impl

    cfg = get_config("multiview_ppt_s")
    mv = build_model(cfg).eval()
    set_attention_impl(mv, sdpa=args.impl == "fast")
    layers = list(mv.features.transformer.layers)[cfg.depth - cfg.fusion_layers:]
    v, j = args.views, cfg.num_keypoints
    kept = 89  # 256 -> 180 -> 126 -> 89 at r = 0.7
    ours = torch.randn(1, v * (j + kept), cfg.dim)
    full = torch.randn(1, v * (j + cfg.num_patches), cfg.dim)

    def attend(x):
        return lambda: [layer.attention(x) for layer in layers]

    res = time_pair(attend(full), attend(ours), args.repeats, args.warmup, seed=2, clock=_clock(args))
    macs = lambda n: len(layers) * (4 * n * cfg.dim**2 + 2 * n * n * cfg.dim)  # qkv + out proj + 2 matmuls
    return {
        "tokens_fused": ours.shape[1],
        "tokens_global": full.shape[1],
        "global_ms": res["a_ms"],
        "fused_ms": res["b_ms"],
        "speedup": res["a_ms"] / res["b_ms"],
        "mac_ratio": macs(full.shape[1]) / macs(ours.shape[1]),
    }


def _estimator_figures(args: argparse.Namespace) -> dict:
    """End to end (crops, rays, forward, decoding) for V views of 1000x1000 with cameras: frame sets per second."""
    import numpy as np

    from core.inference import PoseModelRunner

    est = PoseModelRunner(build_model("multiview_ppt_s").eval(), "cpu", optimize=args.impl == "fast",
                          compile=getattr(args, "compile", "none"))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (1000, 1000, 3), dtype=np.uint8) for _ in range(args.views)]
    K = np.array([[1145.0, 0, 500], [0, 1145, 500], [0, 0, 1]])
    cameras = [(K, np.eye(3), np.zeros(3))] * args.views
    boxes = np.array([[300, 200, 400, 600]] * args.views, dtype=float)
    for _ in range(args.warmup):
        est.estimate(images, boxes, cameras)
    clock = _clock(args)
    totals = []
    for _ in range(max(3, args.repeats // 4)):
        t = clock()
        est.estimate(images, boxes, cameras)
        totals.append((clock() - t) * 1e3)
    total = statistics.median(totals)
    return {"views": args.views, "total_ms": total, "frame_sets_per_s": 1e3 / total}


def run(args: argparse.Namespace) -> dict:
    if args.flops:
        return flops_figures()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tp = build_model("tokenpose_s").eval()
    pp = build_model("ppt_s").eval()
    pp.load_state_dict(tp.state_dict())
    fast_tp, fast_pp = _prepare(tp, args), _prepare(pp, args)
    x = torch.randn(args.batch, 3, 256, 192)
    if args.impl == "fast":
        x = x.contiguous(memory_format=torch.channels_last)
    single = time_pair(lambda: fast_tp(x), lambda: fast_pp(x), args.repeats, args.warmup, seed=0,
                       clock=_clock(args))
    count_tp, count_pp = fast_tp, fast_pp
    if getattr(args, "compile", "none") != "none":  # the counter needs eager modules
        eager = argparse.Namespace(**{**vars(args), "compile": "none"})
        count_tp, count_pp = _prepare(tp, eager), _prepare(pp, eager)
    macs_tp = executed_gmacs(count_tp, lambda: count_tp(x)) / args.batch
    macs_pp = executed_gmacs(count_pp, lambda: count_pp(x)) / args.batch

    mv = _prepare(build_model("multiview_ppt_s").eval(), args)
    images = torch.randn(1, args.views, 3, 256, 256)
    if args.impl == "fast":
        images = images.flatten(0, 1).contiguous(memory_format=torch.channels_last)[None]
    rays = torch.nn.functional.normalize(torch.randn(1, args.views, 256, 3), dim=-1)
    multi = time_pair(lambda: mv(images, rays, fuse=False), lambda: mv(images, rays, fuse=True),
                      args.repeats, args.warmup, seed=1, clock=_clock(args))

    return {
        "machine": {"cpu": _cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__,
                    "impl": args.impl, "compile": getattr(args, "compile", "none"),
                    "clock": getattr(args, "clock", "wall"),
                    "repeats": args.repeats},
        "ppt_s_vs_tokenpose_s": {
            "batch": args.batch,
            "tokenpose_s_ms": single["a_ms"],
            "ppt_s_ms": single["b_ms"],
            "time_ratio": single["ratio_of_medians"],
            "median_paired_ratio": single["median_paired_ratio"],
            "ppt_s_images_per_s": args.batch / single["b_ms"] * 1e3,
            "tokenpose_s_images_per_s": args.batch / single["a_ms"] * 1e3,
            # The time ratio cannot go below the MAC ratio unless PPT's smaller, pruned GEMMs ran faster per MAC
            # than TokenPose's: these are the MACs the timed runs executed.
            "tokenpose_s_executed_gmacs_per_image": macs_tp,
            "ppt_s_executed_gmacs_per_image": macs_pp,
            "executed_mac_ratio": macs_pp / macs_tp,
            "time_ratio_over_mac_ratio": single["ratio_of_medians"] / (macs_pp / macs_tp),
        },
        "multiview_fused_vs_unfused": {
            "views": args.views,
            "unfused_ms": multi["a_ms"],
            "fused_ms": multi["b_ms"],
            "time_ratio": multi["ratio_of_medians"],
            "median_paired_ratio": multi["median_paired_ratio"],
            "fused_frame_sets_per_s": 1e3 / multi["b_ms"],
            "fused_images_per_s": args.views * 1e3 / multi["b_ms"],
        },
        "fusion_attention_vs_global": _fusion_attention(args),
        "estimator_multiview_end_to_end": _estimator_figures(args),
    }
