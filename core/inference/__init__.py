"""Inference runtime: crops and camera rays, batched (multi-view) PPT forward, decoding to original pixels."""

from core.inference.decode import decode_argmax, decode_dark, decode_heatmaps
from core.inference.device import autocast_for, select_device, set_threads
from core.inference.estimator import PoseEstimator2D, PoseEstimate
from core.inference.optimize import compile_model, fold_batchnorm, optimize_for_inference, set_attention_impl
from core.inference.preprocess import (
    PIPELINES,
    Pipeline,
    box_from_points,
    box_to_center_scale,
    camera_rays,
    crop_affine,
    get_pipeline,
    invert_affine,
)

__all__ = [
    "PIPELINES",
    "Pipeline",
    "PoseEstimator2D",
    "PoseEstimate",
    "autocast_for",
    "box_from_points",
    "box_to_center_scale",
    "compile_model",
    "camera_rays",
    "crop_affine",
    "decode_argmax",
    "decode_dark",
    "decode_heatmaps",
    "fold_batchnorm",
    "get_pipeline",
    "invert_affine",
    "optimize_for_inference",
    "select_device",
    "set_attention_impl",
    "set_threads",
]
