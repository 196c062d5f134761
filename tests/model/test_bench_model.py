"""Smoke test of ``ppt-mocap bench model`` with tiny repeat counts (figures are not asserted: no timed tests)."""

from __future__ import annotations

import argparse

from core.bench import model as bench_model


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_model.add_arguments(parser)
    return parser.parse_args([f"--{k}={v}" for k, v in kw.items()])


def test_bench_model_smoke():
    figures = bench_model.run(_args(repeats=1, warmup=0, batch=1, views=2, threads=1))
    assert figures["estimator_multiview_end_to_end"]["frame_sets_per_s"] > 0
    single = figures["ppt_s_vs_tokenpose_s"]
    assert single["ppt_s_ms"] > 0 and single["tokenpose_s_ms"] > 0 and single["time_ratio"] > 0
    assert figures["multiview_fused_vs_unfused"]["views"] == 2
    assert figures["fusion_attention_vs_global"]["tokens_fused"] == 2 * (17 + 89)
    assert figures["fusion_attention_vs_global"]["tokens_global"] == 2 * (17 + 256)


def test_bench_model_flops():
    figures = bench_model.run(argparse.Namespace(flops=True))
    assert abs(figures["table1_gflops"]["ppt_s"] - 1.6) <= 0.05
    assert abs(figures["table4_gmacs"]["multiview_fused"] - 9.7) <= 0.1
    assert figures["params"]["ppt_l_d6"] == 20_349_216
