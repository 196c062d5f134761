"""The demo 2D backend: PPT on the shipped demo weights, or a clearly labelled random initialisation of the same
architecture while the weights do not exist yet (so the app and ``make demo`` still run end to end)."""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from pathlib import Path

from core.estimators.ppt import PPTEstimator

log = logging.getLogger(__name__)

_DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo_multiview.toml"


def demo_model_config():
    """The demo architecture (``configs/demo_multiview.toml`` [model]), else the plain ``multiview_ppt_s`` preset."""
    from core.model import get_config

    try:
        model = tomllib.loads(_DEMO_CONFIG.read_text())["model"]
        cfg = get_config(model.get("preset", "multiview_ppt_s"))
        over = {k: tuple(v) if isinstance(v, list) else v for k, v in model.get("overrides", {}).items()}
        return dataclasses.replace(cfg, **over)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("demo model config unavailable (%s); using multiview_ppt_s", exc)
        return get_config("multiview_ppt_s")


def create_demo_estimator(weights=None, allow_random: bool = True, **options) -> PPTEstimator:
    """PPT on a self-describing weights file (default: the demo weights).

    With no file at the default location and ``allow_random``, the demo architecture is randomly initialised and
    its ``description`` says so (keypoints are meaningless, the cost is real). A given ``weights`` path that does
    not exist, is not a weights file or holds another architecture raises ``FileNotFoundError``/``ValueError``.
    Options go to :class:`PPTEstimator` (``num_threads``, ``device``, ``keep_ratio``, ``fuse``...); weights
    whose metadata says they were trained on single views only (``fusion_trained`` false) run unfused by default.
    """
    from core.inference.demo import DEMO_WEIGHTS, read_weights_file

    path = Path(weights) if weights is not None else DEMO_WEIGHTS
    if path.exists():
        config, data = read_weights_file(path)
        if "fuse" not in options and not data.get("meta", {}).get("fusion_trained", True):
            log.info("%s: trained on single views only (its fusion layers never saw several views): running "
                     "each view alone", path.name)
            options["fuse"] = False
        est = PPTEstimator(preset=config, weights=path, **options)
        est.preset = config.name
        est.description = f"demo multi-view PPT, weights {path.name} (sha256 {est.weights_hash})"
        return est
    if weights is not None or not allow_random:
        raise FileNotFoundError(f"weights file not found: {path}")
    config = demo_model_config()
    est = PPTEstimator(preset=config, weights=None, **options)
    est.preset = config.name
    est.description = (f"RANDOM INITIALISATION of the demo model (demo weights not found at {path}): "
                       "keypoints are meaningless, speed is real")
    return est
