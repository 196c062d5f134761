import numpy as np
import pytest

from core.studio.body import STUDIO_JOINTS
from core.studio.studio import Imperfections, make_studio


@pytest.fixture(scope="module")
def tiny():
    return make_studio("stereo2", motion="squat", seed=5, size=(240, 180), backdrop_downscale=2)


def test_frame_shapes_and_exact_2d(tiny):
    fr = tiny.render(7)
    C, J = len(tiny.rig), len(STUDIO_JOINTS)
    t = fr.truth
    assert set(fr.images) == set(tiny.camera_names)
    assert all(im.shape == (180, 240, 3) and im.dtype == np.uint8 for im in fr.images.values())
    assert t.joints_3d.shape == (1, J, 3) and t.joints_2d.shape == (C, 1, J, 2)
    assert t.visible.shape == (C, 1, J) and t.boxes.shape == (C, 1, 4)
    for c, cam in enumerate(tiny.rig):
        np.testing.assert_array_equal(t.joints_2d[c, 0], cam.project(t.joints_3d[0]))
        x0, y0, x1, y1 = t.boxes[c, 0]
        vis = t.joints_2d[c, 0][t.visible[c, 0]]
        assert (vis[:, 0] >= x0 - 1).all() and (vis[:, 0] <= x1 + 1).all()
        assert (vis[:, 1] >= y0 - 1).all() and (vis[:, 1] <= y1 + 1).all()
    assert t.t == pytest.approx(7 / 30)


def test_deterministic_by_seed_and_order_free():
    a = make_studio("stereo2", motion="mix", seed=11, size=(160, 120), backdrop_downscale=4)
    b = make_studio("stereo2", motion="mix", seed=11, size=(160, 120), backdrop_downscale=4)
    fb = b.render(40)  # b renders out of order
    b.render(3)
    fa = a.render(40)
    for name in a.camera_names:
        np.testing.assert_array_equal(fa.images[name], fb.images[name])
    np.testing.assert_array_equal(fa.truth.joints_3d, fb.truth.joints_3d)
    c = make_studio("stereo2", motion="mix", seed=12, size=(160, 120), backdrop_downscale=4)
    assert not np.allclose(c.render(40).truth.joints_3d, fa.truth.joints_3d)


def test_imperfections_shift_capture_times_drop_frames_and_add_noise():
    imp = Imperfections(clock_offset_ms=20, jitter_ms=2, drop_rate=0.3, noise_sigma=4)
    st = make_studio("ring4", motion="walk", seed=2, size=(160, 120), backdrop_downscale=4, imperfections=imp)
    drops = 0
    for k in range(20):
        times, dropped = st.capture_times(k)
        assert np.all(np.abs(times - k / 30) <= 0.020 + 0.012)
        drops += dropped.sum()
    assert 5 <= drops <= 45  # about 30% of 80
    fr = st.render(5)
    assert set(fr.images) == {n for n, d in zip(st.camera_names, fr.truth.dropped) if not d}
    # Each camera's 2D truth is the pose at its own capture time.
    c = int(np.argmax(np.abs(fr.truth.t_capture - fr.truth.t)))
    pose_c = st.scene.poses(np.array([fr.truth.t_capture[c]]))[0].joints[0]
    np.testing.assert_allclose(fr.truth.joints_2d[c, 0], st.rig[c].project(pose_c))
    with pytest.raises(ValueError, match="drop_rate"):
        Imperfections(drop_rate=1.5)
    with pytest.raises(ValueError, match="jitter_ms"):
        Imperfections(jitter_ms=-1)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown rig preset 'ring5'"):
        make_studio("ring5")
    with pytest.raises(ValueError, match="unknown motion 'dance'"):
        make_studio("stereo2", motion="dance", size=(64, 48))
    with pytest.raises(ValueError, match="people"):
        make_studio("stereo2", people=0, size=(64, 48))
    st = make_studio("stereo2", size=(64, 48), backdrop_downscale=4, room=False)
    with pytest.raises(ValueError, match="frame index"):
        st.render(-1)
