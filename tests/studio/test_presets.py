import numpy as np
import pytest

from core.geometry.camera import CameraRig
from core.studio.rig_presets import PRESETS, load_studio_rig, make_rig, rig_center
from tests.conftest import shared_path


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_look_at_the_volume_with_realistic_lenses(preset):
    rig = make_rig(preset)
    assert len(rig) == {"ring4": 4, "stereo2": 2, "ring8": 8, "high-low4": 4}[preset]
    np.testing.assert_allclose(rig_center(rig), 0.0, atol=1e-6)
    centre = np.array([[0.0, 0.0, 1.0]])
    for cam in rig:
        assert cam.size == (640, 480)
        px = cam.project(centre)[0]
        assert 0.25 * 640 < px[0] < 0.75 * 640 and 0.2 * 480 < px[1] < 0.8 * 480
        k1, k2 = cam.dist[:2]
        assert k1 < 0 and 9 * k1 * k1 < 20 * k2  # barrel and monotonic
        assert 400 < cam.K[0, 0] < 620


def test_rig_round_trips_through_toml(tmp_path):
    rig = make_rig("ring8", size=(320, 240))
    rig.save(tmp_path / "r.toml")
    back = load_studio_rig(tmp_path / "r.toml")
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3)) + [0, 0, 1]
    np.testing.assert_allclose(back.project(X), rig.project(X), atol=1e-9)


def test_user_calibration_and_bad_files(tmp_path):
    rig = load_studio_rig(shared_path("sessions", "pose2sim_balancing", "calibration.toml"))
    assert len(rig) == 4 and rig.units == "m"
    bad = tmp_path / "bad.toml"
    bad.write_text("[cam_0\nname = ")
    with pytest.raises(ValueError, match="could not be read"):
        load_studio_rig(bad)
    with pytest.raises(FileNotFoundError):
        load_studio_rig(tmp_path / "none.toml")
    yup = make_rig("stereo2")
    CameraRig(yup.cameras, up="y").save(tmp_path / "yup.toml")
    with pytest.raises(ValueError, match="Z-up"):
        load_studio_rig(tmp_path / "yup.toml")
    with pytest.raises(ValueError, match="unknown rig preset"):
        make_rig("ring5")
