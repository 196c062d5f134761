"""The articulated body of a studio actor: proportions, segments, joint angles, forward kinematics.

Frames and units: world frame Z up, metres. Every segment has a frame whose rest orientation is the body
frame: ``x`` forward (anterior), ``y`` to the actor's left, ``z`` up. A segment's origin is its proximal
joint (the hip for the thigh, the shoulder for the upper arm, ...). Limbs hang down ``-z`` at rest.

Joint angles are degrees, named in :data:`DOF_NAMES`, with clinical signs: flexion forward (knees and
elbows bend their own way), abduction away from the midline, lateral bend to the left, twist to the left.
:data:`JOINT_LIMITS` bound every angle. Forward kinematics is vectorised over time: ``(T, ...)`` arrays.

The keypoints (:data:`STUDIO_JOINTS`) are the Human3.6M-17 joints in their order, then the COCO face
points (eyes, ears) and the BODY_25B foot points (toes, heels); :func:`joint_indices` selects any skeleton
of :mod:`core.geometry.skeletons` by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace

import numpy as np

from core.geometry.skeletons import COCO17, H36M17, Skeleton, get_skeleton

# ------------------------------------------------------------------------------------------------
# Segments and keypoints
SEGMENTS = (
    "pelvis", "lumbar", "chest", "neck", "head",
    "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm", "r_hand",
    "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot",
)
SEG = {name: i for i, name in enumerate(SEGMENTS)}
PARENT = np.array([-1, 0, 1, 2, 3, 2, 5, 6, 2, 8, 9, 0, 11, 12, 0, 14, 15])

STUDIO_JOINTS = H36M17.joints + (
    "left_eye", "right_eye", "left_ear", "right_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
STUDIO_SKELETON = Skeleton(
    "studio27",
    STUDIO_JOINTS,
    H36M17.bones + tuple((STUDIO_JOINTS.index(a), STUDIO_JOINTS.index(b)) for a, b in [
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
        ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
        ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"),
    ]),
    H36M17.flip_pairs + ((17, 18), (19, 20), (21, 24), (22, 25), (23, 26)),
)


def joint_indices(skeleton: Skeleton | str) -> np.ndarray:
    """Indices into :data:`STUDIO_JOINTS` giving ``skeleton``'s joints in its order, (J,)."""
    if isinstance(skeleton, str):

        skeleton = STUDIO_SKELETON if skeleton == STUDIO_SKELETON.name else get_skeleton(skeleton)
    missing = [j for j in skeleton.joints if j not in STUDIO_JOINTS]
    if missing:
        raise ValueError(f"studio actors have no joints {missing} (skeleton {skeleton.name!r})")
    return np.array([STUDIO_JOINTS.index(j) for j in skeleton.joints])


H36M_INDEX = joint_indices(H36M17)
COCO_INDEX = joint_indices(COCO17)

# ------------------------------------------------------------------------------------------------
# Degrees of freedom
DOF_NAMES = (
    "lumbar_flex", "lumbar_bend", "lumbar_twist",
    "chest_flex", "chest_bend", "chest_twist",
    "neck_flex", "neck_bend", "neck_twist",
    "head_flex", "head_bend", "head_twist",
    "l_shoulder_flex", "l_shoulder_abd", "l_shoulder_twist", "l_elbow_flex", "l_wrist_flex",
    "r_shoulder_flex", "r_shoulder_abd", "r_shoulder_twist", "r_elbow_flex", "r_wrist_flex",
    "l_hip_flex", "l_hip_abd", "l_hip_twist", "l_knee_flex", "l_ankle_flex",
    "r_hip_flex", "r_hip_abd", "r_hip_twist", "r_knee_flex", "r_ankle_flex",
)
DOF = {name: i for i, name in enumerate(DOF_NAMES)}

