import numpy as np
import pytest

from core.geometry.skeletons import COCO17, H36M17
from core.studio.body import (DOF, DOF_NAMES, JOINT_LIMITS, STUDIO_JOINTS, BodyShape, clip_to_limits,
                              forward_kinematics, joint_indices, lowest_sole, standing_angles)


def test_joint_sets_map_by_name():
    h = joint_indices(H36M17)
    c = joint_indices("coco17")
    assert [STUDIO_JOINTS[i] for i in h] == list(H36M17.joints)
    assert [STUDIO_JOINTS[i] for i in c] == list(COCO17.joints)
    assert list(h) == list(range(17))  # the studio order starts with H36M-17


def test_forward_kinematics_shapes_and_floor():
    shape = BodyShape(height=1.8)
    T = 5
    pose = forward_kinematics(shape, np.zeros((T, 2)), np.linspace(0, 3, T), standing_angles(T))
    assert pose.origins.shape == (T, 17, 3)
    assert pose.rotations.shape == (T, 17, 3, 3)
    assert pose.joints.shape == (T, len(STUDIO_JOINTS), 3)
    np.testing.assert_allclose(lowest_sole(shape, pose), 0.0, atol=1e-12)
    # Realistic proportions: head top near the height, pelvis near half of it.
    head = pose.joints[0, STUDIO_JOINTS.index("head_top"), 2]
    pelvis = pose.joints[0, STUDIO_JOINTS.index("pelvis"), 2]
    assert 0.93 * 1.8 < head < 1.03 * 1.8
    assert 0.45 * 1.8 < pelvis < 0.58 * 1.8
    # Rotations stay rotations.
    R = pose.rotations.reshape(-1, 3, 3)
    np.testing.assert_allclose(R @ np.transpose(R, (0, 2, 1)), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)


def test_facing_and_sides():
    """Yaw 0 faces world +x: the nose is in front of the pelvis and the left hip on the +y side."""
    pose = forward_kinematics(BodyShape(), np.zeros((1, 2)), np.zeros(1), standing_angles(1))
    j = pose.joints[0]
    assert j[STUDIO_JOINTS.index("nose"), 0] > j[0, 0] + 0.05
    assert j[STUDIO_JOINTS.index("left_hip"), 1] > 0 > j[STUDIO_JOINTS.index("right_hip"), 1]
    assert j[STUDIO_JOINTS.index("left_eye"), 1] > j[STUDIO_JOINTS.index("right_eye"), 1]


def test_joint_limits_are_applied():
    a = np.zeros((1, len(DOF_NAMES)))
    a[0, DOF["l_knee_flex"]] = 400
    a[0, DOF["r_elbow_flex"]] = -50
    c = clip_to_limits(a)
    assert c[0, DOF["l_knee_flex"]] == JOINT_LIMITS["l_knee_flex"][1]
    assert c[0, DOF["r_elbow_flex"]] == JOINT_LIMITS["r_elbow_flex"][0]
    # Knee flexion bends the shin backward.
    a = standing_angles(1)
    a[0, DOF["l_knee_flex"]] = 90
    a[0, DOF["l_hip_flex"]] = 90
    pose = forward_kinematics(BodyShape(), np.zeros((1, 2)), np.zeros(1), a)
    j = pose.joints[0]
    knee, ankle = j[STUDIO_JOINTS.index("left_knee")], j[STUDIO_JOINTS.index("left_ankle")]
    hip = j[STUDIO_JOINTS.index("left_hip")]
    assert knee[0] > hip[0] + 0.3  # thigh forward
    assert ankle[2] < knee[2] - 0.3  # shin hangs down


def test_bad_shape():
    with pytest.raises(ValueError, match="height"):
        BodyShape(height=17.5)
    with pytest.raises(ValueError, match="unknown body proportions"):
        BodyShape(proportions={"tail": 1.0})
    with pytest.raises(ValueError, match="no joints"):
        from core.geometry.skeletons import BODY25B
        joint_indices(BODY25B)
