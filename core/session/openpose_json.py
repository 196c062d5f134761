"""OpenPose JSON keypoint files: one ``*.json`` per frame and camera (``{"people": [{"pose_keypoints_2d": [...]}]}``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from core.geometry.calibration_io import load_rig

_NUMBER = re.compile(r"(\d+)(?=\D*$)")


def _frame_number(path: Path) -> int:
    match = _NUMBER.search(path.stem)
    return int(match.group(1)) if match else -1


def read_openpose_folder(folder, num_joints: int | None = None, person: str = "most-confident") -> np.ndarray:
    """Read one camera's OpenPose JSON folder into (T, J, 3) ``(x, y, confidence)``, frames in numeric order.

    Args:
        folder: folder with one JSON file per frame (the frame number is the last number in the name).
        num_joints: expected joints per person (e.g. 25 for BODY_25B); ``None`` takes it from the data.
        person: which person of a multi-person frame: ``"most-confident"`` (highest mean confidence) or
            ``"first"``. A frame with no person gives NaN coordinates and zero confidence.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"OpenPose keypoint folder not found: {folder}")
    files = sorted(folder.glob("*.json"), key=lambda p: (_frame_number(p), p.name))
    if not files:
        raise FileNotFoundError(f"no OpenPose .json files in {folder}")
    frames: list[np.ndarray | None] = []
    for path in files:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid OpenPose JSON ({exc})") from exc
        people = data.get("people") if isinstance(data, dict) else None
        if people is None:
            raise ValueError(f"{path}: no 'people' list; expected OpenPose JSON output")
        best = None
        for p in people:
            kp = np.asarray(p.get("pose_keypoints_2d", []), dtype=np.float64)
            if kp.size == 0:
                continue  # a person entry without body keypoints
            if kp.size % 3:
                raise ValueError(f"{path}: pose_keypoints_2d has {kp.size} values, expected 3 per joint")
            kp = kp.reshape(-1, 3)
            if best is None or (person == "most-confident" and kp[:, 2].mean() > best[:, 2].mean()):
                best = kp
            if person == "first":
                break
        frames.append(best)
    sizes = {f.shape[0] for f in frames if f is not None}
    if num_joints is None:
        if not sizes:
            raise ValueError(f"{folder}: no person detected in any frame, cannot tell the number of joints")
        num_joints = max(sizes)
    bad = sorted(s for s in sizes if s != num_joints)
    if bad:
        raise ValueError(f"{folder}: people with {bad} joints, expected {num_joints}")
    out = np.zeros((len(frames), num_joints, 3))
    out[..., :2] = np.nan
    for i, f in enumerate(frames):
        if f is not None:
            out[i] = f
    # OpenPose writes (0, 0, 0) for an undetected joint.
    undetected = out[..., 2] <= 0
    out[undetected, :2] = np.nan
    out[undetected, 2] = 0.0
    return out


def read_openpose_session(folders: list, num_joints: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read one folder per camera -> ``points_2d`` (T, C, J, 2) and ``confidence`` (T, C, J).

    Cameras with fewer frames are padded with missing observations up to the longest.
    """
    per_camera = [read_openpose_folder(f, num_joints) for f in folders]
    joints = {a.shape[1] for a in per_camera}
    if len(joints) > 1:
        raise ValueError(f"cameras disagree on the number of joints: {sorted(joints)}")
    T = max(a.shape[0] for a in per_camera)
    J = per_camera[0].shape[1]
    pts = np.full((T, len(per_camera), J, 2), np.nan)
    conf = np.zeros((T, len(per_camera), J))
    for c, a in enumerate(per_camera):
        pts[: len(a), c] = a[..., :2]
        conf[: len(a), c] = a[..., 2]
    return pts, conf


def read_pose2sim_project(root) -> tuple:
    """A Pose2Sim project folder (``calibration.toml``, ``openpose_2d/<one folder per camera>/``, ``videos/*.mp4``):
    ``(rig, keypoints (C, T, 25, 3) OpenPose BODY_25B x, y px and confidence, videos)``, cameras in sorted order,
    which is the calibration's order in Pose2Sim's projects."""
    root = Path(root)
    rig = load_rig(root / "calibration.toml")
    keypoints = root / "openpose_2d"
    if not keypoints.is_dir():
        raise NotADirectoryError(f"{root}: no openpose_2d folder (one OpenPose JSON folder per camera expected)")
    folders = sorted(p for p in keypoints.iterdir() if p.is_dir())
    videos = sorted((root / "videos").glob("*.mp4"))
    if len(folders) != len(rig) or len(videos) != len(rig):
        raise FileNotFoundError(f"{root}: expected {len(rig)} keypoint folders and videos (one per calibrated "
                                f"camera), got {len(folders)} and {len(videos)}")
    return rig, np.stack([read_openpose_folder(f, num_joints=25) for f in folders]), videos
