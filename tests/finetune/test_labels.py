"""Bootstrapped labels: the joint-set rule, the occlusion test, bootstrapping on a studio take (a teacher with
noise, an outlier view and a blind view), the stored label set, and every bad input named."""

import json
import shutil

import numpy as np
import pytest

from core.finetune.labels import (LABEL_JOINTS, LabelError, LabelSet, LabelSettings, bootstrap_labels,
                                  holdout_start, list_label_sets, make_labels)
from core.geometry.occlusion import body_occlusion
from core.geometry.skeletons import BODY25B, COCO17, H36M17, head_top_from_face, teacher_to_h36m
from core.session.replay import Session
from core.studio.body import COCO_INDEX, H36M_INDEX, STUDIO_JOINTS
from tests.finetune.conftest import FRAMES, TruthTeacher, add_teacher


def test_label_joints_are_h36m_then_face_and_a_prefix_of_the_studio_set():
    assert LABEL_JOINTS[:17] == H36M17.joints and LABEL_JOINTS[17:] == ("left_eye", "right_eye", "left_ear",
                                                                        "right_ear")
    assert LABEL_JOINTS == STUDIO_JOINTS[:21]


def test_teacher_to_h36m_rule_on_studio_actors(studio_take):
    truth = Session(studio_take).reader.ground_truth()
    joints = truth.joints_3d  # (T, 27, 3) studio joints, metres
    coco = joints[:, COCO_INDEX]
    h36m = teacher_to_h36m(coco, COCO17)
    assert h36m.shape == (FRAMES, 17, 3)
    np.testing.assert_allclose(h36m[:, 0], (coco[:, 11] + coco[:, 12]) / 2)  # pelvis = mid-hips
    np.testing.assert_allclose(h36m[:, 8], (coco[:, 5] + coco[:, 6]) / 2)  # thorax = mid-shoulders
    np.testing.assert_allclose(h36m[:, 7], (h36m[:, 0] + h36m[:, 8]) / 2)  # spine between them
    # Head top from the ears and the nose lands on the studio actors' own head top.
    err = np.linalg.norm(h36m[:, 10] - joints[:, STUDIO_JOINTS.index("head_top")], axis=-1)
    assert err.max() < 0.01, err.max()
    # Without a nose the head points from the shoulders through the ears: still within 5 cm.
    no_nose = coco.copy()
    no_nose[:, 0] = np.nan
    err = np.linalg.norm(head_top_from_face(no_nose, COCO17) - joints[:, STUDIO_JOINTS.index("head_top")], axis=-1)
    assert err.max() < 0.05
    # BODY_25B brings its own head top; H36M-17 passes through unchanged.
    b25 = np.zeros((2, 25, 3))
    b25[:, BODY25B.index("head_top")] = 7.0
    assert (teacher_to_h36m(b25, BODY25B)[:, 10] == 7.0).all()
    same = joints[:, H36M_INDEX]
    np.testing.assert_array_equal(teacher_to_h36m(same, H36M17), same)
    with pytest.raises(ValueError, match="expected"):
        head_top_from_face(np.zeros((3, 12, 3)), COCO17)


def _side_cameras(joints):
    """Camera centres 3 m to the person's left and right (from the hips) at pelvis height."""
    lateral = joints[H36M17.index("left_hip")] - joints[H36M17.index("right_hip")]
    lateral /= np.linalg.norm(lateral)
    pelvis = joints[0]
    return np.stack([pelvis + 3 * lateral, pelvis - 3 * lateral])


def test_body_occlusion_hides_the_far_side(studio_take):
    joints = Session(studio_take).reader.ground_truth().joints_3d[0][H36M_INDEX]
    cams = _side_cameras(joints)
    occ = body_occlusion(cams, joints)
    assert occ.shape == (2, 17) and occ.dtype == bool
    left, right = H36M17.index("left_knee"), H36M17.index("right_knee")
    assert occ[1, left] and not occ[1, right]  # the right-side camera does not see the left knee
    assert occ[0, right] and not occ[0, left]
    np.testing.assert_array_equal(body_occlusion(cams * 1000, joints * 1000, "mm"), occ)  # units
    far = cams * 1000  # cameras far away from everything see what the side cameras see
    nan = joints.copy()
    nan[left] = np.nan
    assert not body_occlusion(cams, nan)[:, left].any()  # a missing joint is never occluded
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        body_occlusion(cams, joints[:12])
    with pytest.raises(ValueError, match="units"):
        body_occlusion(far, joints, "cm")


