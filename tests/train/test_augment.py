import numpy as np

from core.geometry.skeletons import COCO17
from core.train.augment import augment_person, half_body


def _person():
    rng = np.random.default_rng(0)
    joints = rng.uniform([100, 50], [200, 400], (17, 2))
    return joints, np.ones(17)


def test_flip_mirrors_the_image_and_swaps_left_and_right():
    joints, flags = _person()
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :10] = 255
    extra = np.arange(17.0)
    for seed in range(40):
        out = augment_person(np.random.default_rng(seed), image, joints, flags, np.array([150.0, 225.0]),
                             np.array([1.5, 2.0]), 0.75, COCO17.flip_permutation(), (extra,))
        img, j, f, (e,), center, scale, rotation = out
        if img[0, -1, 0] == 255:  # flipped
            perm = COCO17.flip_permutation()
            np.testing.assert_allclose(j[:, 0], 639 - joints[perm, 0])
            np.testing.assert_array_equal(e, extra[perm])
            assert center[0] == 639 - 150.0
            break
    else:
        raise AssertionError("no flip in 40 draws")
    assert -90 <= rotation <= 90 and 0.65 * 1.5 - 1e-9 <= scale[0] <= 1.35 * 1.5 + 1e-9


def test_half_body_box_covers_only_the_chosen_half():
    joints, flags = _person()
    c, s = half_body(joints, flags, np.random.default_rng(1), 0.75, np.zeros(2), np.ones(2))
    assert not np.allclose(c, 0) and s[0] * 200 >= 2
