"""Keep-ratio schedules for PPT training (PPT_SPEC section 2)."""

from __future__ import annotations

import math


def keep_ratio_at(epoch: int, iteration_in_epoch: int, iterations_per_epoch: int, schedule: str = "fixed",
                  final: float = 0.7, warmup_epochs: int = 10, anneal_epochs: int = 100) -> float:
    """Keep ratio for an iteration.

    ``"fixed"``: ``final`` throughout (multi-view PPT). ``"cosine"`` (single-view PPT): 1.0 for
    ``warmup_epochs``, then per iteration ``final + (1 - final) * (cos(pi * t / T) + 1) / 2`` over
    ``anneal_epochs`` (t iterations since the warm-up, T = ``anneal_epochs * iterations_per_epoch``),
    then ``final``.
    """
    if schedule == "fixed":
        return final
    if schedule != "cosine":
        raise ValueError(f"unknown keep-ratio schedule {schedule!r}; expected 'fixed' or 'cosine'")
    if epoch < warmup_epochs:
        return 1.0
    total = max(1, anneal_epochs * iterations_per_epoch)
    t = (epoch - warmup_epochs) * iterations_per_epoch + iteration_in_epoch
    if t >= total:
        return final
    return final + (1 - final) * (math.cos(math.pi * t / total) + 1) / 2
