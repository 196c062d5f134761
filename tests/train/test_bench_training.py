"""`ppt-mocap bench escape` reads learning curves right; `bench train` measures both data sources (smoke)."""

from __future__ import annotations

import csv

import pytest

from app.cli import main
from core.bench.escape import first_crossing, summarize
from core.train.corpus_render import CorpusSpec, render_corpus


def _rows(medians, baseline=10.0):
    return [{"crops": 1000 * (k + 1), "minutes": k, "median_px": m, "baseline_px": baseline, "jdr": 0.5,
             "spread_px": 1.0} for k, m in enumerate(medians)]


def test_escape_crossings_and_summary():
    rows = _rows([30, 12, 9.9, 6, 5.0, 4.0])
    assert first_crossing(rows, 1.0) == 3000 and first_crossing(rows, 0.5) == 5000
    summary = summarize("x", rows)
    assert summary["crops_to_half_baseline"] == 5000 and summary["crops_to_below_baseline"] == 3000
    assert summary["best_median_px"] == 4.0 and summary["last_crops"] == 6000
    stuck = summarize("y", _rows([30, 15, 12]))
    assert stuck["crops_to_half_baseline"] == "not within 3000"
    assert summarize("z", [])["runs"] == "no progress.csv yet"


def test_escape_report_reads_each_variant_run(tmp_path, capsys):
    configs = tmp_path / "configs"
    configs.mkdir()
    out = tmp_path / "run"
    out.mkdir()
    (configs / "v.toml").write_text(f'[data]\ntrain = {{ kind = "corpus" }}\n[train]\nout = "{out}"\n')
    with open(out / "progress.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(_rows([1])[0]))
        writer.writeheader()
        writer.writerows(_rows([12, 4]))
    plot = tmp_path / "curves.png"
    assert main(["bench", "escape", "--report-only", "--configs", str(configs), "--variants", "v",
                 "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "crops_to_half_baseline" in text and "2000" in text and plot.stat().st_size > 1000
    assert main(["bench", "escape", "--report-only", "--configs", str(configs), "--variants", "nope"]) == 2


@pytest.mark.slow
def test_bench_train_measures_corpus_and_rendering(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    render_corpus(corpus, CorpusSpec(samples=4, views=4, seed=41, shard_size=4, crop_size=96))
    assert main(["bench", "train", "--corpus", str(corpus), "--rounds", "1", "--steps", "1", "--batch", "4",
                 "--threads", "1", "--workers", "0", "--json"]) == 0
    text = capsys.readouterr().out
    assert '"corpus_crops_per_s"' in text and '"render_crops_per_s"' in text and '"four_view"' in text
