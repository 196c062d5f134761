"""Playback of real 3D marker trajectories (TRC files) on studio actors.

The markers are Pose2Sim's BODY_25B set (:data:`core.geometry.skeletons.POSE2SIM_BODY25B_MARKERS`), read
with :func:`core.session.trc.read_trc` into the Z-up world. Each frame is retargeted: segment orientations
come from the markers (pelvis and chest frames from hips and shoulders, limbs swung onto the marker
directions, feet from heel and toes, head from neck, head top and nose), then the actor's own segment
lengths place the joints from the recorded pelvis (another body than the fitted one stands at the
recorded ankle height). :func:`fit_shape` sizes an actor
to the recorded person so that the retargeted joints match the markers closely.

Playback loops back and forth (ping-pong) so any duration is defined without a jump, and the clip is
lightly smoothed in time (the markers come from noisy 2D detections).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from core.geometry.filters import fill_gaps
from core.geometry.skeletons import POSE2SIM_BODY25B_MARKERS
from core.session.trc import read_trc
from core.studio.body import SEG, SEGMENTS, STUDIO_JOINTS, BodyPose, BodyShape, Motion, place_segments

log = logging.getLogger(__name__)

REQUIRED = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_shoulder",
            "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "upper_neck", "head_top",
            "nose", "left_heel", "right_heel", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) with columns x, y, z."""
    return np.stack([x, y, z], axis=-1)


def _frame_from_yz(y: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Right-handed frame with ``y`` exact and ``z`` closest to ``up`` (T, 3, 3)."""
    y = _unit(y)
    x = _unit(np.cross(y, up))
    z = np.cross(x, y)
    return _frame(x, y, z)


def _swing(parent: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The parent frame (T, 3, 3) rotated by the smallest rotation taking its -z onto ``direction`` (T, 3)."""
    a = -parent[..., :, 2]
    b = _unit(direction)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1)
    c = np.clip((a * b).sum(-1), -1, 1)
    angle = np.arctan2(s, c)
    fallback = parent[..., :, 1]  # for an exact half turn, turn about the parent's y axis
    axis = np.where((s > 1e-9)[:, None], axis / np.maximum(s, 1e-12)[:, None], fallback)
    return Rotation.from_rotvec(axis * angle[:, None]).as_matrix() @ parent


