"""Skeleton definitions: joint names, bones, left/right pairs, and mappings between joint sets.

Orders are the datasets' own: COCO-17 (COCO keypoints), Human3.6M-17 (as in the multi-view PPT code,
``PPT_SPEC.md`` section 5.3) and OpenPose BODY_25B (as written by OpenPose and read by Pose2Sim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A named joint set.

    Attributes:
        name: skeleton name (``"coco17"``, ``"h36m17"``, ``"body25b"``).
        joints: joint names, in the set's index order.
        bones: pairs of joint indices (parent, child) drawn as limbs.
        flip_pairs: left/right joint index pairs (for flipping augmentation).
    """

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no joint {joint!r} (joints: {list(self.joints)})") from None

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps left and right joints, (J,)."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _bones(joints: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((joints.index(a), joints.index(b)) for a, b in pairs)


_COCO = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
COCO17 = Skeleton(
    "coco17",
    _COCO,
    _bones(_COCO, [
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"),
        ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ]),
    ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
)

_H36M = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine",
    "thorax", "nose", "head_top", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
    "right_elbow", "right_wrist",
)
H36M17 = Skeleton(
    "h36m17",
    _H36M,
    _bones(_H36M, [
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("pelvis", "spine"),
        ("spine", "thorax"), ("thorax", "nose"), ("nose", "head_top"), ("thorax", "left_shoulder"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("thorax", "right_shoulder"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ]),
    ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
)

_BODY25B = _COCO + (
    "upper_neck", "head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)
BODY25B = Skeleton(
    "body25b",
    _BODY25B,
    COCO17.bones + _bones(_BODY25B, [
        ("upper_neck", "head_top"), ("left_shoulder", "upper_neck"), ("right_shoulder", "upper_neck"),
        ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
        ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"),
    ]),
    COCO17.flip_pairs + ((19, 22), (20, 23), (21, 24)),
)

SKELETONS = {s.name: s for s in (COCO17, H36M17, BODY25B)}

#: Pose2Sim's BODY_25B marker names (as in its TRC files) -> BODY_25B joint names.
POSE2SIM_BODY25B_MARKERS = {
    "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "RBigToe": "right_big_toe",
    "RSmallToe": "right_small_toe", "RHeel": "right_heel", "LHip": "left_hip", "LKnee": "left_knee",
    "LAnkle": "left_ankle", "LBigToe": "left_big_toe", "LSmallToe": "left_small_toe", "LHeel": "left_heel",
    "Neck": "upper_neck", "Head": "head_top", "Nose": "nose", "RShoulder": "right_shoulder",
    "RElbow": "right_elbow", "RWrist": "right_wrist", "LShoulder": "left_shoulder", "LElbow": "left_elbow",
    "LWrist": "left_wrist",
}

#: Multi-view PPT's initialisation map: H36M joint i takes COCO keypoint token ``COCO_TO_H36M_TOKEN[i]``.
COCO_TO_H36M_TOKEN = (12, 12, 14, 16, 11, 13, 15, 11, 1, 0, 2, 5, 7, 9, 6, 8, 10)


def get_skeleton(name: str) -> Skeleton:
    try:
        return SKELETONS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None


def joint_order(joint_names, skeleton: Skeleton) -> np.ndarray:
    """Indices (J,) into ``joint_names`` of ``skeleton``'s joints, in the skeleton's order (e.g. a studio session's
    ground truth, which holds more joints, read as Human3.6M-17); ``ValueError`` naming the joints it lacks."""
    names = [str(n) for n in joint_names]
    missing = [j for j in skeleton.joints if j not in names]
    if missing:
        raise ValueError(f"the joint list lacks {skeleton.name} joints {missing}; it has {names}")
    return np.array([names.index(j) for j in skeleton.joints])


def convert_joints(points: np.ndarray, source: Skeleton, target: Skeleton) -> np.ndarray:
    """Map joint arrays (..., J_source, D) to ``target``'s joints (..., J_target, D).

    Joints with the same name are copied. For COCO/BODY25B -> H36M, joints COCO lacks are derived:
    pelvis = mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax), head_top = BODY25B head top or
    NaN. Joints that cannot be derived are NaN.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-2] != source.num_joints:
        raise ValueError(
            f"convert_joints: expected {source.num_joints} {source.name} joints on axis -2, got shape {points.shape}"
        )
    out = np.full(points.shape[:-2] + (target.num_joints, points.shape[-1]), np.nan)
    for j, name in enumerate(target.joints):
        if name in source.joints:
            out[..., j, :] = points[..., source.index(name), :]

    def mid(a: str, b: str) -> np.ndarray:
        return (points[..., source.index(a), :] + points[..., source.index(b), :]) / 2

    if target.name == "h36m17" and "left_hip" in source.joints:
        pelvis = mid("left_hip", "right_hip")
        thorax = mid("left_shoulder", "right_shoulder")
        out[..., target.index("pelvis"), :] = pelvis
        out[..., target.index("thorax"), :] = thorax
        out[..., target.index("spine"), :] = (pelvis + thorax) / 2
    if target.name in ("coco17", "body25b") and source.name == "h36m17":
        pass  # eyes and ears have no H36M counterpart: NaN
    return out


#: Head top above the mid-ears point, as a multiple of the ear-to-ear distance (the virtual studio's actors, on
#: which our weights are trained, put it there: 0.064 vs 0.095 of the head height; :func:`head_top_from_face`).
HEAD_TOP_PER_EAR_WIDTH = 0.674


def head_top_from_face(points: np.ndarray, source: Skeleton) -> np.ndarray:
    """Human3.6M's head top from a face-only skeleton's 3D points (..., J, 3) -> (..., 3); NaN when undefined.

    Rule: ``head_top = mid_ears + HEAD_TOP_PER_EAR_WIDTH * |left_ear - right_ear| * up``, with ``up`` the head's
    up direction ``normalise(cross(nose - mid_ears, left_ear - right_ear))`` (forward x left, right-handed world);
    without a nose, ``up`` is ``normalise(mid_ears - mid_shoulders)``. 3D only: the cross product needs depth.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3 or p.shape[-2] != source.num_joints:
        raise ValueError(f"head_top_from_face: expected (..., {source.num_joints}, 3) {source.name} points, "
                         f"got {p.shape}")
    left, right = p[..., source.index("left_ear"), :], p[..., source.index("right_ear"), :]
    mid = (left + right) / 2
    lateral = left - right
    width = np.linalg.norm(lateral, axis=-1, keepdims=True)
    up = np.cross(p[..., source.index("nose"), :] - mid, lateral)
    shoulders = (p[..., source.index("left_shoulder"), :] + p[..., source.index("right_shoulder"), :]) / 2
    up = np.where(np.isfinite(up).all(-1, keepdims=True), up, mid - shoulders)
    with np.errstate(invalid="ignore", divide="ignore"):
        up = up / np.linalg.norm(up, axis=-1, keepdims=True)
    return mid + HEAD_TOP_PER_EAR_WIDTH * width * up


def teacher_to_h36m(points: np.ndarray, source: Skeleton) -> np.ndarray:
    """A teacher's 3D joints (..., J, 3) in ``source`` (COCO-17, BODY_25B or H36M-17) -> Human3.6M-17 (..., 17, 3).

    The rule of multi-view bootstrapping (``docs/FINETUNE.md``): joints with the same name are copied; pelvis =
    mid-hips, thorax = mid-shoulders, spine = mid(pelvis, thorax) (:func:`convert_joints`); head top = the
    source's own head top (BODY_25B) or :func:`head_top_from_face` (COCO-17). A Human3.6M-17 teacher passes
    through unchanged. Missing source joints give NaN.
    """
    if source.name == H36M17.name:  # its own pelvis, spine and thorax (a PPT result set as teacher)
        return np.array(points, dtype=np.float64)
    out = convert_joints(points, source, H36M17)
    if "head_top" not in source.joints and "left_ear" in source.joints:
        out[..., H36M17.index("head_top"), :] = head_top_from_face(points, source)
    return out
