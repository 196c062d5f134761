import numpy as np
import pytest

from core.studio.planner import format_report, plan_image, plan_rig, propagated_error, _mc_error, _seen
from core.studio.rig_presets import make_rig


def test_plan_shapes_and_layout_ranking():
    ring = plan_rig(make_rig("ring4"), poses=4, grid_step=0.5)
    stereo = plan_rig(make_rig("stereo2"), poses=4, grid_step=0.5)
    H, Gy, Gx = ring.coverage.shape
    assert H == 3 and ring.error_mm.shape == (H, Gy, Gx) and ring.inside.shape == (Gy, Gx)
    assert ring.joint_error_mm.shape == (27,)
    assert np.nanmedian(ring.error_mm[:, ring.inside]) < np.nanmedian(stereo.error_mm[:, stereo.inside])
    assert ring.coverage[:, ring.inside].mean() > 3.5
    assert len(ring.regions) == 9
    text = format_report(ring)
    assert "centre" in text and "left_wrist" in text
    img = plan_image(ring, make_rig("ring4"))
    assert img.ndim == 3 and img.dtype == np.uint8 and img.shape[1] == 3 * 360


def test_analytic_error_matches_monte_carlo():
    rig = make_rig("ring4")
    pts = np.random.default_rng(0).uniform([-1, -1, 0.2], [1, 1, 1.8], (30, 3))
    _, seen = _seen(rig, pts)
    analytic = propagated_error(rig, pts, seen, 2.0)
    mc = _mc_error(rig, pts, seen, 2.0, 400, np.random.default_rng(1))
    np.testing.assert_allclose(mc, analytic, rtol=0.15)


def test_bad_input():
    with pytest.raises(ValueError, match="noise_px"):
        plan_rig(make_rig("stereo2"), noise_px=-1)
    with pytest.raises(ValueError, match="method"):
        plan_rig(make_rig("stereo2"), method="guess")
