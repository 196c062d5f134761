import json
import shutil

import numpy as np
import pytest

from app.cli import build_parser, main
from core.session.trc import read_trc
from tests.conftest import shared_path


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"triangulate", "bench"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_triangulate_real_session_to_trc_matches_reference(tmp_path):
    base = shared_path("sessions", "pose2sim_balancing")
    out = tmp_path / "out.trc"
    code = main(["triangulate", "--calibration", str(base / "calibration.toml"), "--keypoints",
                 str(base / "openpose_2d"), "--out", str(out), "--fps", "60", "--markers", "pose2sim",
                 "--outliers", "none"])
    assert code == 0
    ours, names, fps, units = read_trc(out)
    ref, ref_names, _, _ = read_trc(next((base / "reference_3d").glob("*.trc")))
    assert names == ref_names and fps == 60 and units == "m"
    err_mm = np.linalg.norm(ours - ref, axis=-1) * 1000
    assert np.nanmedian(err_mm) < 1.0


@pytest.mark.parametrize("suffix", [".csv", ".npz", ".json"])
def test_triangulate_other_formats(tmp_path, suffix):
    base = shared_path("sessions", "pose2sim_balancing")
    out = tmp_path / f"out{suffix}"
    assert main(["triangulate", "--calibration", str(base / "calibration.toml"), "--keypoints",
                 str(base / "openpose_2d"), "--out", str(out), "--fps", "60"]) == 0
    if suffix == ".npz":
        data = np.load(out)
        assert data["points_3d"].shape == (100, 25, 3) and data["views_used"].shape == (100, 4, 25)
    elif suffix == ".json":
        data = json.loads(out.read_text())
        assert len(data["frames"]) == 100 and len(data["joints"]) == 25
    else:
        lines = out.read_text().splitlines()
        assert len(lines) == 101 and lines[0].startswith("frame,time,nose_x")


def test_triangulate_bad_inputs_give_clear_errors(tmp_path, capsys):
    base = shared_path("sessions", "pose2sim_balancing")
    calib = str(base / "calibration.toml")
    assert main(["triangulate", "--calibration", calib, "--keypoints", str(base / "openpose_2d"),
                 "--keypoint-format", "dlc", "--out", str(tmp_path / "a.trc")]) == 2
    assert "unknown keypoint format 'dlc'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["triangulate", "--calibration", calib, "--keypoints", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "a.trc")]) == 2
    assert "no per-camera subfolders" in capsys.readouterr().err
    three = tmp_path / "three"
    for cam in ("cam01_json", "cam02_json", "cam03_json"):
        shutil.copytree(base / "openpose_2d" / cam, three / cam)
    (three / "extra").mkdir()
    (three / "extra2").mkdir()
    assert main(["triangulate", "--calibration", calib, "--keypoints", str(three),
                 "--out", str(tmp_path / "a.trc")]) == 2
    assert "there are 4 cameras" in capsys.readouterr().err
    (three / "extra2").rmdir()
    (three / "extra").rename(three / "cam04_json")
    assert main(["triangulate", "--calibration", calib, "--keypoints", str(three),
                 "--out", str(tmp_path / "a.trc")]) == 2
    assert "no OpenPose .json files" in capsys.readouterr().err
    assert main(["triangulate", "--calibration", calib, "--keypoints", str(base / "openpose_2d"),
                 "--out", str(tmp_path / "a.xyz")]) == 2
    assert "unknown output format" in capsys.readouterr().err


def test_bench_triangulation_json_smoke(capsys):
    assert main(["bench", "triangulation", "--frames", "200", "--repeats", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["points"] == 200 * 17
    assert figures["max_difference_vs_reference_mm"] < 1e-6
