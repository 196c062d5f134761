"""Model items cut from a rendered corpus, and the learning-progress figures measured on them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.geometry.camera import Camera
from core.inference.preprocess import token_centers
from core.model import get_config
from core.train.corpus import CorpusDataset
from core.train.corpus_render import CorpusSpec, render_corpus
from core.train.datasets import build_dataset
from core.train.progress import escaped, pose_progress

CFG = get_config("multiview_ppt_s").replace(image_size=(64, 64), patch_size=(2, 2), dim=32, depth=4, heads=4,
                                            pruning_layers=(1,))


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    render_corpus(folder, CorpusSpec(samples=4, views=2, seed=21, shard_size=4, crop_size=96))
    return folder


def _dataset(folder, **options):
    path = [str(f) for f in folder] if isinstance(folder, list) else str(folder)
    spec = {"kind": "corpus", "path": path, **options}
    return build_dataset(spec, CFG)


def _to_image(item):
    a = item["to_image"].numpy()
    return np.einsum("vij,vnj->vni", a[:, :, :2], item["joints"].numpy()) + a[:, None, :, 2]


@pytest.mark.parametrize("views,train", [(1, True), (1, False), (2, True), (2, False)])
def test_items_have_model_shapes_and_consistent_truth(corpus_dir, views, train):
    ds = _dataset(corpus_dir, views=views, train=train)
    assert isinstance(ds, CorpusDataset)
    for index in range(min(len(ds), 6)):
        item = ds[index]
        assert item["image"].shape == (views, 3, 64, 64) and item["heatmap"].shape == (views, 17, 16, 16)
        assert item["rays"].shape == (views, CFG.num_patches, 3)
        w = item["weight"].numpy() > 0
        assert w.any()
        # Model-crop joints map back to the original image through to_image (flips and rotations included).
        np.testing.assert_allclose(_to_image(item)[w], item["joints_image"].numpy()[w], atol=1e-2)
        # The target peak is the joint's rounded heat map cell.
        hm = item["heatmap"].numpy().reshape(views, 17, -1).argmax(-1)
        cells = np.stack([hm % 16, hm // 16], -1)
        expected = np.floor(item["joints"].numpy() / 4 + 0.5).astype(int)
        on_grid = w & (expected < 16).all(-1)  # a joint in the last half cell peaks at the border
        np.testing.assert_array_equal(cells[on_grid], expected[on_grid])


def test_rays_are_the_cameras_rays_of_the_token_centres(corpus_dir):
    ds = _dataset(corpus_dir, views=2, train=True)
    item = ds[1]
    a = ds.corpus.arrays
    for v in range(2):
        cam = Camera("c", tuple(int(x) for x in a["image_size"][1, v]), a["K"][1, v], a["dist"][1, v],
                     a["R"][1, v], a["t"][1, v])
        A = item["to_image"][v].numpy().astype(np.float64)
        uv = token_centers(CFG.grid_size, CFG.token_stride) @ A[:, :2].T + A[:, 2]
        np.testing.assert_allclose(item["rays"][v].numpy(), cam.rays(uv), atol=1e-4)


def test_bad_options_are_named(corpus_dir, tmp_path):
    with pytest.raises(ValueError, match="views must be 1 or the corpus's 2"):
        _dataset(corpus_dir, views=3)
    with pytest.raises(ValueError, match="needs path"):
        build_dataset({"kind": "corpus"}, CFG)
    with pytest.raises(FileNotFoundError, match="not a corpus folder"):
        _dataset(tmp_path)


class _OracleModel(torch.nn.Module):
    """Returns the heat maps it is given (the truth, or a constant): checks the progress figures end to end."""

    def __init__(self, heatmaps):
        super().__init__()
        self.config = CFG
        self.heatmaps = heatmaps
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, images, rays=None, fuse=True, keep_ratio=1.0):
        return SimpleNamespace(heatmaps=self.heatmaps.pop(0))


def test_progress_puts_the_truth_at_zero_and_the_mean_pose_at_the_baseline(corpus_dir):
    ds = _dataset(corpus_dir, views=1, train=False)
    batches = [{k: torch.stack([ds[i][k] for i in range(len(ds))]) for k in ds[0]}]
    truth = pose_progress(_OracleModel([batches[0]["heatmap"].clone()]), batches)
    # The truth's heat maps decode to within the 16x16 grid's quantisation (64 px crops here).
    assert truth["median_px"] < 0.6 * truth["baseline_px"]
    assert truth["spread_px"] > 1.0 and truth["baseline_jdr"] < 1.0
    constant = torch.zeros_like(batches[0]["heatmap"])
    constant[..., 8, 8] = 1.0  # every joint at the crop centre: spread 0, no better than the baseline
    centre = pose_progress(_OracleModel([constant]), batches)
    assert centre["spread_px"] == 0.0 and centre["median_px"] >= 0.9 * centre["baseline_px"]
    assert not escaped(centre)
    assert escaped({"median_px": 5.0, "baseline_px": 10.0}) and not escaped({"median_px": 5.1, "baseline_px": 10.0})


def test_a_list_of_corpus_folders_is_read_as_one_set(corpus_dir, tmp_path):
    other = tmp_path / "near"
    render_corpus(other, CorpusSpec(samples=2, views=2, seed=22, shard_size=2, crop_size=96, people=(2, 2),
                                    distractor_distance=(0.4, 0.9)))
    both = _dataset([corpus_dir, other], views=2, train=False)
    assert len(both) == 4 + 2
    alone = _dataset(other, views=2, train=False)
    np.testing.assert_array_equal(both[5]["joints"].numpy(), alone[1]["joints"].numpy())


def test_multiview_rotation_turns_each_view_and_keeps_truth_and_rays_consistent(corpus_dir):
    plain = _dataset(corpus_dir, views=2, train=True)
    turned = _dataset(corpus_dir, views=2, train=True, rotation=30.0)
    assert plain.rotation == 0.0 and turned.rotation == 30.0
    angles = []
    for index in range(len(turned)):
        for _ in range(4):
            item = turned[index]
            w = item["weight"].numpy() > 0
            np.testing.assert_allclose(_to_image(item)[w], item["joints_image"].numpy()[w], atol=1e-2)
            A = item["to_image"].numpy()
            angles += list(np.degrees(np.arctan2(A[:, 1, 0], A[:, 0, 0])))
    angles = np.abs(np.array(angles))
    assert (angles > 5).mean() > 0.3 and angles.max() <= 60 + 1e-3  # turned often, never past 2 x 30 degrees
    A = plain[0]["to_image"].numpy()
    assert np.abs(A[:, 1, 0]).max() < 1e-6  # no rotation unless asked (the official multi-view recipe)
    with pytest.raises(ValueError, match="rotation"):
        _dataset(corpus_dir, views=2, rotation=120.0)


def test_multiview_flip_mirrors_all_views_together_and_swaps_left_and_right(corpus_dir):
    from core.geometry.skeletons import H36M17

    truth = _dataset(corpus_dir, views=2, train=False)
    flipping = _dataset(corpus_dir, views=2, train=True, flip=True)
    perm = H36M17.flip_permutation()
    mirrored = []
    for index in range(len(flipping)):
        original = truth[index]["joints_image"].numpy()
        for _ in range(6):
            item = flipping[index]
            det = np.linalg.det(item["to_image"].numpy()[:, :, :2])
            assert (det < 0).all() or (det > 0).all()  # every view of a sample, or none
            m = bool(det[0] < 0)
            mirrored.append(m)
            # each label stays on its image point; a mirrored sample calls the left wrist the right one in every view
            w = item["weight"].numpy() > 0
            np.testing.assert_allclose(_to_image(item)[w], item["joints_image"].numpy()[w], atol=1e-2)
            np.testing.assert_allclose(item["joints_image"].numpy(), original[:, perm] if m else original, atol=1e-3)
    assert 0.2 < np.mean(mirrored) < 0.8
    plain = _dataset(corpus_dir, views=2, train=True)
    assert all((np.linalg.det(plain[i]["to_image"].numpy()[:, :, :2]) > 0).all() for i in range(len(plain)))
