"""Dataset registry for training and evaluation: ``build_dataset({"kind": ..., **options}, model_config)``.

Kinds register themselves with :func:`register_dataset`; the studio's on-the-fly datasets, COCO keypoints
and the Human3.6M-style multi-view reader live in their own modules and are imported lazily here, so a
config names a kind without the trainer knowing every dataset.
"""

from __future__ import annotations

import importlib
from typing import Callable

from torch.utils.data import Dataset

_BUILDERS: dict[str, Callable[..., Dataset]] = {}
#: kind -> module that registers it when imported.
_LAZY = {
    "studio-single": "core.train.studio_crops",
    "studio-multi": "core.train.studio_crops",
    "coco": "core.train.coco",
    "h36m-multi": "core.train.h36m",
    "corpus": "core.train.corpus",
    "session-labels": "core.finetune.dataset",
}


def register_dataset(kind: str):
    """Decorator: ``@register_dataset("coco")`` on a builder ``fn(model_config, **options) -> Dataset``."""

    def wrap(fn):
        _BUILDERS[kind] = fn
        return fn

    return wrap


def dataset_kinds() -> list[str]:
    return sorted(set(_BUILDERS) | set(_LAZY))


def build_dataset(spec: dict, model_config) -> Dataset:
    """Build the dataset a config table describes (``kind`` plus that kind's options)."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind is None:
        raise ValueError(f"dataset spec {spec} has no 'kind'; known kinds: {dataset_kinds()}")
    if kind not in _BUILDERS and kind in _LAZY:
        importlib.import_module(_LAZY[kind])
    if kind not in _BUILDERS:
        raise ValueError(f"unknown dataset kind {kind!r}; known kinds: {dataset_kinds()}")
    try:
        return _BUILDERS[kind](model_config, **spec)
    except TypeError as exc:
        raise ValueError(f"dataset {kind!r}: bad options {sorted(spec)} ({exc})") from exc
