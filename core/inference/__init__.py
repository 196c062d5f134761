"""Inference runtime: crops and camera rays, batched (multi-view) PPT forward, decoding to original pixels."""

from core.inference.decode import decode_argmax, decode_dark, decode_heatmaps
from core.inference.device import autocast_for, select_device, set_threads
from core.inference.runner import PoseModelRunner, PoseEstimate
from core.inference.optimize import compile_model, fold_batchnorm, optimize_for_inference, set_attention_impl
from core.inference.preprocess import (
    INPUT_RECIPES,
    InputRecipe,
    box_from_points,
    box_to_center_scale,
    camera_rays,
    crop_affine,
    get_input_recipe,
    invert_affine,
)

__all__ = [
    "INPUT_RECIPES",
    "InputRecipe",
    "PoseModelRunner",
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
    "get_input_recipe",
    "invert_affine",
    "optimize_for_inference",
    "select_device",
    "set_attention_impl",
    "set_threads",
]