def marker_dict(markers: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """TRC markers (T, M, 3) -> BODY_25B joint name -> (T, 3); raises ValueError when some are missing."""
    out = {}
    for i, n in enumerate(names):
        if n in POSE2SIM_BODY25B_MARKERS:
            out[POSE2SIM_BODY25B_MARKERS[n]] = markers[:, i]
    missing = [j for j in REQUIRED if j not in out]
    if missing:
        raise ValueError(f"the trajectory lacks markers for {missing}; expected Pose2Sim BODY_25B markers "
                         f"{sorted(POSE2SIM_BODY25B_MARKERS)}")
    return out


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Every NaN frame along axis 0 (T, ...) filled: linear inside, the nearest valid value at the ends."""
    x = np.asarray(x, dtype=np.float64)
    if (~np.isfinite(x.reshape(len(x), -1))).all(axis=0).any():
        raise ValueError("a trajectory marker has no valid frame")
    return fill_gaps(x, max_gap=len(x), hold_ends=True)


def fit_shape(m: dict[str, np.ndarray]) -> BodyShape:
    """Body dimensions matching the recorded person: height and length proportions from median segment lengths."""
    med = {k: float(np.nanmedian(np.linalg.norm(a - b, axis=-1))) for k, (a, b) in {
        "thigh": (m["left_hip"], m["left_knee"]), "thigh_r": (m["right_hip"], m["right_knee"]),
        "shin": (m["left_knee"], m["left_ankle"]), "shin_r": (m["right_knee"], m["right_ankle"]),
        "upper_arm": (m["left_shoulder"], m["left_elbow"]), "upper_arm_r": (m["right_shoulder"], m["right_elbow"]),
        "forearm": (m["left_elbow"], m["left_wrist"]), "forearm_r": (m["right_elbow"], m["right_wrist"]),
        "shoulder_width": (m["left_shoulder"], m["right_shoulder"]), "hip_width": (m["left_hip"], m["right_hip"]),
        "torso": ((m["left_hip"] + m["right_hip"]) / 2, (m["left_shoulder"] + m["right_shoulder"]) / 2),
    }.items()}
    ratios = {"thigh": 0.245, "shin": 0.240, "upper_arm": 0.186, "forearm": 0.146, "torso": 0.285,
              "shoulder_width": 0.22, "hip_width": 0.13}
    lengths = {"thigh": (med["thigh"] + med["thigh_r"]) / 2, "shin": (med["shin"] + med["shin_r"]) / 2,
               "upper_arm": (med["upper_arm"] + med["upper_arm_r"]) / 2,
               "forearm": (med["forearm"] + med["forearm_r"]) / 2, "torso": med["torso"],
               "shoulder_width": med["shoulder_width"], "hip_width": med["hip_width"]}
    estimates = [lengths[k] / ratios[k] for k in ("thigh", "shin", "upper_arm", "forearm", "torso")]
    height = float(np.clip(np.median(estimates), 1.3, 2.2))
    props = {k: float(np.clip(lengths[k] / ratios[k] / height, 0.75, 1.3)) for k in ratios}
    return BodyShape(height=height, proportions=props)


class TrajectoryMotion(Motion):
    """Retargeted playback of marker trajectories.

    Args:
        markers: BODY_25B joint name -> positions (T, 3), world frame (Z up), metres.
        fps: frame rate of the markers, Hz.
        recenter_xy: move the clip so that its mean pelvis position is here on the floor (2,); None keeps
            the recorded position (e.g. to film it with the recording's own calibration).
        smooth_frames: temporal Gaussian smoothing of the markers, in frames (0 = none).
        name: label.
    """

    def __init__(self, markers: dict[str, np.ndarray], fps: float, recenter_xy=(0.0, 0.0), smooth_frames: float = 1.5,
                 name: str = "trajectory") -> None:
        if fps <= 0:
            raise ValueError(f"trajectory fps must be > 0, got {fps}")
        T = next(iter(markers.values())).shape[0]
        if T < 2:
            raise ValueError(f"a trajectory needs at least 2 frames, got {T}")
        m = {k: _fill_gaps(np.asarray(v, dtype=np.float64)) for k, v in markers.items()}
        if smooth_frames > 0:
            m = {k: gaussian_filter1d(v, smooth_frames, axis=0, mode="nearest") for k, v in m.items()}
        if recenter_xy is not None:
            pelvis = (m["left_hip"] + m["right_hip"]) / 2
            shift = np.zeros(3)
            shift[:2] = np.asarray(recenter_xy, dtype=np.float64) - pelvis[:, :2].mean(axis=0)
            m = {k: v + shift for k, v in m.items()}
        self.markers = m
        self.fps = float(fps)
        self.frames = T
        self.name = name
        self.duration = (T - 1) / fps
        self.shape = fit_shape(m)
        self._rotations = self._segment_rotations()

    @classmethod
    def from_trc(cls, path, shape: BodyShape | None = None, recenter_xy=(0.0, 0.0), **kwargs) -> "TrajectoryMotion":
        """Read a Pose2Sim BODY_25B TRC file (Y-up on disk; Z-up world in memory)."""
        path = Path(path)
        points, names, fps, units = read_trc(path, world_up="z")
        if units == "mm":
            points = points / 1000.0
        elif units != "m":
            raise ValueError(f"{path}: TRC units {units!r} not supported; expected 'm' or 'mm'")
        return cls(marker_dict(points, names), fps or 60.0, recenter_xy=recenter_xy, name=path.name, **kwargs)

    # ----------------------------------------------------------------------------------------------
    def _segment_rotations(self) -> np.ndarray:
        """Global orientation of every segment at every recorded frame (T, S, 3, 3)."""
        m = self.markers
        T = self.frames
        R = np.zeros((T, len(SEGMENTS), 3, 3))
        pelvis = (m["left_hip"] + m["right_hip"]) / 2
        thorax = (m["left_shoulder"] + m["right_shoulder"]) / 2
        up = _unit(thorax - pelvis)
        R[:, SEG["pelvis"]] = _frame_from_yz(m["left_hip"] - m["right_hip"], up)
        R[:, SEG["chest"]] = _frame_from_yz(m["left_shoulder"] - m["right_shoulder"], up)
        rel = Rotation.from_matrix(np.einsum("tji,tjk->tik", R[:, SEG["pelvis"]], R[:, SEG["chest"]]))
        half = Rotation.from_rotvec(rel.as_rotvec() * 0.5).as_matrix()
        R[:, SEG["lumbar"]] = R[:, SEG["pelvis"]] @ half
        # Neck: swing the chest's up axis onto thorax -> upper neck (the swing helper works on -z).
        chest_flip = R[:, SEG["chest"]] * np.array([1.0, -1.0, -1.0])  # same frame turned upside down
        neck = _swing(chest_flip, m["upper_neck"] - thorax) * np.array([1.0, -1.0, -1.0])
        R[:, SEG["neck"]] = neck
        z_h = _unit(m["head_top"] - m["upper_neck"])
        fwd = m["nose"] - m["upper_neck"]
        x_h = _unit(fwd - (fwd * z_h).sum(-1, keepdims=True) * z_h)
        R[:, SEG["head"]] = _frame(x_h, np.cross(z_h, x_h), z_h)
        for side, name in (("l", "left"), ("r", "right")):
            R[:, SEG[f"{side}_upper_arm"]] = _swing(R[:, SEG["chest"]], m[f"{name}_elbow"] - m[f"{name}_shoulder"])
            R[:, SEG[f"{side}_forearm"]] = _swing(R[:, SEG[f"{side}_upper_arm"]], m[f"{name}_wrist"] - m[f"{name}_elbow"])
            R[:, SEG[f"{side}_hand"]] = R[:, SEG[f"{side}_forearm"]]
            R[:, SEG[f"{side}_thigh"]] = _swing(R[:, SEG["pelvis"]], m[f"{name}_knee"] - m[f"{name}_hip"])
            R[:, SEG[f"{side}_shin"]] = _swing(R[:, SEG[f"{side}_thigh"]], m[f"{name}_ankle"] - m[f"{name}_knee"])
            toes = (m[f"{name}_big_toe"] + m[f"{name}_small_toe"]) / 2
            x_f = _unit(toes - m[f"{name}_heel"])
            a = m[f"{name}_ankle"] - m[f"{name}_heel"]
            z_f = _unit(a - (a * x_f).sum(-1, keepdims=True) * x_f)
            R[:, SEG[f"{side}_foot"]] = _frame(x_f, np.cross(z_f, x_f), z_f)
        return R

    def _frame_position(self, times: np.ndarray) -> np.ndarray:
        """Fractional recorded frame of each time, looping back and forth."""
        f = np.asarray(times, dtype=np.float64) * self.fps
        period = 2 * (self.frames - 1)
        f = np.mod(f, period)
        return np.where(f > self.frames - 1, period - f, f)

    def sample(self, shape: BodyShape, times: np.ndarray) -> BodyPose:
        """Pose of an actor of ``shape`` at ``times`` (T,) seconds."""
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if np.any(times < 0) or not np.all(np.isfinite(times)):
            raise ValueError("sample: times must be finite and >= 0")
        f = self._frame_position(times)
        i0 = np.clip(np.floor(f).astype(int), 0, self.frames - 1)
        i1 = np.clip(i0 + 1, 0, self.frames - 1)
        w = (f - i0)
        # Interpolate rotations by slerp between neighbouring recorded frames, per segment.
        R0, R1 = self._rotations[i0], self._rotations[i1]
        rel = Rotation.from_matrix(np.einsum("tsji,tsjk->tsik", R0, R1).reshape(-1, 3, 3)).as_rotvec()
        step = Rotation.from_rotvec(rel * np.repeat(w, len(SEGMENTS))[:, None]).as_matrix()
        rot = R0 @ step.reshape(R0.shape)
        m = self.markers
        pelvis = (m["left_hip"] + m["right_hip"]) / 2
        root = pelvis[i0] * (1 - w)[:, None] + pelvis[i1] * w[:, None]
        pose = place_segments(shape, root, rot)
        if shape == self.shape:  # the fitted actor: the pelvis where the recorded pelvis is
            return pose
        # Another body: stand it where the recording stands (lower ankle at the recorded lower ankle's height).
        ankles_rec = np.minimum(m["left_ankle"][:, 2], m["right_ankle"][:, 2])
        rec = ankles_rec[i0] * (1 - w) + ankles_rec[i1] * w
        idx = [STUDIO_JOINTS.index("left_ankle"), STUDIO_JOINTS.index("right_ankle")]
        dz = rec - pose.joints[:, idx, 2].min(axis=1)
        shift = np.zeros((len(times), 1, 3))
        shift[:, 0, 2] = dz
        return BodyPose(pose.origins + shift, pose.rotations, pose.joints + shift)
