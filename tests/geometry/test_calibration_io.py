import json

import numpy as np
import pytest

from core.geometry import CalibrationFileError, Camera, CameraRig, load_rig
from tests.conftest import shared_path

K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])


def small_rig(n=3, units="m"):
    cams = [Camera.look_at(f"cam{i}", (640, 480), K, [3 * np.cos(i), 3 * np.sin(i), 1.5], [0, 0, 1],
                           dist=np.array([-0.1, 0.02, 0.001, 0.0, 0.0])) for i in range(n)]
    return CameraRig(cams, units=units, up="z", metadata={"error": 0.3, "board": {"cols": 9, "rows": 6}})


def test_toml_round_trip(tmp_path):
    rig = small_rig()
    rig.save(tmp_path / "calib.toml")
    text = (tmp_path / "calib.toml").read_text()
    assert "[cam_00]" in text and "[cam_02]" in text and 'units = "m"' in text
    back = CameraRig.load(tmp_path / "calib.toml")
    assert back.names == rig.names and back.units == "m" and back.up == "z"
    assert back.metadata["board"]["cols"] == 9
    X = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 3)) + [0, 0, 1]
    np.testing.assert_allclose(back.project(X), rig.project(X), atol=1e-9)


def test_zero_padding_keeps_order_beyond_ten_cameras(tmp_path):
    rig = small_rig(12)
    rig.save(tmp_path / "c.toml")
    sections = [line for line in (tmp_path / "c.toml").read_text().splitlines() if line.startswith("[cam_")]
    assert sections == sorted(sections)  # sorted loaders (aniposelib) and file-order loaders agree
    assert CameraRig.load(tmp_path / "c.toml").names == rig.names


def test_reads_pose2sim_calibration_unchanged():
    rig = CameraRig.load(shared_path("sessions", "pose2sim_balancing", "calibration.toml"))
    assert rig.names == ["cam_01", "cam_02", "cam_03", "cam_04"]
    assert rig.units == "m" and rig[0].size == (1088, 1920)
    assert rig[0].dist.shape == (5,) and rig[0].K[0, 0] == pytest.approx(1681.2449, abs=1e-3)
    # Cameras a few metres from the origin: metres, as Pose2Sim writes.
    assert 1 < np.median(np.linalg.norm(rig.centers, axis=1)) < 10


def test_reads_anipose_and_freemocap_layouts(tmp_path):
    anipose = """
[cam_0]
name = "A"
size = [ 1920, 1080,]
matrix = [ [ 1000.0, 0.0, 960.0,], [ 0.0, 1000.0, 540.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.1, 0.01, 0.0, 0.0, 0.0,]
rotation = [ 0.1, 0.2, 0.3,]
translation = [ 100.0, 200.0, 3000.0,]

[metadata]
adjusted = false
error = 0.41
"""
    (tmp_path / "anipose.toml").write_text(anipose)
    rig = CameraRig.load(tmp_path / "anipose.toml", units="mm")
    assert rig.names == ["A"] and rig.units == "mm"
    freemocap = anipose.replace("[metadata]", "[metadata]\nreprojection_error_px = 0.4\n") + """
[metadata.board]
squares_x = 5
squares_y = 3
square_length_mm = 54.0
"""
    (tmp_path / "fmc.toml").write_text(freemocap.replace('name = "A"', 'name = "A"\nid = "0"\nindex = 0'))
    fmc = CameraRig.load(tmp_path / "fmc.toml")
    assert fmc.units == "mm"  # FreeMoCap v2 states millimetres through its board table
    fmc_m = CameraRig.load(tmp_path / "fmc.toml", units="m")
    np.testing.assert_allclose(fmc_m[0].t, [0.1, 0.2, 3.0])


def test_reads_panoptic_campus_and_h36m():
    pan = load_rig(shared_path("multiview_gt", "panoptic", "160906_band1", "calibration_160906_band1.json"))
    assert len(pan) == 31 and pan.units == "m" and pan[0].size == (1920, 1080)
    vga = load_rig(shared_path("multiview_gt", "panoptic", "160906_band1", "calibration_160906_band1.json"),
                   camera_type="vga")
    assert len(vga) == 479 and vga[0].size == (640, 480)
    campus = load_rig(shared_path("multiview_gt", "campus", "calibration_campus.json"))
    assert len(campus) == 3 and campus.units == "m"
    h36m = load_rig(shared_path("poses", "h36m", "cameras.pkl"), subject="S9")
    assert len(h36m) == 4 and h36m.metadata["subject"] == "S9"


@pytest.mark.parametrize(
    "content,message",
    [
        ("[cam_00]\nname = 'a'\n", "missing"),
        ("[cam_00\nname=", "not valid TOML"),
        ("[metadata]\nunits = 'm'\n", "no camera tables"),
        ("[cam_00]\nname='a'\nsize=[1,1]\nmatrix=[[1,0],[0,1]]\ndistortions=[0,0,0,0]\nrotation=[0,0,0]\n"
         "translation=[0,0,0]\n", "matrix: expected shape"),
        ("[cam_00]\nname='a'\nsize=[1,1]\nmatrix=[[1,0,0],[0,1,0],[0,0,1]]\ndistortions=[0,0]\n"
         "rotation=[0,0,0]\ntranslation=[0,0,0]\n", "distortions: expected 4, 5 or 8"),
        ("[cam_00]\nname='a'\nsize=[1,1]\nmatrix=[[1,0,0],[0,1,0],[0,0,1]]\ndistortions=[0,0,0,0]\n"
         "rotation=[0,0,'x']\ntranslation=[0,0,0]\n", "rotation"),
        ("[metadata]\nunits='feet'\n[cam_00]\nname='a'\nsize=[1,1]\nmatrix=[[1,0,0],[0,1,0],[0,0,1]]\n"
         "distortions=[0,0,0,0]\nrotation=[0,0,0]\ntranslation=[0,0,0]\n", "units"),
    ],
)
def test_malformed_toml_names_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(CalibrationFileError, match=message):
        CameraRig.load(path)


def test_bad_paths_and_formats(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        CameraRig.load(tmp_path / "none.toml")
    (tmp_path / "x.yaml").write_text("a: 1")
    with pytest.raises(CalibrationFileError, match="unknown calibration file type"):
        CameraRig.load(tmp_path / "x.yaml")
    (tmp_path / "x.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(CalibrationFileError, match="unknown JSON calibration layout"):
        CameraRig.load(tmp_path / "x.json")