def test_bootstrap_rejects_outliers_fills_blind_views_and_beats_the_teacher(studio_take):
    session = Session(studio_take)
    truth = session.reader.ground_truth()
    teacher = TruthTeacher(truth, noise_px=2.0)
    frames = list(session.frame_sets())
    poses = [teacher.estimate(fs, session.rig) for fs in frames]
    kp = np.stack([p.keypoints for p in poses])
    conf = np.stack([p.confidence for p in poses])
    boot = bootstrap_labels(session.rig, kp, conf, COCO17, session.fps, LabelSettings(offset_window_s=0))
    C = len(session.rig)
    assert boot.joints_2d.shape == (FRAMES, C, 21, 2) and boot.joints_3d.shape == (FRAMES, 21, 3)
    assert boot.reliable.all(), boot.counts()
    counts = boot.counts()
    assert counts["views_filled"] == 6  # camera 2 saw nobody in frames 0-5: labelled from the other views
    assert counts["joints_corrected"] >= FRAMES * 2 * 0.9  # the wrists of camera 1 were rejected as outliers
    truth_2d = truth.joints_2d[:, :, H36M_INDEX]  # (T, C, 17, 2)
    coco_in_label = [LABEL_JOINTS.index(n) for n in COCO17.joints if n in H36M17.joints]
    coco_idx = [COCO17.index(LABEL_JOINTS[j]) for j in coco_in_label]
    truth_coco = truth.joints_2d[:, :, COCO_INDEX][:, :, coco_idx]
    label_err = np.linalg.norm(boot.joints_2d[:, :, coco_in_label] - truth_coco, axis=-1)
    teacher_err = np.linalg.norm(kp[:, :, coco_idx] - truth_coco, axis=-1)
    assert np.nanmedian(label_err) < 0.8 * np.nanmedian(teacher_err)
    assert np.nanmax(label_err[:, 1]) < 15  # the outlier wrists (100 px off) are fixed
    assert np.isfinite(boot.joints_2d[:6, 2, :17]).all()  # the blind view has labels
    err3 = np.linalg.norm(boot.joints_3d[:, :17] - truth.joints_3d[:, H36M_INDEX], axis=-1)
    assert np.nanmedian(err3) < 0.03  # metres; 2 px of noise is about 1.5 cm at 640x480 and 4 m
    from core.geometry.triangulation import triangulate_sequence

    naive = triangulate_sequence(session.rig, kp, conf, outliers=None).points_3d[:, 9:11]  # COCO wrists
    naive_err = np.linalg.norm(naive - truth.joints_3d[:, COCO_INDEX][:, 9:11], axis=-1)
    wrists = [LABEL_JOINTS.index("left_wrist"), LABEL_JOINTS.index("right_wrist")]
    ours = np.linalg.norm(boot.joints_3d[:, wrists] - truth.joints_3d[:, COCO_INDEX][:, 9:11], axis=-1)
    assert np.nanmedian(ours) < 0.3 * np.nanmedian(naive_err)  # the outlier view is rejected, not averaged in
    # Visibility agrees with the studio's depth test for most joints.
    agree = (boot.visible[:, :, :17] == truth.visible[:, :, H36M_INDEX]).mean()
    assert agree > 0.75, agree
    # Projection + per-view offsets: with offsets the labels keep the teacher's persistent shift of a view.
    shifted = kp.copy()
    shifted[:, 3] += np.array([6.0, -4.0])  # px: a calibration slightly off one view (an inlier shift)
    with_offsets = bootstrap_labels(session.rig, shifted, conf, COCO17, session.fps, LabelSettings())
    off = np.nanmedian(with_offsets.offsets[:, 3, :17], axis=(0, 1))
    assert np.allclose(off, [6 * 0.75, -4 * 0.75], atol=2)  # about a quarter of the shift went into the 3D
    assert np.allclose(np.nanmedian(with_offsets.offsets[:, 0, :17], axis=(0, 1)), 0, atol=2)
    moved = with_offsets.joints_2d[:, 3, coco_in_label] - shifted[:, 3, coco_idx]
    assert np.nanmedian(np.linalg.norm(moved, axis=-1)) < np.nanmedian(teacher_err)  # labels follow the view


def test_bootstrap_shapes_and_bad_shapes(studio_take):
    rig = Session(studio_take).rig
    with pytest.raises(ValueError, match="expected keypoints"):
        bootstrap_labels(rig, np.zeros((3, 4, 12, 2)), np.zeros((3, 4, 12)), COCO17, 30)
    with pytest.raises(ValueError, match="has 3 views but the rig has 4"):
        bootstrap_labels(rig, np.zeros((3, 3, 17, 2)), np.zeros((3, 3, 17)), COCO17, 30)
    nobody = bootstrap_labels(rig, np.full((3, 4, 17, 2), np.nan), np.zeros((3, 4, 17)), COCO17, 30)
    assert not nobody.reliable.any() and nobody.counts()["rejected_no_person"] == 3