#: Anatomical range of every angle, degrees (min, max).
JOINT_LIMITS = {
    "lumbar_flex": (-25, 60), "lumbar_bend": (-25, 25), "lumbar_twist": (-30, 30),
    "chest_flex": (-20, 40), "chest_bend": (-20, 20), "chest_twist": (-30, 30),
    "neck_flex": (-40, 50), "neck_bend": (-30, 30), "neck_twist": (-60, 60),
    "head_flex": (-30, 30), "head_bend": (-20, 20), "head_twist": (-30, 30),
    "l_shoulder_flex": (-60, 180), "l_shoulder_abd": (-10, 180), "l_shoulder_twist": (-90, 90),
    "l_elbow_flex": (0, 150), "l_wrist_flex": (-60, 60),
    "r_shoulder_flex": (-60, 180), "r_shoulder_abd": (-10, 180), "r_shoulder_twist": (-90, 90),
    "r_elbow_flex": (0, 150), "r_wrist_flex": (-60, 60),
    "l_hip_flex": (-25, 125), "l_hip_abd": (-25, 50), "l_hip_twist": (-40, 40),
    "l_knee_flex": (0, 150), "l_ankle_flex": (-45, 30),
    "r_hip_flex": (-25, 125), "r_hip_abd": (-25, 50), "r_hip_twist": (-40, 40),
    "r_knee_flex": (0, 150), "r_ankle_flex": (-45, 30),
}
LIMITS_LOW = np.array([JOINT_LIMITS[n][0] for n in DOF_NAMES], dtype=np.float64)
LIMITS_HIGH = np.array([JOINT_LIMITS[n][1] for n in DOF_NAMES], dtype=np.float64)

# Per segment: the elementary rotations (axis, dof, sign) applied as R = R1 @ R2 @ R3 (flex, abd, twist).
_SEGMENT_DOFS: dict[str, list[tuple[str, str, float]]] = {
    "lumbar": [("y", "lumbar_flex", 1), ("x", "lumbar_bend", -1), ("z", "lumbar_twist", 1)],
    "chest": [("y", "chest_flex", 1), ("x", "chest_bend", -1), ("z", "chest_twist", 1)],
    "neck": [("y", "neck_flex", 1), ("x", "neck_bend", -1), ("z", "neck_twist", 1)],
    "head": [("y", "head_flex", 1), ("x", "head_bend", -1), ("z", "head_twist", 1)],
    "l_upper_arm": [("y", "l_shoulder_flex", -1), ("x", "l_shoulder_abd", 1), ("z", "l_shoulder_twist", 1)],
    "l_forearm": [("y", "l_elbow_flex", -1)],
    "l_hand": [("x", "l_wrist_flex", -1)],
    "r_upper_arm": [("y", "r_shoulder_flex", -1), ("x", "r_shoulder_abd", -1), ("z", "r_shoulder_twist", -1)],
    "r_forearm": [("y", "r_elbow_flex", -1)],
    "r_hand": [("x", "r_wrist_flex", 1)],
    "l_thigh": [("y", "l_hip_flex", -1), ("x", "l_hip_abd", 1), ("z", "l_hip_twist", -1)],
    "l_shin": [("y", "l_knee_flex", 1)],
    "l_foot": [("y", "l_ankle_flex", -1)],
    "r_thigh": [("y", "r_hip_flex", -1), ("x", "r_hip_abd", -1), ("z", "r_hip_twist", 1)],
    "r_shin": [("y", "r_knee_flex", 1)],
    "r_foot": [("y", "r_ankle_flex", -1)],
}


def axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Rotations about a body axis ``"x"``, ``"y"`` or ``"z"`` by angles (T,) radians -> (T, 3, 3)."""
    a = np.asarray(angle_rad, dtype=np.float64).reshape(-1)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros((a.shape[0], 3, 3))
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    k = 3 - i - j
    R[:, k, k] = 1.0
    R[:, i, i] = c
    R[:, j, j] = c
    R[:, i, j] = -s
    R[:, j, i] = s
    return R


def clip_to_limits(angles: np.ndarray) -> np.ndarray:
    """Clamp joint angles (T, D) degrees to :data:`JOINT_LIMITS`."""
    return np.clip(angles, LIMITS_LOW, LIMITS_HIGH)


# ------------------------------------------------------------------------------------------------
# Proportions
#: Default length multipliers of :class:`BodyShape` (1.0 = the average adult proportions below).
PROPORTION_KEYS = ("thigh", "shin", "upper_arm", "forearm", "torso", "shoulder_width", "hip_width", "head", "neck")


@dataclass(frozen=True)
class BodyShape:
    """Dimensions of one actor.

    Lengths are fractions of ``height`` (anthropometric averages, Winter's tables) times a per-part
    multiplier in ``proportions`` (1.0 = average). ``girth`` scales limb and trunk thickness (0.85 slim,
    1.0 average, 1.3 heavy); ``hips`` and ``chest`` shape the trunk's width independently.

    Attributes:
        height: standing height, metres.
        girth: thickness multiplier.
        hips: pelvis width multiplier (wider for most women).
        chest: chest width/depth multiplier.
        proportions: part -> length multiplier, keys :data:`PROPORTION_KEYS`.
    """

    height: float = 1.75
    girth: float = 1.0
    hips: float = 1.0
    chest: float = 1.0
    proportions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.5 < self.height < 2.6:
            raise ValueError(f"actor height must be a plausible human height in metres, got {self.height}")
        unknown = set(self.proportions) - set(PROPORTION_KEYS)
        if unknown:
            raise ValueError(f"unknown body proportions {sorted(unknown)}; expected some of {PROPORTION_KEYS}")

    def p(self, key: str) -> float:
        """Length multiplier of a part."""
        return float(self.proportions.get(key, 1.0))

    def with_(self, **changes) -> "BodyShape":
        return replace(self, **changes)

    # Segment geometry ---------------------------------------------------------------------------
    def lengths(self) -> dict[str, float]:
        """Named lengths in metres."""
        H = self.height
        return {
            "thigh": 0.245 * H * self.p("thigh"),
            "shin": 0.240 * H * self.p("shin"),
            "ankle_height": 0.045 * H,
            "upper_arm": 0.186 * H * self.p("upper_arm"),
            "forearm": 0.146 * H * self.p("forearm"),
            "hand": 0.108 * H * self.p("forearm"),
            "hip_half": 0.065 * H * self.p("hip_width"),
            "shoulder_half": 0.110 * H * self.p("shoulder_width"),
            "lumbar": 0.070 * H * self.p("torso"),
            "chest": 0.080 * H * self.p("torso"),
            "thorax": 0.135 * H * self.p("torso"),
            "neck": 0.055 * H * self.p("neck"),
            "head": 0.130 * H * self.p("head"),
            "foot": 0.152 * H,
        }

    def segment_offsets(self) -> np.ndarray:
        """Origin of every segment in its parent's frame, (S, 3) metres (root: zeros)."""
        L = self.lengths()
        off = np.zeros((len(SEGMENTS), 3))
        off[SEG["lumbar"]] = (0, 0, L["lumbar"])
        off[SEG["chest"]] = (0, 0, L["chest"])
        off[SEG["neck"]] = (-0.005 * self.height, 0, L["thorax"])
        off[SEG["head"]] = (0.005 * self.height, 0, L["neck"])
        for side, sign in (("l", 1.0), ("r", -1.0)):
            off[SEG[f"{side}_upper_arm"]] = (-0.008 * self.height, sign * L["shoulder_half"], L["thorax"] - 0.006 * self.height)
            off[SEG[f"{side}_forearm"]] = (0, 0, -L["upper_arm"])
            off[SEG[f"{side}_hand"]] = (0, 0, -L["forearm"])
            off[SEG[f"{side}_thigh"]] = (0, sign * L["hip_half"], 0)
            off[SEG[f"{side}_shin"]] = (0, 0, -L["thigh"])
            off[SEG[f"{side}_foot"]] = (0, 0, -L["shin"])
        return off

    def keypoint_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Every keypoint of :data:`STUDIO_JOINTS` as (segment index (J,), offset in that frame (J, 3))."""
        H = self.height
        hd = self.p("head")
        ah = self.lengths()["ankle_height"]
        seg = np.zeros(len(STUDIO_JOINTS), dtype=int)
        off = np.zeros((len(STUDIO_JOINTS), 3))

        def put(joint: str, segment: str, offset=(0.0, 0.0, 0.0)) -> None:
            j = STUDIO_JOINTS.index(joint)
            seg[j] = SEG[segment]
            off[j] = offset

        put("pelvis", "pelvis")
        put("spine", "chest")
        put("thorax", "neck")
        put("nose", "head", (0.057 * H * hd, 0, 0.064 * H * hd))
        put("head_top", "head", (-0.004 * H * hd, 0, 0.130 * H * hd))
        for side, name, sign in (("l", "left", 1.0), ("r", "right", -1.0)):
            put(f"{name}_hip", f"{side}_thigh")
            put(f"{name}_knee", f"{side}_shin")
            put(f"{name}_ankle", f"{side}_foot")
            put(f"{name}_shoulder", f"{side}_upper_arm")
            put(f"{name}_elbow", f"{side}_forearm")
            put(f"{name}_wrist", f"{side}_hand")
            put(f"{name}_eye", "head", (0.057 * H * hd, sign * 0.0175 * H * hd, 0.077 * H * hd))
            put(f"{name}_ear", "head", (-0.004 * H * hd, sign * 0.0475 * H * hd, 0.066 * H * hd))
            put(f"{name}_big_toe", f"{side}_foot", (0.098 * H, -sign * 0.010 * H, -ah + 0.016 * H))
            put(f"{name}_small_toe", f"{side}_foot", (0.085 * H, sign * 0.016 * H, -ah + 0.015 * H))
            put(f"{name}_heel", f"{side}_foot", (-0.030 * H, 0.0, -ah + 0.016 * H))
        return seg, off

    def sole_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Points on the soles used to put the feet on the floor: (segment (K,), offset (K, 3))."""
        H = self.height
        ah = self.lengths()["ankle_height"]
        segs, offs = [], []
        for side in ("l", "r"):
            for x in (-0.038 * H, 0.03 * H, 0.105 * H):
                segs.append(SEG[f"{side}_foot"])
                offs.append((x, 0.0, -ah))
        return np.array(segs), np.array(offs)


# ------------------------------------------------------------------------------------------------
# Poses and forward kinematics
@dataclass(frozen=True, eq=False)
class BodyPose:
    """Posed body over T frames (world frame, metres).

    Attributes:
        origins: segment origins (T, S, 3).
        rotations: segment orientations, segment frame -> world, (T, S, 3, 3).
        joints: keypoints :data:`STUDIO_JOINTS` (T, J, 3).
    """

    origins: np.ndarray
    rotations: np.ndarray
    joints: np.ndarray

    def __len__(self) -> int:
        return self.origins.shape[0]

    def frame(self, i: int) -> "BodyPose":
        """One frame as a T = 1 pose."""
        return BodyPose(self.origins[i:i + 1], self.rotations[i:i + 1], self.joints[i:i + 1])


def local_rotations(angles_deg: np.ndarray) -> np.ndarray:
    """Joint angles (T, D) degrees -> each segment's rotation relative to its parent, (T, S, 3, 3)."""
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    T = angles.shape[0]
    out = np.broadcast_to(np.eye(3), (T, len(SEGMENTS), 3, 3)).copy()
    for seg_name, chain in _SEGMENT_DOFS.items():
        R = None
        for axis, dof, sign in chain:
            Ri = axis_rotation(axis, sign * angles[:, DOF[dof]])
            R = Ri if R is None else R @ Ri
        out[:, SEG[seg_name]] = R
    return out


def root_rotation(yaw: np.ndarray, pitch: np.ndarray | None = None, roll: np.ndarray | None = None) -> np.ndarray:
    """Pelvis orientation from heading ``yaw`` (about world z), forward ``pitch`` and ``roll`` (T,) radians -> (T, 3, 3)."""
    yaw = np.asarray(yaw, dtype=np.float64)
    R = axis_rotation("z", yaw)
    if pitch is not None:
        R = R @ axis_rotation("y", pitch)
    if roll is not None:
        R = R @ axis_rotation("x", roll)
    return R


def global_rotations(root_rot: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Compose local rotations (T, S, 3, 3) down the tree under the root orientation (T, 3, 3)."""
    G = np.empty_like(local)
    G[:, 0] = root_rot @ local[:, 0]
    for s in range(1, len(SEGMENTS)):
        G[:, s] = G[:, PARENT[s]] @ local[:, s]
    return G


def place_segments(shape: BodyShape, root_pos: np.ndarray, rotations: np.ndarray) -> BodyPose:
    """Segment origins and keypoints from the root position (T, 3) and global rotations (T, S, 3, 3)."""
    root_pos = np.asarray(root_pos, dtype=np.float64).reshape(-1, 3)
    offsets = shape.segment_offsets()
    T = rotations.shape[0]
    origins = np.empty((T, len(SEGMENTS), 3))
    origins[:, 0] = root_pos
    for s in range(1, len(SEGMENTS)):
        p = PARENT[s]
        origins[:, s] = origins[:, p] + rotations[:, p] @ offsets[s]
    kseg, koff = shape.keypoint_offsets()
    joints = origins[:, kseg] + np.einsum("tjab,jb->tja", rotations[:, kseg], koff)
    return BodyPose(origins, rotations, joints)


def lowest_sole(shape: BodyShape, pose: BodyPose) -> np.ndarray:
    """Height of the lowest sole point per frame, (T,) metres."""
    sseg, soff = shape.sole_points()
    pts = pose.origins[:, sseg] + np.einsum("tkab,kb->tka", pose.rotations[:, sseg], soff)
    return pts[..., 2].min(axis=1)


def forward_kinematics(
    shape: BodyShape,
    root_xy: np.ndarray,
    yaw: np.ndarray,
    angles_deg: np.ndarray,
    *,
    pitch: np.ndarray | None = None,
    roll: np.ndarray | None = None,
    lift: np.ndarray | None = None,
    floor: float = 0.0,
) -> BodyPose:
    """Pose the body from joint angles, standing on the floor.

    Args:
        shape: the actor's dimensions.
        root_xy: pelvis position on the floor plane (T, 2) metres (world x, y).
        yaw: heading (T,) radians, 0 = facing world +x.
        angles_deg: joint angles (T, D) degrees in :data:`DOF_NAMES` order (clamped to the limits).
        pitch, roll: whole-body lean (T,) radians.
        lift: height of the lowest sole above the floor (T,) metres (jumps); 0 = standing on it.
        floor: floor height, metres.
    """
    angles = clip_to_limits(np.asarray(angles_deg, dtype=np.float64))
    T = angles.shape[0]
    root_xy = np.asarray(root_xy, dtype=np.float64).reshape(T, 2)
    rot = global_rotations(root_rotation(yaw, pitch, roll), local_rotations(angles))
    zero = np.zeros((T, 3))
    zero[:, :2] = root_xy
    pose = place_segments(shape, zero, rot)
    dz = floor - lowest_sole(shape, pose) + (0.0 if lift is None else np.asarray(lift, dtype=np.float64))
    shift = np.zeros((T, 1, 3))
    shift[:, 0, 2] = dz
    return BodyPose(pose.origins + shift, pose.rotations, pose.joints + shift)


def standing_angles(T: int = 1) -> np.ndarray:
    """Neutral standing angles (T, D): arms relaxed at the sides, knees and elbows slightly bent."""
    a = np.zeros((T, len(DOF_NAMES)))
    for side in ("l", "r"):
        a[:, DOF[f"{side}_shoulder_abd"]] = 6.0
        a[:, DOF[f"{side}_elbow_flex"]] = 12.0
        a[:, DOF[f"{side}_knee_flex"]] = 3.0
        a[:, DOF[f"{side}_hip_abd"]] = 3.0
    return a


class Motion(ABC):
    """A motion: ``sample(shape, times)`` -> :class:`BodyPose` (T frames, world frame, metres). Generated motions are
    in :mod:`core.studio.motion`, recorded ones in :mod:`core.studio.trajectory`."""

    name = "motion"

    @abstractmethod
    def sample(self, shape: BodyShape, times: np.ndarray) -> BodyPose:
        """Poses of an actor of ``shape`` at ``times`` (T,) seconds."""

    def seats(self, shape: BodyShape, duration: float) -> list[tuple[np.ndarray, float, float]]:
        """Stools this motion sits on within ``duration`` s: (pelvis xy (2,), yaw, pelvis height)."""
        return []
