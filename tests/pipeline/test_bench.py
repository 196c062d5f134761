"""Short versions of the pipeline benchmark and the soak (the long runs are recorded in docs/BENCHMARKS.md)."""

import json

from app.cli import main


def test_bench_soak_short_run_camera_lost_and_back(capsys):
    assert main(["bench", "soak", "--seconds", "16", "--backend", "studio-truth", "--sample-every", "2",
                 "--outage", "4", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["ok_errors"] and r["ok_queues"], (r["errors"], r["max_sync_pending_frames"])
    assert r["ok_camera_back"] and r["ok_others_kept_running"]
    assert r["results"] > 0 and r["osc_packets_received"] > 0
    assert len(r["samples"]) >= 4 and r["rss_mb_end"] > 0


def test_bench_pipeline_smoke(capsys):
    assert main(["bench", "pipeline", "--seconds", "3", "--rounds", "1", "--frames", "2", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model_only_sets_per_s"] > 0 and r["pipeline_sets_per_s"] > 0
    assert r["glass_to_skeleton_ms_p50"] > 0 and r["errors"] == []
    assert "RANDOM" in r["weights"] or "weights" in r["weights"]


def test_recording_four_cameras_loses_no_frame_to_the_writer(capsys):
    assert main(["bench", "soak", "--recording-only", "--seconds", "4", "--fps", "30", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["ok_no_frame_lost_to_writer"] and r["frames_written"] > 0 and r["error"] is None
    assert r["frames_not_grouped"] == 0
