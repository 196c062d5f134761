"""2D keypoints read from files as an estimator: OpenPose JSON folders, frame index -> keypoints.

JSON file ``k`` (sorted by the number in its name) belongs to video frame ``k``; the frame set's frame indices
select the row, so a recording replays with its precomputed 2D exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.estimators.base import Estimator, Stopwatch, check_frame_set
from core.geometry import CameraRig, get_skeleton
from core.records import FrameSet, Poses2D
from core.session.openpose_json import read_openpose_folder
from core.session.replay import Session

log = logging.getLogger(__name__)
SKELETON_BY_JOINTS = {25: "body25b", 17: "coco17"}


def _norm(name: str) -> str:
    import re

    return re.sub(r"json|[^a-z0-9]", "", name.lower()).lstrip("0")


def match_camera_folders(cameras: list[str], root) -> dict[str, Path]:
    """One keypoint folder per camera under ``root``: by name (``cam_01`` ~ ``cam01_json``), else sorted order."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"keypoint folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise FileNotFoundError(f"{root} has no per-camera subfolders (expected one per camera: {cameras})")
    by_name = {}
    for cam in cameras:
        hits = [f for f in folders if _norm(f.name) == _norm(cam) or _norm(f.name).endswith(_norm(cam))]
        if len(hits) == 1:
            by_name[cam] = hits[0]
    if len(by_name) == len(cameras):
        return by_name
    if len(folders) != len(cameras):
        raise ValueError(f"{root} has {len(folders)} camera folders ({[f.name for f in folders]}) but there are "
                         f"{len(cameras)} cameras ({cameras}); expected one folder per camera")
    log.info("keypoint folders matched by sorted order: %s", dict(zip(cameras, [f.name for f in folders])))
    return dict(zip(cameras, folders))


class OpenPoseJSONEstimator(Estimator):
    """Keypoints from OpenPose JSON folders (one per camera), looked up by the frames' indices.

    Args:
        root: folder holding one subfolder of per-frame JSON files per camera.
        cameras: the rig's camera names (folders are matched to them).
        skeleton: joint set name; default from the joint count (25 -> BODY_25B, 17 -> COCO-17).
    """

    name = "openpose-json"

    def __init__(self, root, cameras: list[str], skeleton: str | None = None) -> None:
        self.root = Path(root)
        folders = match_camera_folders(cameras, self.root)
        self.cameras = list(cameras)
        self._data = {c: read_openpose_folder(folders[c]) for c in cameras}
        joints = {a.shape[1] for a in self._data.values()}
        if len(joints) != 1:
            raise ValueError(f"keypoint folders disagree on the number of joints: {sorted(joints)}")
        J = joints.pop()
        name = skeleton or SKELETON_BY_JOINTS.get(J)
        if name is None:
            raise ValueError(f"cannot tell the skeleton of {J}-joint keypoints; pass skeleton=")
        self.skeleton = get_skeleton(name)
        if self.skeleton.num_joints != J:
            raise ValueError(f"skeleton {self.skeleton.name} has {self.skeleton.num_joints} joints, files have {J}")
        self.num_frames = max(len(a) for a in self._data.values())
        self.description = f"OpenPose JSON from {self.root} ({self.num_frames} frames, {self.skeleton.name})"

    def settings(self) -> dict:
        return {"backend": self.name, "root": str(self.root), "skeleton": self.skeleton.name,
                "description": self.description}

    def keypoints_at(self, camera: str, index: int) -> np.ndarray:
        """(J, 3) ``(x, y, confidence)`` of ``camera`` at frame ``index`` (NaN/0 beyond the files)."""
        a = self._data[camera]
        if 0 <= index < len(a):
            return a[index]
        out = np.zeros((a.shape[1], 3))
        out[:, :2] = np.nan
        return out

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        sw = Stopwatch()
        with sw("lookup"):
            C, J = len(rig), self.skeleton.num_joints
            kp = np.full((C, J, 2), np.nan)
            conf = np.zeros((C, J))
            for c, cam in enumerate(rig.names):
                frame = frame_set.frames.get(cam)
                if frame is None or cam not in self._data:
                    continue
                a = self.keypoints_at(cam, frame.index)
                kp[c], conf[c] = a[:, :2], a[:, 2]
        indices = [f.index for f in frame_set.frames.values()]
        return Poses2D(rig.names, kp, conf, self.skeleton, timings=sw.timings,
                       frame_index=int(np.median(indices)) if indices else frame_set.index)


class RecordedEstimator(Estimator):
    """The 2D keypoints of a recorded result set (``results/<name>/``), looked up by frame-set index: re-triangulate
    and re-filter a session with other settings without running a model again."""

    name = "recorded"

    def __init__(self, session, result: str = "live") -> None:

        sess = session if hasattr(session, "results") else Session(session)
        res = sess.results(result)
        if "keypoints" not in res.arrays:
            raise ValueError(f"result set {result!r} of {sess.path} has no 2D keypoints")
        self.skeleton = res.skeleton
        self.cameras = list(res.settings.get("cameras", sess.cameras))
        self._rows = {int(i): r for r, i in enumerate(res.arrays["frame_index"]) if i >= 0}
        self._kp = res.arrays["keypoints"]
        self._conf = res.arrays["confidence"]
        self.description = f"2D keypoints recorded in {sess.path}/results/{result}"
        self.source = {"session": str(sess.path), "result": result}

    def settings(self) -> dict:
        return {"backend": self.name, **self.source, "description": self.description}

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        kp = np.full((C, J, 2), np.nan)
        conf = np.zeros((C, J))
        row = self._rows.get(frame_set.index)
        if row is not None:
            for c, cam in enumerate(rig.names):
                if cam in frame_set.frames and cam in self.cameras:
                    k = self.cameras.index(cam)
                    kp[c], conf[c] = self._kp[row, k], self._conf[row, k]
        return Poses2D(rig.names, kp, conf, self.skeleton, frame_index=frame_set.index)
