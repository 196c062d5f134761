"""The rendered training corpus: shards with exact ground truth, resumable and growable rendering, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main
from core.inference.preprocess import apply_affine
from core.train.corpus_render import Corpus, CorpusSpec, read_spec, render_corpus, shard_path
from core.train.studio_crops import StudioMultiView

SPEC = CorpusSpec(samples=3, views=2, seed=11, shard_size=2, crop_size=96)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    assert render_corpus(folder, SPEC) == 2
    return folder


def test_shards_hold_the_studio_samples_exactly(corpus_dir):
    corpus = Corpus.load(corpus_dir)
    assert len(corpus) == 3 and corpus.views == 2
    assert corpus.arrays["joints"].shape[:2] == (3, 2) and corpus.arrays["K"].shape == (3, 2, 3, 3)
    studio = StudioMultiView(SPEC.samples, SPEC.views, seed=SPEC.seed, reuse=SPEC.reuse, people=SPEC.people)
    views = studio.render_views(2)  # the same sample rendered again: same truth
    stored = corpus.arrays["joints"][2]
    np.testing.assert_allclose(apply_affine(corpus.arrays["affine"][2], views["joints_2d"]), stored, atol=1e-3)
    np.testing.assert_allclose(corpus.arrays["joints_3d"][2], views["joints_3d"], atol=1e-5)
    crop = corpus.crop(2, 1)
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8 and crop.std() > 5  # a picture, not a blank
    # The stored crop is centred on the subject with the margin: joints lie well inside it.
    good = np.isfinite(stored[1]).all(1)
    assert (stored[1][good] > 0).all() and (stored[1][good] < 96).all()


def test_rendering_resumes_grows_and_refuses_another_spec(corpus_dir, tmp_path):
    assert render_corpus(corpus_dir, SPEC) == 0  # complete: nothing to do
    folder = tmp_path / "c"
    render_corpus(folder, CorpusSpec(**{**SPEC.__dict__, "samples": 2}))
    before = shard_path(folder, 0).read_bytes()
    assert render_corpus(folder, SPEC) == 1  # grown: only the new shard
    assert shard_path(folder, 0).read_bytes() == before
    assert json.loads((folder / "corpus.json").read_text())["shards_written"] == 2
    assert read_spec(folder).samples == 3
    with pytest.raises(ValueError, match="another spec"):
        render_corpus(folder, CorpusSpec(**{**SPEC.__dict__, "seed": 12}))
    with pytest.raises(ValueError, match="cannot shrink|can grow but not shrink"):
        render_corpus(folder, CorpusSpec(**{**SPEC.__dict__, "samples": 1}))
    with pytest.raises(FileNotFoundError, match="not a corpus folder"):
        Corpus.load(tmp_path / "nothing")


def test_bad_specs_are_named():
    with pytest.raises(ValueError, match="crop_size"):
        CorpusSpec(crop_size=8)
    with pytest.raises(ValueError, match="margin"):
        CorpusSpec(margin=0.5)
    with pytest.raises(ValueError, match="distractor_distance"):
        CorpusSpec(distractor_distance=(0.9, 0.4))


def test_cli_renders_a_corpus(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["studio", "corpus", "--out", str(out), "--samples", "1", "--views", "2", "--shard-size", "1",
                 "--crop-size", "64", "--seed", "4"]) == 0
    assert "1 frame groups x 2 views" in capsys.readouterr().out
    assert len(Corpus.load(out)) == 1
    assert main(["studio", "corpus", "--out", str(out), "--samples", "1", "--workers", "0"]) == 2


def test_cli_motion_is_part_of_the_spec(tmp_path, capsys):
    out = tmp_path / "walk"
    assert main(["studio", "corpus", "--out", str(out), "--samples", "1", "--views", "2", "--shard-size", "1",
                 "--crop-size", "64", "--motion", "walk"]) == 0
    assert Corpus.load(out).spec.motion == "walk"
    capsys.readouterr()
    assert main(["studio", "corpus", "--out", str(tmp_path / "bad"), "--samples", "1", "--motion", "run"]) == 2
    assert "motion must be one of walk" in capsys.readouterr().err
    with pytest.raises(ValueError, match="motion must be one of"):
        CorpusSpec(motion="run")


def test_distractor_distance_places_the_second_person_and_is_part_of_the_spec(tmp_path):
    near = StudioMultiView(6, 2, seed=3, people=(2, 2), distractor_distance=(0.4, 0.5))
    old = StudioMultiView(6, 2, seed=3, people=(2, 2))
    gaps_near, gaps_old = [], []
    for i in range(6):
        for studio, gaps in ((near, gaps_near), (old, gaps_old)):
            scene, _, _ = studio.people_scene(i, studio.stage(0))
            starts = [a.motion.center for a in scene.actors]
            gaps.append(float(np.linalg.norm(np.subtract(starts[1], starts[0]))))
    assert all(0.4 - 1e-9 <= g <= 0.5 + 1e-9 for g in gaps_near)
    assert np.mean(gaps_old) > 0.7  # the default keeps the first corpora's 1.1 m rule
    with pytest.raises(ValueError, match="distractor_distance"):
        StudioMultiView(2, 2, distractor_distance=(0.9, 0.4))
    spec = CorpusSpec(samples=1, views=2, shard_size=1, crop_size=64, people=(2, 2), distractor_distance=(0.4, 0.9))
    render_corpus(tmp_path / "near", spec)
    assert read_spec(tmp_path / "near") == spec
    assert read_spec(tmp_path / "near").distractor_distance == (0.4, 0.9)
