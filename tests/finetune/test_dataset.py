"""The session-labels dataset kind: split by time, items cut by the corpus dataset, labels round trip."""

import numpy as np
import pytest

from core.finetune.labels import LabelSettings, make_labels
from core.model import get_config
from core.train.corpus import CorpusDataset
from core.train.datasets import build_dataset, dataset_kinds
from tests.finetune.conftest import FRAMES, tiny_config


@pytest.fixture
def labelled(take):
    make_labels(take, teacher="recorded", result="teacher", settings=LabelSettings(min_frames=5))
    return take


def test_multiview_items_split_by_time_and_cut_by_the_corpus_dataset(labelled):
    assert "session-labels" in dataset_kinds()
    cfg = tiny_config()
    spec = {"kind": "session-labels", "sessions": [str(labelled)], "holdout": 0.3}
    train = build_dataset({**spec, "split": "train"}, cfg)
    held = build_dataset({**spec, "split": "held-out"}, cfg)
    assert len(train) == 21 and len(held) == FRAMES - 21
    assert all(isinstance(p, CorpusDataset) for p in train.parts) and train.parts[0].train and not held.parts[0].train
    assert train.frames[0].max() < held.frames[0].min()  # time order, never random frames
    item = held[0]
    V, J = 4, 17
    assert item["image"].shape == (V, 3, 64, 64) and item["heatmap"].shape == (V, J, 16, 16)
    assert item["rays"].shape == (V, 64, 3) and item["weight"].shape == (V, J)
    # The held-out item's joints, mapped to the image, are the stored labels of that frame set.
    labels = held.label_sets[0].arrays["joints_2d"][held.frames[0][0], :, :J]
    ok = item["labelled"].numpy() > 0
    np.testing.assert_allclose(item["joints_image"].numpy()[ok], labels[ok], atol=0.05)
    # Rays are unit world directions from the session's cameras.
    np.testing.assert_allclose(np.linalg.norm(item["rays"].numpy(), axis=-1), 1, atol=1e-5)


def test_single_view_items_use_coco_joints(labelled):
    cfg = get_config("ppt_s")
    data = build_dataset({"kind": "session-labels", "sessions": [str(labelled)], "split": "all"}, cfg)
    item = data[0]
    assert item["image"].shape == (3, 256, 192) and item["heatmap"].shape == (17, 64, 48)
    assert len(data) <= FRAMES * 4 and item["labelled"][1:5].sum() > 0  # eyes and ears are labelled too


def test_bad_options_and_too_few_frames_are_named(labelled, tmp_path):
    cfg = tiny_config()
    base = {"kind": "session-labels", "sessions": [str(labelled)]}
    with pytest.raises(ValueError, match="too few reliable frames in the held-out part: 0"):
        build_dataset({**base, "split": "held-out", "holdout": 0.0, "min_frames": 1}, cfg)
    with pytest.raises(ValueError, match="split must be one of"):
        build_dataset({**base, "split": "later"}, cfg)
    with pytest.raises(ValueError, match="needs sessions"):
        build_dataset({"kind": "session-labels"}, cfg)
    with pytest.raises(ValueError, match="bad options"):
        build_dataset({**base, "colour": "red"}, cfg)
    with pytest.raises(FileNotFoundError, match="no complete label set 'other'"):
        build_dataset({**base, "labels": "other"}, cfg)
    with pytest.raises(FileNotFoundError, match="make them with: ppt-mocap finetune label"):
        build_dataset({**base, "sessions": [str(tmp_path)]}, cfg)
