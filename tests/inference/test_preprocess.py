"""Crops, affines, normalisation and camera rays."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.inference.preprocess import (
    apply_affine,
    box_from_points,
    box_to_center_scale,
    camera_rays,
    crop_affine,
    full_frame_box,
    get_input_recipe,
    invert_affine,
    normalize_crops,
    token_centers,
    token_rays,
    warp_crop,
)


def _reference_affine(center, scale, out_hw, rot_deg, unbiased):
    """The three-point construction of the HRNet / DarkPose ``get_affine_transform`` (PPT_SPEC 4.1, 5.3)."""
    out_h, out_w = out_hw
    src_w = scale[0] * 200.0
    r = math.pi * rot_deg / 180

    def rotate(p):
        return np.array([p[0] * math.cos(r) - p[1] * math.sin(r), p[0] * math.sin(r) + p[1] * math.cos(r)])

    if unbiased:
        src_dir, dst_dir = rotate([0, (src_w - 1) * -0.5]), np.array([0, (out_w - 1) * -0.5])
        dst_c = np.array([(out_w - 1) * 0.5, (out_h - 1) * 0.5])
    else:
        src_dir, dst_dir = rotate([0, src_w * -0.5]), np.array([0, out_w * -0.5])
        dst_c = np.array([out_w * 0.5, out_h * 0.5])

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]])

    src = np.array([center, center + src_dir, third(center, center + src_dir)], np.float32)
    dst = np.array([dst_c, dst_c + dst_dir, third(dst_c, dst_c + dst_dir)], np.float32)
    return cv2.getAffineTransform(src, dst)


@pytest.mark.parametrize("convention", ["unbiased", "hrnet"])
@pytest.mark.parametrize("rot", [0.0, 30.0, -75.0])
def test_crop_affine_matches_three_point_construction(convention, rot):
    center, scale = np.array([321.7, 198.2]), np.array([1.3, 1.7333])
    ours = crop_affine(center, scale, (256, 192), rot, convention)
    ref = _reference_affine(center, scale, (256, 192), rot, convention == "unbiased")
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_box_to_center_scale():
    c, s = box_to_center_scale(np.array([[10, 20, 30, 80]]), 0.75, 1.25, "unbiased")
    np.testing.assert_allclose(c, [[24.5, 59.5]])
    np.testing.assert_allclose(s, [[60 / 200 * 1.25, 80 / 200 * 1.25]])
    c, s = box_to_center_scale(np.array([[10, 20, 300, 80]]), 1.0, 1.25, "hrnet")
    np.testing.assert_allclose(c, [[160.0, 60.0]])
    np.testing.assert_allclose(s, [[1.875, 1.875]])


@pytest.mark.parametrize("box", [[0, 0, 0, 10], [0, 0, 10, -1], [0, 0, np.nan, 5]])
def test_bad_boxes(box):
    with pytest.raises(ValueError, match="positive width"):
        box_to_center_scale(np.array([box]), 0.75)


def test_unknown_convention_and_input_recipe():
    with pytest.raises(ValueError, match="convention"):
        crop_affine(np.zeros(2), np.ones(2), (256, 192), convention="dark")
    with pytest.raises(ValueError, match="input recipe"):
        get_input_recipe("mmpose")
    assert get_input_recipe("hrnet").rgb is False and get_input_recipe("darkpose").decoder == "dark"


@settings(max_examples=40, deadline=None)
@given(
    cx=st.floats(-500, 1500), cy=st.floats(-500, 1500), s=st.floats(0.2, 5.0), rot=st.floats(-180, 180),
    px=st.floats(-1000, 2000), py=st.floats(-1000, 2000), unbiased=st.booleans(),
)
def test_affine_round_trip(cx, cy, s, rot, px, py, unbiased):
    a = crop_affine(np.array([cx, cy]), np.array([s, s]), (256, 192), rot, "unbiased" if unbiased else "hrnet")
    p = np.array([[px, py]])
    np.testing.assert_allclose(apply_affine(invert_affine(a), apply_affine(a, p)), p, atol=1e-6)


def test_warp_crop_moves_a_dot_where_the_affine_says():
    yy, xx = np.mgrid[0:480, 0:640]
    blob = np.exp(-((xx - 200.3) ** 2 + (yy - 300.6) ** 2) / (2 * 4.0**2)).astype(np.float32)
    image = np.repeat(blob[..., None], 3, axis=2)
    center, scale = box_to_center_scale(np.array([[150, 200, 120, 160]]), 0.75, 1.25, "unbiased")
    a = crop_affine(center[0], scale[0], (256, 192), 0.0, "unbiased")
    crop = warp_crop(image, a, (256, 192))
    assert crop.shape == (256, 192, 3)
    ys, xs = np.mgrid[0:256, 0:192]
    w = crop[..., 0].astype(float)
    centroid = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    np.testing.assert_allclose(centroid, apply_affine(a, np.array([200.3, 300.6])), atol=0.05)


def test_normalize_colour_order():
    blue = np.zeros((1, 2, 2, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    rgb = normalize_crops(blue, rgb=True)
    bgr = normalize_crops(blue, rgb=False)
    assert rgb.dtype == np.float32 and rgb.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(rgb[0, 0, 0], [(0 - 0.485) / 0.229, (0 - 0.456) / 0.224, (1 - 0.406) / 0.225], rtol=1e-6)
    np.testing.assert_allclose(bgr[0, 0, 0], [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225], rtol=1e-6)


def test_token_centers():
    c = token_centers((16, 16), (16, 16))
    np.testing.assert_allclose(c[0], [7.5, 7.5])
    np.testing.assert_allclose(c[17], [16 + 7.5, 16 + 7.5])
    np.testing.assert_allclose(c[-1], [247.5, 247.5])
    np.testing.assert_allclose(token_centers((16, 16), (16, 12))[1], [12 + 5.5, 7.5])


def _camera(seed: int = 0):
    rng = np.random.default_rng(seed)
    R, _ = cv2.Rodrigues(rng.normal(size=3) * 0.5)
    t = rng.normal(size=3) * 0.3 + [0, 0, 4]
    K = np.array([[900.0, 0.5, 500], [0, 910, 480], [0, 0, 1]])
    return K, R, t


def test_camera_rays_point_at_the_world_points():
    K, R, t = _camera()
    C = -R.T @ t
    X = np.random.default_rng(1).normal(size=(50, 3)) + (R.T @ np.array([0, 0, 4.0]) + C)
    cam = X @ R.T + t
    uv = (cam @ K.T)[:, :2] / cam[:, 2:]
    rays = camera_rays(K, R, uv)
    expected = (X - C) / np.linalg.norm(X - C, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, expected, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0)


def test_token_rays_go_through_the_token_centres_in_the_original_image():
    K, R, t = _camera(2)
    center, scale = box_to_center_scale(np.array([[300, 200, 256, 256]]), 1.0, 1.25, "hrnet")
    a = crop_affine(center[0], scale[0], (256, 256), 0.0, "hrnet")
    rays = token_rays(K, R, a, (16, 16), (16, 16))
    assert rays.shape == (256, 3)
    C = -R.T @ t
    points = C + 3.0 * rays
    cam = points @ R.T + t
    uv = (cam @ K.T)[:, :2] / cam[:, 2:]
    np.testing.assert_allclose(apply_affine(a, uv), token_centers((16, 16), (16, 16)), atol=1e-6)


def test_box_from_points():
    pts = np.array([[[10, 20], [30, 60], [np.nan, np.nan]], [[np.nan, 1], [np.nan, np.nan], [5, 5]]])
    boxes = box_from_points(pts, margin=1.0)
    np.testing.assert_allclose(boxes[0], [10, 20, 20, 40])
    assert np.isnan(boxes[1]).all()
    np.testing.assert_allclose(box_from_points(pts, margin=1.5)[0], [5, 10, 30, 60])
    with pytest.raises(ValueError, match=r"\(V, N, 2\)"):
        box_from_points(np.zeros((3, 2)))
    np.testing.assert_allclose(full_frame_box((480, 640, 3)), [0, 0, 640, 480])
