"""Token masks for display: which image regions each HTI pruning stage kept, as an image-sized map.

Pure numpy/OpenCV (no Qt): the GUI overlays the returned map on the camera frame.
"""

from __future__ import annotations

import cv2
import numpy as np


def token_grid_map(kept: list[np.ndarray], grid: tuple[int, int], stage: int | None = None) -> np.ndarray:
    """Per-token map on the (rows, cols) token grid, float32 in [0, 1].

    Args:
        kept: per pruning stage, (K_s,) indices into the row-major token grid of one view (negative = none).
        grid: (rows, cols) of the token grid.
        stage: a stage index -> 1 where that stage kept the token, else 0; ``None`` -> heat: the share of
            stages that kept the token (tokens kept to the last stage are 1).
    """
    rows, cols = int(grid[0]), int(grid[1])
    out = np.zeros(rows * cols, dtype=np.float32)
    if not kept:
        return out.reshape(rows, cols)
    if stage is not None and not -len(kept) <= stage < len(kept):
        raise ValueError(f"token stage {stage} out of range: the model has {len(kept)} pruning stages")
    stages = [kept[stage]] if stage is not None else kept
    for k in stages:
        idx = np.asarray(k).reshape(-1).astype(np.int64)
        idx = idx[(idx >= 0) & (idx < rows * cols)]
        out[idx] += 1.0
    return (out / len(stages)).reshape(rows, cols)


def token_mask_image(kept: list[np.ndarray], grid: tuple[int, int], stride: tuple[int, int],
                     token_to_image: np.ndarray, image_size: tuple[int, int], stage: int | None = None) -> np.ndarray:
    """The token map drawn in original-image pixels, (H, W) float32 in [0, 1].

    Args:
        kept, grid, stage: as :func:`token_grid_map`.
        stride: (rows, cols) model-input pixels per token.
        token_to_image: (2, 3) affine from model-input pixels to original-image pixels.
        image_size: (width, height) of the original image.
    """
    A = np.asarray(token_to_image, dtype=np.float64)
    if A.shape != (2, 3):
        raise ValueError(f"token_to_image: expected a (2, 3) affine, got shape {A.shape}")
    w, h = int(image_size[0]), int(image_size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be positive (width, height), got {image_size}")
    sy, sx = float(stride[0]), float(stride[1])
    grid_map = token_grid_map(kept, grid, stage)
    # Grid cell (c, r) centre -> model-input pixel centre -> original pixel.
    cell_to_input = np.array([[sx, 0.0, (sx - 1) / 2], [0.0, sy, (sy - 1) / 2], [0.0, 0.0, 1.0]])
    M = A @ cell_to_input
    return cv2.warpAffine(grid_map, M, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0.0)
