"""Cameras, calibration files, triangulation, filters and skeletons (numpy only)."""

from core.geometry.camera import Camera, CameraRig, matrix_to_rodrigues, rodrigues_to_matrix
from core.geometry.calibration_io import CalibrationFileError, load_rig, save_toml
from core.geometry.skeletons import BODY25B, COCO17, H36M17, Skeleton, get_skeleton
from core.geometry.triangulation import TriangulationResult, triangulate, triangulate_sequence

__all__ = [
    "Camera", "CameraRig", "matrix_to_rodrigues", "rodrigues_to_matrix", "CalibrationFileError", "load_rig",
    "save_toml", "BODY25B", "COCO17", "H36M17", "Skeleton", "get_skeleton", "TriangulationResult",
    "triangulate", "triangulate_sequence",
]
