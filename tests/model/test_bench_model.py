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


def test_executed_macs_match_the_spec_and_bound_the_time_ratio():
    """The reference computation executes PPT_SPEC section 6's properly counted MACs (TokenPose-S 2.726G, PPT-S
    2.186G per image: ratio 0.802), and the fast path's exact shortcuts do not change which side wins."""
    import torch

    from core.model import build_model

    x = torch.randn(1, 3, 256, 192)
    ref = {n: bench_model._prepare(build_model(n).eval(), _args(impl="reference")) for n in ("tokenpose_s", "ppt_s")}
    gmacs = {n: bench_model.executed_gmacs(m, lambda m=m: m(x)) for n, m in ref.items()}
    assert abs(gmacs["tokenpose_s"] - 2.726) < 0.002 and abs(gmacs["ppt_s"] - 2.186) < 0.002
    fast = {n: bench_model._prepare(build_model(n).eval(), _args(impl="fast")) for n in ("tokenpose_s", "ppt_s")}
    fast_gmacs = {n: bench_model.executed_gmacs(m, lambda m=m: m(x.contiguous(memory_format=torch.channels_last)))
                  for n, m in fast.items()}
    assert fast_gmacs["tokenpose_s"] < gmacs["tokenpose_s"] and fast_gmacs["ppt_s"] < gmacs["ppt_s"]
    assert 0.80 < fast_gmacs["ppt_s"] / fast_gmacs["tokenpose_s"] < 0.82
    # the count leaves the attention implementation as it was
    assert all(m.use_sdpa for m in fast["ppt_s"].modules() if hasattr(m, "use_sdpa"))
