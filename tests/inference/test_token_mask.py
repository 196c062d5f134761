import numpy as np
import pytest

from core.inference.token_mask import token_grid_map, token_mask_image


def test_grid_map_stage_and_heat():
    kept = [np.array([0, 1, 2, 5]), np.array([1, 5]), np.array([5])]
    m0 = token_grid_map(kept, (2, 3), stage=0)
    assert m0.shape == (2, 3) and m0.sum() == 4 and m0[0, 0] == 1 and m0[1, 2] == 1
    heat = token_grid_map(kept, (2, 3))
    assert heat[1, 2] == pytest.approx(1.0) and heat[0, 1] == pytest.approx(2 / 3) and heat[1, 0] == 0
    assert token_grid_map([np.array([-1, -1])], (2, 3), 0).sum() == 0  # missing camera
    assert token_grid_map([], (2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="out of range"):
        token_grid_map(kept, (2, 3), stage=3)


def test_mask_image_identity_and_scaled_affine():
    kept = [np.array([0, 5])]  # (r0, c0) and (r1, c2) of a 2x3 grid
    img = token_mask_image(kept, (2, 3), (4, 4), np.array([[1.0, 0, 0], [0, 1.0, 0]]), (12, 8), stage=0)
    assert img.shape == (8, 12)
    assert img[:4, :4].all() and img[4:, 8:].all() and img.sum() == 32
    # The crop was scaled by 0.5 from the original image: token_to_image doubles coordinates.
    big = token_mask_image(kept, (2, 3), (4, 4), np.array([[2.0, 0, 0.5], [0, 2.0, 0.5]]), (24, 16), stage=0)
    assert big.sum() == pytest.approx(128, abs=16) and big[:7, :7].all() and big[9:, 17:].all()


def test_mask_image_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        token_mask_image([np.array([0])], (2, 3), (4, 4), np.eye(3), (12, 8))
    with pytest.raises(ValueError, match="positive"):
        token_mask_image([np.array([0])], (2, 3), (4, 4), np.eye(2, 3), (0, 8))
