"""Person crops, affine transforms, normalisation and camera rays (PPT_SPEC.md sections 4.1, 5.2, 5.3).

Conventions: boxes are ``(x, y, w, h)`` in pixels of the original image; sizes are ``(H, W)``; an affine is a
``(2, 3)`` matrix mapping original-image pixels to crop pixels (``p' = A p + b``); scales are in units of
``PIXEL_STD = 200`` pixels as in the HRNet / DarkPose code.

Two crop conventions:

* ``"unbiased"`` (DarkPose / TokenPose / single-view PPT): box centre ``x + (w - 1)/2``; the source half-width is
  ``(s*200 - 1)/2`` and the destination centre ``((W - 1)/2, (H - 1)/2)``.
* ``"hrnet"`` (original HRNet, multi-view PPT): box centre ``x + w/2``; half-width ``s*200/2``, centre ``(W/2, H/2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PIXEL_STD = 200.0
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CONVENTIONS = ("unbiased", "hrnet")


@dataclass(frozen=True)
class InputRecipe:
    """How a model family expects its input: crop convention, colour order, box padding and heatmap decoder."""

    name: str
    convention: str
    rgb: bool
    decoder: str
    padding: float = 1.25


INPUT_RECIPES = {
    # Single-view PPT / TokenPose (COCO): unbiased affine, RGB, DARK decoding.
    "darkpose": InputRecipe("darkpose", convention="unbiased", rgb=True, decoder="dark"),
    # Multi-view PPT (Human3.6M): HRNet affine, BGR fed as is, argmax + quarter offset.
    "hrnet": InputRecipe("hrnet", convention="hrnet", rgb=False, decoder="argmax"),
}


def get_input_recipe(name: str) -> InputRecipe:
    try:
        return INPUT_RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown input recipe {name!r}; expected one of {sorted(INPUT_RECIPES)}") from None


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"crop convention must be one of {CONVENTIONS}, got {convention!r}")


def box_to_center_scale(
    boxes: np.ndarray, aspect_ratio: float, padding: float = 1.25, convention: str = "unbiased"
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(V, 4)`` xywh px -> centres ``(V, 2)`` px and scales ``(V, 2)`` (units of 200 px).

    The box is grown to the model's aspect ratio ``W/H`` and then scaled by ``padding``.
    """
    _check_convention(convention)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = boxes.T
    if np.any(~(w > 0)) or np.any(~(h > 0)):
        raise ValueError(f"boxes need positive width and height, got {boxes.tolist()}")
    off = 1.0 if convention == "unbiased" else 0.0
    center = np.stack([x + (w - off) * 0.5, y + (h - off) * 0.5], axis=1)
    w, h = np.where(w > aspect_ratio * h, w, h * aspect_ratio), np.where(w > aspect_ratio * h, w / aspect_ratio, h)
    scale = np.stack([w, h], axis=1) / PIXEL_STD * padding
    return center, scale