def test_make_labels_writes_a_label_set_the_trainer_reads(take):
    labels = make_labels(take, teacher="recorded", result="teacher", settings=LabelSettings(min_frames=5))
    assert list_label_sets(take) == ["teacher"] and labels.folder == take / "labels" / "teacher"
    info = json.loads((labels.folder / "labels.json").read_text())
    assert info["complete"] and info["teacher"]["kind"] == "recorded" and info["teacher"]["skeleton"] == "coco17"
    assert info["counts"]["frames"] == FRAMES and info["counts"]["reliable"] == FRAMES
    assert info["joint_names"] == list(LABEL_JOINTS)
    again = LabelSet(take)  # the only label set
    assert again.num_frames == FRAMES and again.rig.names == Session(take).rig.names
    start = holdout_start(FRAMES, 0.3)
    assert start == 21
    train, held = again.frames("train", 0.3), again.frames("held-out", 0.3)
    assert train.max() < start <= held.min() and len(train) + len(held) == FRAMES
    corpus = again.corpus(held)
    assert len(corpus) == len(held) and corpus.views == 4 and corpus.crop(0, 0).shape == (256, 256, 3)
    # Stored crop joints map back to the labels through the stored affine.
    from core.inference.preprocess import apply_affine, invert_affine

    back = apply_affine(invert_affine(corpus.arrays["affine"][0, 1]), corpus.arrays["joints"][0, 1].astype(float))
    np.testing.assert_allclose(back, again.arrays["joints_2d"][held[0], 1], atol=1e-2)
    with pytest.raises(FileExistsError, match="already exists"):
        make_labels(take, teacher="recorded", result="teacher")
    with pytest.raises(ValueError, match="split must be"):
        again.frames("test")


def test_bad_sessions_say_what_is_wrong_and_how_many(take, tmp_path):
    # No calibration.
    (take / "calibration.toml").rename(take / "calibration.bak")
    with pytest.raises(LabelError, match="has no calibration"):
        make_labels(take, teacher="recorded", result="teacher")
    (take / "calibration.bak").rename(take / "calibration.toml")
    # Nobody found by the teacher.
    add_teacher(take, "blind", nobody=True)
    with pytest.raises(LabelError, match=f"no person found: .* in 0 of {FRAMES} frame sets"):
        make_labels(take, teacher="recorded", result="blind")
    # Too few reliable frames: a teacher whose views disagree by far more than the thresholds.
    add_teacher(take, "noisy", noise_px=40.0)
    with pytest.raises(LabelError, match=rf"too few reliable frames: \d+ of {FRAMES} \(need 10\); rejected"):
        make_labels(take, teacher="recorded", result="noisy")
    # An unknown result set, and a missing session.
    with pytest.raises(LabelError, match="no result set 'nope'"):
        make_labels(take, teacher="recorded", result="nope")
    with pytest.raises(FileNotFoundError, match="session folder not found"):
        make_labels(tmp_path / "none")
    # One camera.
    from core.session.folder import SessionWriter

    one = Session(take).rig.subset([0])
    with SessionWriter(tmp_path / "one", one, 30, "files") as w:
        for k in range(3):
            w.write(k, {one.names[0]: np.zeros((480, 640, 3), np.uint8)}, {one.names[0]: k}, 0.0)
    with pytest.raises(LabelError, match=r"has 1 camera \(cam"):
        make_labels(tmp_path / "one", teacher="recorded")


def test_mediapipe_teacher_path_runs_the_estimator_into_a_result_set(take):
    """The mediapipe teacher writes results/mediapipe through re-processing and reuses it; here a stand-in
    estimator plays BlazePose (the real one is exercised by the Pose2Sim benchmark)."""
    truth = Session(take).reader.ground_truth()
    labels = make_labels(take, teacher="mediapipe", estimator=TruthTeacher(truth), overwrite=True,
                         settings=LabelSettings(min_frames=5))
    assert labels.name == "mediapipe" and "mediapipe" in Session(take).result_names()
    assert labels.info["teacher"]["result"] == "mediapipe"

    class Refuses(TruthTeacher):
        def estimate(self, frame_set, rig):
            raise AssertionError("the teacher must not run when the label set already exists")

    with pytest.raises(FileExistsError, match="labels/mediapipe already exists"):
        make_labels(take, teacher="mediapipe", estimator=Refuses(truth))
    # A complete teacher result is reused (no estimator needed), unless overwrite.
    shutil.rmtree(labels.folder)
    again = make_labels(take, teacher="mediapipe", settings=LabelSettings(min_frames=5))
    assert again.info["counts"] == labels.info["counts"]
