import numpy as np

from app.cli import main
from core.session.folder import SessionReader


def test_render_writes_a_session_with_exact_truth(tmp_path, capsys):
    out = tmp_path / "take"
    code = main(["studio", "render", "--preset", "stereo2", "--motion", "squat", "--frames", "4", "--seed", "1",
                 "--size", "160x120", "--out", str(out), "--no-progress"])
    assert code == 0
    assert "wrote 4 frame sets" in capsys.readouterr().out
    reader = SessionReader(out)
    assert reader.num_frames == 4 and reader.manifest.source == "studio" and reader.manifest.seed == 1
    gt = reader.ground_truth()
    for t in range(4):
        np.testing.assert_allclose(reader.rig.project(gt.joints_3d[t]), gt.joints_2d[t], atol=1e-6)
    # An existing folder is refused, then replaced with --overwrite.
    assert main(["studio", "render", "--preset", "stereo2", "--frames", "1", "--out", str(out), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["studio", "render", "--preset", "stereo2", "--frames", "1", "--size", "96x72", "--out", str(out),
                 "--overwrite", "--no-progress"]) == 0
    assert SessionReader(out).num_frames == 1


def test_render_bad_input(tmp_path, capsys):
    cases = [
        (["--preset", "ring5"], "unknown rig preset 'ring5'; expected one of ring4"),
        (["--motion", "dance"], "unknown motion 'dance'; expected one of walk"),
        (["--frames", "0"], "--frames must be at least 1"),
        (["--calibration", str(tmp_path / "missing.toml")], "not found"),
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text("[cam_0]\nsize = [ 640,")
    cases.append((["--calibration", str(bad)], "could not be read"))
    for extra, message in cases:
        code = main(["studio", "render", "--out", str(tmp_path / "x"), "--no-progress"] + extra)
        assert code == 2, extra
        assert message in capsys.readouterr().err, extra
    assert not (tmp_path / "x").exists()


def test_plan_prints_tables_and_writes_the_image(tmp_path, capsys):
    image = tmp_path / "plan.png"
    assert main(["studio", "plan", "--preset", "high-low4", "--poses", "3", "--grid-step", "0.5",
                 "--image", str(image)]) == 0
    out = capsys.readouterr().out
    assert "Capture volume" in out and "Per joint" in out and image.exists()
