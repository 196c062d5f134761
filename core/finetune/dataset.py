"""``[data] kind = "session-labels"``: training items from the bootstrapped labels of recorded sessions.

    train = { kind = "session-labels", sessions = ["takes/t1", "takes/t2"], split = "train", holdout = 0.3 }
    val = { kind = "session-labels", sessions = ["takes/t1", "takes/t2"], split = "held-out", holdout = 0.3 }

Each session's last ``holdout`` share of frame sets (by time, never random frames) is held out; only reliable
frame sets are used. Items are cut from the stored crops by :class:`core.train.corpus.CorpusDataset` itself (the
same crop, augmentation, target and ray code as the rendered corpus): all views of a frame set for multi-view
models (``views = 0``, fused training with the rays of the session's calibration), one view per item for
single-view models. Several sessions are concatenated; multi-view items need the same camera count in each.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import ConcatDataset

from core.finetune.labels import LabelSet
from core.train.corpus import CorpusDataset
from core.train.datasets import register_dataset

SPLITS = ("train", "held-out", "all")


class SessionLabelsDataset(ConcatDataset):
    """Corpus items of the chosen split of one label set per session.

    Attributes:
        label_sets: the :class:`LabelSet` of each session; parts: one :class:`CorpusDataset` per session;
        frames: the frame-set indices of each part (the order of its samples).
    """

    def __init__(self, sessions, image_size, heatmap_size, token_stride, *, labels: str | None = None,
                 split: str = "train", holdout: float = 0.3, views: int = 0, multiview_layout: bool = True,
                 train: bool | None = None, visible_only: bool = False, min_frames: int = 1,
                 squeeze: bool = False, rotation: float = 0.0, flip: bool = False) -> None:
        if isinstance(sessions, (str, Path)):
            sessions = [sessions]
        if not sessions:
            raise ValueError("dataset 'session-labels' needs sessions = [\"SESSION\", ...]")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split, self.holdout = split, holdout
        self.label_sets = [LabelSet(s, labels) for s in sessions]
        self.frames, parts = [], []
        augment = split == "train" if train is None else train
        for ls in self.label_sets:
            frames = ls.frames(split, holdout)
            if len(frames) < min_frames:
                raise ValueError(
                    f"session {ls.session.name}: too few reliable frames in the {split} part: {len(frames)} (need "
                    f"{min_frames}; {int(ls.arrays['reliable'].sum())} of {ls.num_frames} frame sets are reliable, "
                    f"the last {holdout:.0%} by time are held out)")
            corpus = ls.corpus(frames, visible_only=visible_only)
            n_views = 1 if views == 1 else corpus.views
            if views not in (0, 1, corpus.views):
                raise ValueError(f"session {ls.session.name} has {corpus.views} cameras; views must be 0 (all), 1 or "
                                 f"{corpus.views}, got {views}")
            parts.append(CorpusDataset(ls.folder, image_size, heatmap_size, token_stride, views=n_views,
                                       multiview_layout=multiview_layout, train=augment, squeeze=squeeze,
                                       corpus=corpus, rotation=rotation, flip=flip))
            self.frames.append(frames)
        counts = {p.views for p in parts}
        if len(counts) > 1 and views != 1:
            raise ValueError(f"multi-view items need one camera count, the sessions have "
                             f"{[len(ls.info['cameras']) for ls in self.label_sets]} cameras; train them separately "
                             "or with views = 1")
        super().__init__(parts)
        self.parts = parts


@register_dataset("session-labels")
def _build(model_config, sessions=(), labels: str = "", split: str = "train", holdout: float = 0.3, views: int = 0,
           train: bool | None = None, visible_only: bool = False, min_frames: int = 1,
           rotation: float = 0.0, flip: bool = False) -> SessionLabelsDataset:
    multiview = model_config.is_multiview
    return SessionLabelsDataset(list(sessions), model_config.image_size, model_config.heatmap_size,
                                model_config.token_stride, labels=labels or None, split=split, holdout=holdout,
                                views=views if multiview else 1, multiview_layout=multiview, train=train,
                                visible_only=visible_only, min_frames=min_frames, squeeze=not multiview,
                                rotation=rotation, flip=flip)
