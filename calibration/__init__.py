"""Camera calibration with checkerboards and ChArUco boards: detection, intrinsics, extrinsics with bundle
adjustment, floor / world frame, reports, and an incremental session for the GUI wizard.

Uses :class:`core.geometry.Camera` / :class:`core.geometry.CameraRig` and their TOML files; no Qt.
"""

from calibration.boards import Checkerboard, CharucoBoard, make_board, parse_length, write_board
from calibration.detection import BoardNotFoundError, Detection, DetectionSet, detect_board, detect_in_sources
from calibration.extrinsics import DisconnectedCamerasError, ExtrinsicsResult, MetricCheck, calibrate_extrinsics
from calibration.floor import board_pose_in_world, find_floor_frame, set_world_frame
from calibration.intrinsics import Coverage, IntrinsicsResult, NotEnoughViewsError, calibrate_intrinsics
from calibration.session import CalibrationCancelled, CalibrationSession, FrameFeedback, SessionStatus

__all__ = [
    "Checkerboard", "CharucoBoard", "make_board", "parse_length", "write_board", "BoardNotFoundError", "Detection",
    "DetectionSet", "detect_board", "detect_in_sources", "DisconnectedCamerasError", "ExtrinsicsResult",
    "MetricCheck", "calibrate_extrinsics", "board_pose_in_world", "find_floor_frame", "set_world_frame",
    "Coverage", "IntrinsicsResult", "NotEnoughViewsError", "calibrate_intrinsics", "CalibrationCancelled",
    "CalibrationSession", "FrameFeedback", "SessionStatus",
]