def crop_affine(
    center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rotation_deg: float = 0.0,
    convention: str = "unbiased",
) -> np.ndarray:
    """The ``(2, 3)`` affine mapping original pixels to an ``output_size = (H, W)`` crop.

    A similarity: rotation by ``-rotation_deg`` about ``center`` and uniform scale ``(W-1)/(s_w*200-1)``
    (unbiased) or ``W/(s_w*200)`` (hrnet), ``center`` landing on the crop centre.
    """
    _check_convention(convention)
    out_h, out_w = output_size
    src_w = float(np.asarray(scale).reshape(-1)[0]) * PIXEL_STD
    if convention == "unbiased":
        s = (out_w - 1.0) / (src_w - 1.0)
        dst_center = np.array([(out_w - 1.0) * 0.5, (out_h - 1.0) * 0.5])
    else:
        s = out_w / src_w
        dst_center = np.array([out_w * 0.5, out_h * 0.5])
    r = np.deg2rad(rotation_deg)
    m = s * np.array([[np.cos(r), np.sin(r)], [-np.sin(r), np.cos(r)]])
    t = dst_center - m @ np.asarray(center, dtype=np.float64).reshape(2)
    return np.concatenate([m, t[:, None]], axis=1)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of ``(..., 2, 3)`` affines."""
    a = np.asarray(affine, dtype=np.float64)
    m_inv = np.linalg.inv(a[..., :2])
    t_inv = -np.einsum("...ij,...j->...i", m_inv, a[..., 2])
    return np.concatenate([m_inv, t_inv[..., None]], axis=-1)


def apply_affine(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply ``(2, 3)`` (or ``(V, 2, 3)`` to ``(V, N, 2)``) affines to points ``(..., 2)``."""
    a = np.asarray(affine, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    if a.ndim == 2:
        return p @ a[:, :2].T + a[:, 2]
    return np.einsum("vij,vnj->vni", a[:, :, :2], p) + a[:, None, :, 2]


def warp_crop(image: np.ndarray, affine: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Bilinear crop ``(H, W, 3)`` of ``image`` through ``affine`` (zero border, as the official loaders)."""
    out_h, out_w = output_size
    return cv2.warpAffine(image, affine.astype(np.float64), (int(out_w), int(out_h)), flags=cv2.INTER_LINEAR)


def normalize_crops(crops: np.ndarray, rgb: bool) -> np.ndarray:
    """``(V, H, W, 3)`` uint8 BGR crops -> float32 ``(V, H, W, 3)``: optional BGR->RGB, /255, ImageNet mean/std.

    The mean/std are applied in the channel order fed to the network (the multi-view pipeline feeds BGR with
    the RGB-ordered ImageNet statistics, as its official loader does).
    """
    x = crops[..., ::-1] if rgb else crops
    return ((x.astype(np.float32) / 255.0) - IMAGENET_MEAN) / IMAGENET_STD


def token_centers(grid: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Centres ``(N, 2)`` (u, v) in crop pixels of a row-major token grid: ``u = sx*col + (sx-1)/2``."""
    rows, cols = grid
    sy, sx = stride
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.stack([sx * c + (sx - 1) * 0.5, sy * r + (sy - 1) * 0.5], axis=1).astype(np.float64)


def camera_rays(K: np.ndarray, R: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit viewing directions in the world frame ``(N, 3)`` of pixels ``(N, 2)`` (lens distortion ignored).

    World->camera is ``X_cam = R X + t``, so a camera-frame direction ``K^-1 [u, v, 1]`` maps to ``R^T`` of it.
    """
    uv1 = np.concatenate([pixels, np.ones((len(pixels), 1))], axis=1)
    d = np.linalg.solve(K, uv1.T).T @ R  # rows: (R^T K^-1 p)^T
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def token_rays(
    K: np.ndarray, R: np.ndarray, affine: np.ndarray, grid: tuple[int, int], stride: tuple[int, int]
) -> np.ndarray:
    """World-frame unit rays ``(N, 3)`` through the token centres of a crop made with ``affine`` (original->crop).

    Token centres on the crop (``token_centers``) are mapped back to original pixels with the inverse affine and
    back-projected with ``K`` and ``R`` (PPT_SPEC.md 5.2; the official loader does the same with the H36M camera).
    """
    return camera_rays(K, R, apply_affine(invert_affine(affine), token_centers(grid, stride)))


def box_from_points(points: np.ndarray, margin: float = 1.15, min_points: int = 2) -> np.ndarray:
    """Tight boxes ``(V, 4)`` xywh around 2D points ``(V, N, 2)`` (NaN = missing), grown by ``margin``.

    Views with fewer than ``min_points`` valid points get a NaN row (the estimator then uses the full frame).
    Use it with the previous 3D result reprojected into each view.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 2:
        raise ValueError(f"expected points of shape (V, N, 2), got {p.shape}")
    valid = np.isfinite(p).all(axis=-1)
    boxes = np.full((p.shape[0], 4), np.nan)
    for v in range(p.shape[0]):
        q = p[v, valid[v]]
        if len(q) < min_points:
            continue
        lo, hi = q.min(axis=0), q.max(axis=0)
        c, size = (lo + hi) / 2, np.maximum(hi - lo, 1.0) * margin
        boxes[v] = [c[0] - size[0] / 2, c[1] - size[1] / 2, size[0], size[1]]
    return boxes


def full_frame_box(image_shape: tuple[int, ...]) -> np.ndarray:
    """The detector-free fallback box ``(4,)``: the whole image."""
    return np.array([0.0, 0.0, float(image_shape[1]), float(image_shape[0])])
