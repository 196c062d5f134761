"""The ``ppt-mocap calibrate`` commands, headless, end to end on files."""

import json

import cv2
import numpy as np
import pytest

from app.cli import main
from core.geometry.calibration_io import load_toml
from tests.calibration.conftest import N_POSES
from tests.conftest import shared_path


@pytest.fixture(scope="module")
def scene_files(scene, tmp_path_factory):
    """The rendered scene as one image folder per camera (file k = frame k), the floor board kept apart."""
    root = tmp_path_factory.mktemp("scene")
    for name, imgs in scene.images.items():
        (root / name).mkdir()
        for k, img in enumerate(imgs[:N_POSES]):
            cv2.imwrite(str(root / name / f"frame_{k:03d}.png"), img)
        (root / "floor").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "floor" / f"{name}.png"), imgs[N_POSES])
    intr = scene.rig.subset(scene.rig.names)
    from core.geometry.camera import CameraRig

    CameraRig([c.with_(R=np.eye(3), t=np.zeros(3)) for c in intr], units="m").save(root / "intrinsics.toml")
    return root


def test_extrinsics_then_floor(scene, scene_files, tmp_path, capsys):
    images = [f"{n}={scene_files / n}" for n in scene.rig.names]
    out = tmp_path / "rig.toml"
    rc = main(["calibrate", "extrinsics", "--images", *images, "--intrinsics", str(scene_files / "intrinsics.toml"),
               "--board", "9x6", "--square", "80mm", "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert rc == 0, text.err
    assert "metric check" in text.out and "cam04" in text.out and "first camera" in text.err
    rig = load_toml(out)
    assert rig.names == scene.rig.names and rig.up == "-y" and rig.metadata["bundle_adjusted"]
    floor_out = tmp_path / "floor.toml"
    rc = main(["calibrate", "floor", "--calibration", str(out), "--images",
               *[f"{n}={scene_files / 'floor' / (n + '.png')}" for n in scene.rig.names],
               "--board", "9x6", "--square", "0.08", "--units", "mm", "--out", str(floor_out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    floor = load_toml(floor_out)
    assert floor.units == "mm" and floor.up == "z" and (floor.centers[:, 2] > 1000).all()
    truth = (scene.rig.centers - np.array([-0.32, 0.5, 0.0])) * 1000
    assert np.abs(floor.centers - truth).max() < 5.0


def test_extrinsics_cli_errors(scene, scene_files, tmp_path, capsys):
    base = ["--intrinsics", str(scene_files / "intrinsics.toml"), "--board", "9x6", "--square", "80mm",
            "--out", str(tmp_path / "x.toml"), "--quiet"]
    rc = main(["calibrate", "extrinsics", "--images", f"cam01={scene_files / 'cam01'}", *base])
    assert rc == 2 and "at least 2 cameras" in capsys.readouterr().err
    rc = main(["calibrate", "extrinsics", "--images", f"cam01={scene_files / 'cam01'}",
               f"camZ={scene_files / 'cam02'}", *base])
    assert rc == 2 and "camZ" in capsys.readouterr().err
    rc = main(["calibrate", "extrinsics", "--images", f"cam01={scene_files / 'cam01'}",
               f"cam02={tmp_path / 'missing'}", *base])
    assert rc == 2 and "not found" in capsys.readouterr().err


def test_stereo_extrinsics_cli_on_real_images(tmp_path, capsys):
    folder = shared_path("calibration", "opencv_stereo_chessboard")
    images = [f"left={folder / 'left*.jpg'}", f"right={folder / 'right*.jpg'}"]
    board = ["--board", "9x6", "--square", "25mm", "--quiet"]
    assert main(["calibrate", "intrinsics", "--images", *images, *board, "--out", str(tmp_path / "i.toml")]) == 0
    assert main(["calibrate", "extrinsics", "--images", *images, "--intrinsics", str(tmp_path / "i.toml"), *board,
                 "--floor-frame", "none", "--units", "mm", "--out", str(tmp_path / "e.toml")]) == 0
    rig = load_toml(tmp_path / "e.toml")
    assert rig.units == "mm" and 80 < np.linalg.norm(rig["right"].t) < 86
    assert "25.0" in capsys.readouterr().out


def test_board_cli(tmp_path, capsys):
    assert main(["calibrate", "board", "--board", "charuco:5x7", "--square", "30mm", "--out",
                 str(tmp_path / "b.pdf")]) == 0
    assert (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")
    assert "ChArUco 5x7" in capsys.readouterr().out
    assert main(["calibrate", "board", "--board", "9x6", "--square", "25", "--out", str(tmp_path / "c.png")]) == 2
    assert "25mm" in capsys.readouterr().err


def test_bench_calibration_runs_and_says_when_aniposelib_is_missing(capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "aniposelib", None)  # import fails as if not installed (and keeps it fast)
    rc = main(["bench", "calibration", "--json", "--no-real", "--poses", "6", "--no-refined"])
    assert rc == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    scene = figures["synthetic_4cam_noise_0.5px"]
    assert scene["ours"]["repeat_identical"] is True and scene["ours"]["mean_px"] > 0
    assert scene["aniposelib"].startswith("NOT INSTALLED") and "pip install" in scene["aniposelib"]
