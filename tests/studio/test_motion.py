import numpy as np
import pytest

from core.studio.actor import random_shape
from core.studio.body import STUDIO_JOINTS
from core.studio.motion import MOTIONS, make_motion

FPS = 30.0


@pytest.mark.parametrize("name", MOTIONS)
def test_motions_are_smooth_grounded_and_bounded(name):
    shape = random_shape(np.random.default_rng(1))
    motion = make_motion(name, shape, seed=4, radius=1.5)
    t = np.arange(0, 12.0, 1 / FPS)
    pose = motion.sample(shape, t)
    j = pose.joints
    assert np.isfinite(j).all()
    speed = np.linalg.norm(np.diff(j, axis=0), axis=-1) * FPS  # m/s per joint
    assert speed.max() < 12.0, f"{name}: a joint moves at {speed.max():.1f} m/s"
    acc = np.linalg.norm(np.diff(j, 2, axis=0), axis=-1) * FPS * FPS
    assert np.percentile(acc, 99) < 120.0, f"{name}: jerky ({np.percentile(acc, 99):.0f} m/s^2)"
    feet = j[:, [STUDIO_JOINTS.index(n) for n in ("left_heel", "right_heel", "left_big_toe", "right_big_toe")], 2]
    if name not in ("jump", "mix"):
        assert feet.min(axis=1).max() < 0.1  # someone is always standing on the floor
    assert feet.min() > -0.01
    pelvis = j[:, 0, :2]
    assert np.linalg.norm(pelvis, axis=1).max() < 1.5 + 1.0  # splines overshoot their waypoints a little


def test_same_values_whatever_the_query_order():
    shape = random_shape(np.random.default_rng(2))
    a = make_motion("mix", shape, seed=9)
    b = make_motion("mix", shape, seed=9)
    late = b.sample(shape, np.array([25.0]))
    b.sample(shape, np.array([3.0]))
    np.testing.assert_allclose(a.sample(shape, np.array([25.0])).joints, late.joints)
    np.testing.assert_allclose(a.sample(shape, np.array([3.0])).joints, b.sample(shape, np.array([3.0])).joints)


def test_sit_to_stand_sits_and_mix_covers_several_motions():
    shape = random_shape(np.random.default_rng(3))
    sit = make_motion("sit_to_stand", shape, seed=1)
    pelvis = sit.sample(shape, np.arange(0, 8, 0.1)).joints[:, 0, 2]
    assert pelvis.max() - pelvis.min() > 0.2 * shape.height
    assert sit.seats(shape, 10.0)
    mix = make_motion("mix", shape, seed=5)
    mix.sample(shape, np.array([60.0]))
    assert len({seg.name for _, seg in mix.segments}) >= 4


def test_bad_input():
    shape = random_shape(np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown motion 'dance'"):
        make_motion("dance", shape)
    with pytest.raises(FileNotFoundError):
        make_motion("missing_file.trc", shape)
    with pytest.raises(ValueError, match="times"):
        make_motion("walk", shape).sample(shape, np.array([-1.0]))
