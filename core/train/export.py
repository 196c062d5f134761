"""Export a training checkpoint to a small self-describing weights file (``state_dict`` + ``model_config``).

``export_weights("runs/demo_multiview/best.pth", "assets/weights/multiview_ppt_demo.pth")`` keeps the model
tensors only (no optimizer state), in float16 by default (BatchNorm counters stay integers), and a ``meta``
dict (epoch, metrics, the training lineage with ``crops_seen`` and ``minutes_trained`` summed over every run the
weights descend from, anything passed in). Load with :func:`core.inference.weights.load_weights`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.model.checkpoints import load_torch_file


def export_weights(checkpoint, out, half: bool = True, meta: dict | None = None) -> Path:
    """Write ``out`` from a trainer checkpoint (``last.pth`` / ``best.pth``); returns the path."""
    checkpoint, out = Path(checkpoint), Path(out)
    if not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    state = load_torch_file(checkpoint, "a trainer checkpoint (runs/<run>/last.pth or best.pth)")
    if not isinstance(state, dict) or "state_dict" not in state or "model_config" not in state:
        raise ValueError(f"{checkpoint}: expected a trainer checkpoint with 'state_dict' and 'model_config'")
    sd = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in state["state_dict"].items()}
    lineage = list(state.get("lineage", []))
    info = {"epoch": int(state.get("epoch", 0)), "metrics": dict(state.get("metrics", {})),
            "dtype": "float16" if half else "float32", "lineage": lineage,
            "crops_seen": int(sum(step.get("crops", 0) for step in lineage)),
            "minutes_trained": round(float(sum(step.get("minutes", 0.0) for step in lineage)), 1),
            # Weights whose lineage never trained fused views (single-view stage) should run unfused.
            "fusion_trained": bool(not lineage or any(step.get("fused_crops", 1) > 0 for step in lineage)),
            **(meta or {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save({"state_dict": sd, "model_config": dict(state["model_config"]), "meta": info}, tmp)
    os.replace(tmp, out)
    return out
