"""The person-localisation stage (core/locate): boxes, cross-view association, tracking, detection, bad input."""

import numpy as np
import pytest

from core.geometry import get_skeleton
from core.locate import PersonLocator, create_detectors, make_locator
from core.locate.association import associate
from core.locate.boxes import box_of_points, crop_region, grow, iou, points_inside, share_in_image
from core.locate.detectors import BackgroundSubtractionDetector, Detection, PersonDetector
from core.processing import PipelineSettings, estimate_2d, triangulate_poses
from core.records import Frame, FrameSet, Poses2D
from core.studio.sources import make_virtual_rig
from core.train.localisation import BoxScore, run_located, truth_predict
from tests.conftest import shared_path

H36M = get_skeleton("h36m17")


def xywh(b):
    """Studio truth boxes x0, y0, x1, y1 -> x, y, w, h."""
    b = np.asarray(b, float)
    return np.concatenate([b[..., :2], b[..., 2:] - b[..., :2]], -1)


class TruthDetector(PersonDetector):
    """Finds the studio's people exactly (their rendered-pixel boxes), or nobody while ``blind``."""

    name = "truth"

    def __init__(self, vrig, people=(0, 1)):
        self.vrig, self.people, self.blind = vrig, people, False

    def detect(self, camera, image):
        if self.blind:
            return []
        c = self.vrig.camera_names.index(camera)
        truth = self.vrig.truth(self._index)
        out = []
        for p in self.people:
            b = xywh(truth.boxes[c, p])
            if np.isfinite(b).all():
                out.append(Detection(b, 0.9, self.name))
        return out

    def observe(self, camera, image):
        pass


@pytest.fixture(scope="module")
def two_people():
    vrig = make_virtual_rig("ring4", fps=30, motion="walk", seed=5, people=2, realtime=False)
    sets = [vrig.read_set(k)[0] for k in range(24)]
    return vrig, sets


def _run(vrig, sets, locator, det=None, blind=()):
    rig = vrig.studio.rig
    truth_2d = lambda i: vrig.truth(i).joints_2d[:, 0, :17]  # noqa: E731  subject = person 0
    predict = truth_predict(truth_2d, aspect=1.0, noise_px=1.0)
    out = []
    for fs in sets:
        if det is not None:
            det._index = fs.index
            det.blind = fs.index in blind
        person = locator.locate(fs)
        kp, conf = predict(fs, person.boxes)
        pose = triangulate_poses(rig, Poses2D(list(rig.names), kp, conf, H36M), PipelineSettings())
        locator.observe(None, pose.raw_points, fs.t_ns)
        out.append(person)
    return out


def test_boxes_iou_crop_and_points():
    a = np.array([0, 0, 10, 10.0])
    assert iou(a, a) == pytest.approx(1.0) and iou(a, [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert np.isnan(iou(a, [np.nan] * 4))
    b = box_of_points(np.array([[[1, 2], [5, 8], [np.nan, np.nan]]]))
    np.testing.assert_allclose(b, [[1, 2, 4, 6]])
    assert np.isnan(box_of_points(np.full((1, 3, 2), np.nan))).all()
    np.testing.assert_allclose(grow(a, 2.0, 1.0), [-6, -6, 22, 22])
    crop = crop_region(np.array([0, 0, 10, 40.0]), aspect_ratio=1.0)  # grown to a square, padded 1.25
    np.testing.assert_allclose(crop, [-20, -5, 50, 50])
    assert points_inside(crop, np.array([[-19, 0], [40, 0.0]])).tolist() == [True, False]
    with pytest.raises(ValueError, match=r"expected points of shape"):
        box_of_points(np.zeros(3))


def test_association_keeps_consistent_people_and_rejects_a_box_that_misses(two_people):
    vrig, sets = two_people
    rig = vrig.studio.rig
    truth = vrig.truth(0)
    dets = [[Detection(xywh(truth.boxes[c, p]), 0.9, "t") for p in (0, 1) if np.isfinite(truth.boxes[c, p]).all()]
            for c in range(len(rig))]
    dets[2].append(Detection(np.array([5.0, 5.0, 40.0, 120.0]), 0.99, "t"))  # a ghost in one view only
    hyps = associate(rig, dets)
    assert len(hyps) == 2
    centres = truth.joints_3d[:, :17].mean(1)  # (P, 3)
    for h in hyps:
        assert np.linalg.norm(centres - h.point, axis=1).min() < 0.25
        assert not np.isclose(h.boxes[2], [5, 5, 40, 120]).all()
    with pytest.raises(ValueError, match="one list per camera"):
        associate(rig, dets[:2])


def test_tracks_the_selected_subject_among_two_people(two_people):
    vrig, sets = two_people
    det = TruthDetector(vrig)
    locator = PersonLocator(vrig.studio.rig, [det])
    b = xywh(vrig.truth(0).boxes[0, 0])
    locator.select("cam01", b[:2] + b[2:] / 2)
    people = _run(vrig, sets, locator, det)
    assert people[0].event == "person_found" and "detected" in people[0].source
    assert all(p.state == "tracking" for p in people)
    assert all(s == "tracked" for p in people[1:] for s in p.source if s != "none")
    score = BoxScore(vrig.camera_names, 1.0)
    for p, fs in zip(people, sets):
        t = vrig.truth(fs.index)
        score.add(fs.index, p, t.joints_2d[:, 0, :17], t.visible[:, 0, :17])
    fig = score.figures()
    assert fig["recall"] > 0.95 and fig["joints_inside"] > 0.98


def test_other_people_do_not_pull_the_track_away(two_people):
    vrig, sets = two_people
    det = TruthDetector(vrig)
    locator = PersonLocator(vrig.studio.rig, [det])
    b = xywh(vrig.truth(0).boxes[0, 0])
    locator.select("cam01", b[:2] + b[2:] / 2)
    _run(vrig, sets[:5], locator, det)
    before = locator.locate(sets[5]).boxes
    other = vrig.truth(5).joints_3d[1, :17]  # a "model" that jumped onto the second person
    locator.observe(None, other, sets[5].t_ns)
    assert locator._misses == 1 and np.linalg.norm(locator._center - other.mean(0)) > 0.5
    after = locator.locate(sets[5]).boxes  # the same place, a little larger (one miss: more uncertain)
    assert (iou(after, before) > 0.85).all() and (after[:, 3] >= before[:, 3]).all()


def test_a_skeleton_pulled_off_the_course_moves_the_track_only_part_of_the_way(two_people):
    """Where two people cross, a 2D model reading both pulls the skeleton towards the other one a little more on
    every frame set: the track closes only :attr:`PersonLocator.centre_gain` of the gap to a confirmed skeleton,
    so it keeps its course (walk 7201's crossing: off by up to 2.5 m with the whole gap closed, at most 0.19 m
    with half), and skeletons back on the person bring it back."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = PersonLocator(vrig.studio.rig, [det])
    _run(vrig, sets[:6], locator, det)
    locator.locate(sets[6])
    truth = vrig.truth(6).joints_3d[0, :17]
    pull = np.array([0.3, 0.0, 0.0])  # 30 cm towards someone else, inside the 0.5 m gate
    locator.observe(None, truth + pull, sets[6].t_ns)
    assert locator._misses == 0
    off = np.linalg.norm(locator._center - np.median(truth, 0))
    assert 0.05 < off < 0.2, off  # half of the 30 cm, give or take the prediction's own error
    for k in range(7, 12):
        locator.locate(sets[k])
        locator.observe(None, vrig.truth(k).joints_3d[0, :17], sets[k].t_ns)
    assert np.linalg.norm(locator._center - np.median(vrig.truth(11).joints_3d[0, :17], 0)) < 0.05


def test_an_outlier_joint_neither_loses_the_track_nor_moves_it(two_people, monkeypatch):
    """Real 2D (Pose2Sim's OpenPose) sometimes triangulates one joint metres away: the skeleton still confirms the
    track, and the foreground re-centring compares the body, not the stray joint, with the image."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = PersonLocator(vrig.studio.rig, [det])
    _run(vrig, sets[:5], locator, det)
    skeleton = vrig.truth(5).joints_3d[0, :17].copy()
    skeleton[10] += [0.0, 2.0, 1.0]  # a wrist 2.2 m from the body
    locator.locate(sets[5])
    locator.observe(None, skeleton, sets[5].t_ns)
    assert locator._misses == 0
    person_boxes = xywh(vrig.truth(6).boxes[:, 0])  # the foreground is exactly the person
    monkeypatch.setattr(PersonLocator, "_foreground_boxes", lambda self, proj, images: person_boxes)
    locator.locate(sets[6])
    assert locator._recentred is None


def test_a_wrong_foreground_shift_does_not_reject_a_good_skeleton(two_people, monkeypatch):
    """The background model may pull the track away (e.g. before it has learned the room); a skeleton where the
    track was before the shift still confirms it, so one bad foreground frame costs one frame, not the track."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = PersonLocator(vrig.studio.rig, [det])
    _run(vrig, sets[:5], locator, det)
    monkeypatch.setattr(PersonLocator, "_foreground_boxes", lambda self, proj, images: np.zeros((4, 4)))
    monkeypatch.setattr(PersonLocator, "_foreground_shift", lambda self, proj, fg: (np.array([0.8, 0.0, 0.0]), True))
    locator.locate(sets[5])
    locator.observe(None, vrig.truth(5).joints_3d[0, :17], sets[5].t_ns)
    assert locator._misses == 0
    assert np.linalg.norm(locator._center - np.median(vrig.truth(5).joints_3d[0, :17], 0)) < 0.05


def test_a_skeleton_the_views_disagree_on_does_not_move_the_track(two_people):
    """A 2D model that reads something else than the person (studio-only weights on real frames) gives 2D that no
    3D point explains; its triangulation must neither confirm the track nor drag it (it did: the Pose2Sim run with
    the demo weights fed back drifted 1.4 m in 16 frame sets, box recall 2 %)."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    rig = vrig.studio.rig
    locator = PersonLocator(rig, [det])
    _run(vrig, sets[:5], locator, det)
    centre = locator._center.copy()
    locator.locate(sets[5])
    truth = vrig.truth(5).joints_2d[:, 0, :17]  # (C, 17, 2)
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 1.0, truth.shape)
    garbage = np.stack([truth[c].mean(0) + 0.15 * np.ptp(truth[c][:, 1]) * noise[c] for c in range(len(rig))])
    conf = np.ones(truth.shape[:2])
    poses = Poses2D(list(rig.names), garbage, conf, H36M)
    pose = triangulate_poses(rig, poses, PipelineSettings())
    locator.observe(poses, pose.raw_points, sets[5].t_ns)
    assert locator._misses == 1 and np.linalg.norm(locator._center - centre) < 1e-9
    good = Poses2D(list(rig.names), truth + rng.normal(0.0, 1.0, truth.shape), conf, H36M)
    locator.observe(good, triangulate_poses(rig, good, PipelineSettings()).raw_points, sets[5].t_ns)
    assert locator._misses == 0


def test_a_shrunken_skeleton_keeps_a_person_sized_box(two_people):
    """The box never gets shorter than half the person's height at their depth (a deep crouch still fills it), so
    a skeleton drawn too small cannot shrink the crop onto a piece of the person."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = PersonLocator(vrig.studio.rig, [det])
    _run(vrig, sets[:5], locator, det)
    full = locator.locate(sets[5]).boxes
    skeleton = vrig.truth(5).joints_3d[0, :17]
    centre = np.median(skeleton, 0)
    locator.observe(None, centre + 0.25 * (skeleton - centre), sets[5].t_ns)  # a quarter of the size
    assert locator._misses == 0
    small = locator.locate(sets[6]).boxes
    assert (small[:, 3] >= 0.45 * full[:, 3]).all(), (small[:, 3], full[:, 3])


def test_studio_only_weights_on_a_real_recording_do_not_carry_the_track_away():
    """Pose2Sim's recording with the stage-1 demo weights (never trained on real people; their 2D there is mostly
    wrong and its views disagree) fed back, as live: the track stays on the person (recall 2.8 % before skeletons
    whose views disagree were refused, 74 % after; fine-tuned on the session, issue 16, 95-98 %)."""
    from core.inference.weights import DEMO_WEIGHTS, load_demo_estimator
    from core.train.localisation import locate_pose2sim

    stage1 = DEMO_WEIGHTS.parent / "candidates" / "stage1_112k.pth"
    estimator = load_demo_estimator(stage1, device="cpu", num_threads=2)
    figures = locate_pose2sim(shared_path("sessions", "pose2sim_balancing"), estimator=estimator, detection=False)
    tracked = figures["tracked_model_2d"]
    assert tracked["recall"] >= 0.6, tracked
    assert tracked["joints_inside"] >= 0.9, tracked


def test_person_leaves_every_view_and_comes_back(two_people):
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = PersonLocator(vrig.studio.rig, [det], max_misses=2)
    rig = vrig.studio.rig
    people = []
    for fs in sets[:16]:
        det._index = fs.index
        gone = 3 <= fs.index < 10  # nobody in any view: frames are black, the detector finds nothing
        det.blind = gone
        if gone:
            black = {n: Frame(n, f.index, f.t_capture_ns, f.t_wall, np.zeros_like(f.image)) for n, f in fs.frames.items()}
            fs = FrameSet(fs.index, fs.t_ns, black)
        person = locator.locate(fs)
        t = vrig.truth(fs.index)
        kp = np.where(np.isfinite(person.boxes[:, :1, None]) & (not gone), t.joints_2d[:, 0, :17], np.nan)
        pose = triangulate_poses(rig, Poses2D(list(rig.names), kp, np.isfinite(kp[..., 0]) * 1.0, H36M),
                                 PipelineSettings())
        locator.observe(None, pose.raw_points, fs.t_ns)
        people.append(person)
    events = [(i, p.event) for i, p in enumerate(people) if p.event]
    assert events[0] == (0, "person_found") and any(e == "person_lost" for _, e in events)
    lost = [i for i, e in events if e == "person_lost"][0]
    assert 3 < lost < 10 and not people[lost].found  # searching: no box in any view (no full-frame guess)
    assert any(e == "person_found" and i >= 10 for i, e in events) and people[-1].found


def test_a_view_where_the_person_is_outside_gets_no_box(two_people):
    vrig, sets = two_people
    rig = vrig.studio.rig
    locator = PersonLocator(rig, [])
    X = vrig.truth(0).joints_3d[0, :17].copy()
    locator.state, locator._joints, locator._center, locator._t_ns = "tracking", X, X.mean(0), sets[0].t_ns
    far = X + rig[0].R[2] * -50.0  # behind camera 1, far out of the others' images
    locator._joints, locator._center = far, far.mean(0)
    person = locator.locate(sets[0])
    assert person.source[0] == "none" and np.isnan(person.boxes[0]).all()


def test_ppt_backend_needs_boxes_and_gives_no_2d_without_one(two_people):
    from core.estimators import build_backend

    vrig, sets = two_people
    rig = vrig.studio.rig
    est = build_backend("ppt", preset="multiview_ppt_s", num_threads=1)
    assert est.top_down
    with pytest.raises(ValueError, match="top-down"):
        est.estimate(sets[0], rig)
    with pytest.raises(ValueError, match=r"expected shape \(4, 4\)"):
        est.estimate(sets[0], rig, boxes=np.zeros((3, 4)))
    boxes = xywh(vrig.truth(0).boxes[:, 0])
    boxes[1] = np.nan
    poses = est.estimate(sets[0], rig, boxes=boxes)
    assert np.isnan(poses.keypoints[1]).all() and (poses.confidence[1] == 0).all()
    assert np.isfinite(poses.keypoints[[0, 2, 3]]).all()
    np.testing.assert_array_equal(poses.boxes, boxes)
    # Through the stage: the boxes and their sources travel with the 2D, with the stage's time.
    det = TruthDetector(vrig)
    det._index = 0
    locator = make_locator(est, rig, [det])
    poses, person = estimate_2d(est, locator, sets[0], rig)
    assert poses.box_source == person.source and "locate" in poses.timings and person.event == "person_found"
    from core.estimators.studio_truth import StudioTruthEstimator

    assert make_locator(StudioTruthEstimator(vrig), rig) is None  # not top-down: no stage


def test_background_subtraction_finds_a_moving_person():
    vrig = make_virtual_rig("ring4", fps=30, motion="walk", seed=3, realtime=False, lighting_changes=False)
    bg = BackgroundSubtractionDetector("mog2")
    found = []
    for k in range(40):
        fs, truth = vrig.read_set(k)
        img = fs.frames["cam01"].image
        if k < 30:
            bg.observe("cam01", img)
            continue
        bg.observe("cam01", img)
        dets = bg.detect("cam01", img)
        t = xywh(truth.boxes[0, 0])
        found.append(max((iou(d.box, t) for d in dets), default=0.0))
    assert np.mean(np.array(found) > 0.3) > 0.5
    mask, r = bg.foreground("cam01")
    assert mask.dtype == bool and r >= 1


def test_detector_choice_and_bad_input(monkeypatch, two_people):
    vrig, _ = two_people
    with pytest.raises(ValueError, match="unknown person detector"):
        create_detectors("yolo")
    with pytest.raises(ValueError, match="background subtraction method"):
        BackgroundSubtractionDetector("gmg")
    monkeypatch.setattr("core.locate.detectors.mediapipe_available",
                        lambda: (False, "mediapipe is not installed (pip install 'ppt-mocap[mediapipe]' && ...)"))
    with pytest.raises(ImportError, match=r"pip install 'ppt-mocap\[mediapipe\]'"):
        create_detectors("mediapipe")
    assert [d.name for d in create_detectors("auto")] == ["mog2"]  # auto: what is installed
    locator = PersonLocator(vrig.studio.rig, [])
    with pytest.raises(ValueError, match="unknown camera"):
        locator.select("cam99", (1, 2))
    with pytest.raises(ValueError, match="image point"):
        locator.select("cam01", (1, 2, 3))
    locator.state, locator._center = "tracking", np.zeros(3)
    with pytest.raises(ValueError, match=r"points_3d of shape \(J, 3\)"):
        locator.observe(None, np.zeros((17, 2)))


def test_run_located_feeds_back_in_order(two_people):
    vrig, sets = two_people
    rig = vrig.studio.rig
    det = TruthDetector(vrig)
    locator = PersonLocator(rig, [det])
    seen = []

    def predict(fs, boxes):
        det._index = fs.index + 1  # the detector looks at the next frame set's truth
        seen.append(fs.index)
        return truth_predict(lambda i: vrig.truth(i).joints_2d[:, 0, :17], 1.0)(fs, boxes)

    det._index = 0
    out = list(run_located(locator, rig, sets[:6], predict))
    assert seen == list(range(6)) and len(out) == 6 and out[-1][1].state == "tracking"


def test_tracking_a_real_person_with_a_good_2d_model_keeps_the_box_on_them():
    """Pose2Sim's recording, the stage as live with its OpenPose 2D fed back (issue 13: recall >= 95 % on real
    frames). Two triangulated outlier joints once pulled the track off the person for ten frame sets (92.5 %)."""
    from core.train.localisation import locate_pose2sim

    figures = locate_pose2sim(shared_path("sessions", "pose2sim_balancing"), detection=False)
    tracked = figures["tracked_openpose_2d"]
    assert tracked["recall"] >= 0.95, tracked
    assert min(tracked["recall_per_view"].values()) >= 0.9, tracked


def test_the_demo_weights_keep_to_the_subject_beside_a_second_person(tmp_path):
    """`bench locate`'s held-out `high-low4` mix session (seed 7202, 300 frame sets): the two people stand about
    0.6 m apart for long stretches, and the demo weights' own 2D is fed back as live. The stage-2 weights trained
    without near distractors read the other person in every view there (box recall 50 %, worst view 41 %; on the
    first 200 frame sets alone 92 %, so the whole session is needed); the shipped weights 96 %, worst view 90 %."""
    from core.inference.weights import load_demo_estimator
    from core.studio.recording import render_session
    from core.studio.rig_presets import make_rig
    from core.studio.studio import make_studio
    from core.train.localisation import locate_session

    studio = make_studio(rig=make_rig("high-low4"), motion="mix", people=2, seed=7202, fps=30.0)
    render_session(studio, tmp_path / "mix", 300, overwrite=True)
    estimator = load_demo_estimator(device="cpu", num_threads=2)
    figures = locate_session(tmp_path / "mix", pose="model", estimator=estimator)
    assert figures["recall"] >= 0.9, figures
    assert figures["min_view_recall"] >= 0.85, figures


def test_a_box_widens_to_the_silhouette_when_a_model_misreads_the_legs():
    """A 2D model that puts both ankles together mid-stride (the studio weights' commonest box error) narrows the
    skeleton's box; with static cameras the person's silhouette widens it back towards the truth box, and a
    locator told not to use it keeps the narrow box."""
    vrig = make_virtual_rig("ring4", fps=30, motion="walk", seed=3, realtime=False, lighting_changes=False)
    sets = [vrig.read_set(k)[0] for k in range(60)]
    rig = vrig.studio.rig
    legs = [H36M.index(n) for n in ("left_ankle", "right_ankle", "left_knee", "right_knee")]
    pelvis = H36M.index("pelvis")

    def collapsed(i):  # knees and ankles straight below the pelvis in every view
        j = vrig.truth(i).joints_2d[:, 0, :17].copy()
        j[:, legs, 0] = j[:, pelvis, None, 0]
        return j

    results = {}
    for silhouette in (True, False):
        det = TruthDetector(vrig, people=(0,))
        locator = PersonLocator(rig, [det, BackgroundSubtractionDetector("mog2")], silhouette=silhouette)
        predict = truth_predict(collapsed, aspect=1.0, noise_px=1.0)
        ratios, hits = [], []
        for fs in sets:
            det._index = fs.index
            person = locator.locate(fs)
            kp, conf = predict(fs, person.boxes)
            pose = triangulate_poses(rig, Poses2D(list(rig.names), kp, conf, H36M), PipelineSettings())
            locator.observe(None, pose.raw_points, fs.t_ns)
            if fs.index >= 30:  # the background model has learned the room
                truth = box_of_points(vrig.truth(fs.index).joints_2d[:, 0, :17], min_points=2)
                wide = truth[:, 2] > 0.35 * truth[:, 3]  # views that see the stride
                ratios += list(person.boxes[wide, 2] / truth[wide, 2])
                hits += list(iou(person.boxes[wide], truth[wide]) >= 0.5)
        results[silhouette] = (np.median(ratios), np.mean(hits), len(ratios))
    (w_on, hit_on, n), (w_off, hit_off, _) = results[True], results[False]
    assert n >= 20
    assert w_on > w_off + 0.1 and hit_on > hit_off + 0.05  # measured: 0.95 vs 0.74 of the truth width, 85 vs 70 %


def test_views_that_read_the_other_person_are_left_out_by_their_look(two_people):
    """Where two people cross, a 2D model may read the other person in some views; their torso colours tell them
    apart: those views are left out and the others' skeleton confirms the track on the subject
    (:mod:`core.locate.appearance`). Without the look, the mixed skeleton (here its views disagree) is rejected
    as a whole and the frame set is a miss; on walk 7201's crossing, where the mixture drifts a few centimetres per
    frame set and the views still agree, it carried the track onto the other walker (docs/BENCHMARKS.md)."""
    from core.locate.appearance import TorsoAppearance

    vrig, sets = two_people
    rig = vrig.studio.rig
    results = {}
    for appearance in (True, False):
        det = TruthDetector(vrig, people=(0,))
        locator = PersonLocator(rig, [det], appearance=appearance)
        for fs in sets[:8]:  # the subject, read right in every view: its look is learned
            det._index = fs.index
            locator.locate(fs)
            t = vrig.truth(fs.index)
            poses = Poses2D(list(rig.names), t.joints_2d[:, 0, :17], np.ones((len(rig), 17)), H36M)
            locator.observe(poses, t.joints_3d[0, :17], fs.t_ns)
        fs = sets[8]
        det._index = fs.index
        locator.locate(fs)
        t = vrig.truth(8)
        kp = t.joints_2d[:, 0, :17].copy()
        kp[:2] = t.joints_2d[:2, 1, :17]  # two views read the second person
        mixed = t.joints_3d[0, :17] + [0.3, 0.0, 0.0]  # the pipeline's skeleton, pulled towards them
        if appearance:
            look = TorsoAppearance(len(rig))
            look.reference = locator.appearance.reference
            hists = look.measure([f.image for f in fs.frames.values()], kp, np.ones((len(rig), 17)), H36M.joints)
            sim = look.similarity(hists)
            assert (sim[:2] < 0.5).all() and (sim[2:] > 0.7).all(), sim
        locator.observe(Poses2D(list(rig.names), kp, np.ones((len(rig), 17)), H36M), mixed, fs.t_ns)
        results[appearance] = (locator._misses, np.linalg.norm(locator._center - np.median(t.joints_3d[0, :17], 0)))
    assert results[True][0] == 0 and results[True][1] < 0.06, results  # confirmed, on the subject
    assert results[False][0] == 1, results  # not confirmed: the track coasts


def test_torso_look_learns_only_from_matching_views_and_forgets_on_reset():
    from core.locate.appearance import TorsoAppearance, torso_histogram

    red = np.zeros((60, 60, 3), np.uint8)
    red[:] = (40, 40, 200)
    blue = np.zeros_like(red)
    blue[:] = (200, 60, 30)
    quad = np.array([[20, 10], [40, 10], [40, 40], [20, 40]], float)
    assert torso_histogram(red, quad * np.nan) is None and torso_histogram(red, quad / 10) is None
    look = TorsoAppearance(2)
    kp = np.full((2, 17, 2), np.nan)
    for n, q in zip(("left_shoulder", "right_shoulder", "right_hip", "left_hip"), quad):
        kp[:, H36M.index(n)] = q
    conf = np.ones((2, 17))
    hists = look.measure([red, red], kp, conf, H36M.joints)
    assert np.isnan(look.similarity(hists)).all()  # nothing known yet
    look.learn(hists, look.similarity(hists))
    assert all(r is not None for r in look.reference)
    other = look.measure([blue, None], kp, conf, H36M.joints)
    sim = look.similarity(other)
    assert sim[0] < 0.1 and np.isnan(sim[1])
    before = look.reference[0].copy()
    look.learn(other, sim)  # the other person does not teach the subject's look
    np.testing.assert_array_equal(look.reference[0], before)
    conf[:, H36M.index("left_hip")] = 0.1  # a torso joint not seen: no measurement
    assert look.measure([red, red], kp, conf, H36M.joints) == [None, None]
    look.reset()
    assert all(r is None for r in look.reference)


def test_a_person_at_the_image_edge_keeps_a_box_while_a_fifth_of_it_is_inside(two_people):
    """Fewer than three joints inside a view is not enough to drop its box: a person half out of the image is still
    read by the model (walk 7201, camera 4, frame sets 121-138: 3-5 truth joints inside, no box before)."""
    vrig, sets = two_people
    rig = vrig.studio.rig
    X = vrig.truth(0).joints_3d[0, :17].copy()
    arms = [H36M.index(n) for n in ("left_elbow", "left_wrist", "right_elbow", "right_wrist")]
    X[arms] += np.outer([-0.35, -0.7, 0.35, 0.7], rig[0].R[0])  # arms spread in camera 1's image: a wide box
    seen = {}
    for step in np.arange(2.0, 4.0, 0.02):  # slide the person out of camera 1's image, to its right
        moved = X + rig[0].R[0] * step
        locator = PersonLocator(rig, [])
        locator.state, locator._t_ns = "tracking", sets[0].t_ns
        locator._joints, locator._center = moved, moved.mean(0)
        proj = rig.project(moved)[0]
        inside = ((proj >= 0) & (proj < rig[0].size)).all(-1).sum()
        box = locator.locate(sets[0]).boxes[0]
        share = share_in_image(box_of_points(proj[None], 3), np.array([rig[0].size], float))[0]
        if inside < 3:
            seen.setdefault("kept" if np.isfinite(box).all() else "dropped", []).append(share)
    # (the share of the skeleton's own box; the stage judges its grown box)
    assert min(seen["kept"]) > 0.15 and max(seen["dropped"]) < 0.3, seen


def test_the_demo_weights_keep_the_box_on_a_walker_at_three_frame_sets_per_second():
    """A loaded CPU keeps up with a tenth of the cameras' 30 frames/s: between two located frame sets a walker
    moves about 0.4 m. The stage's margins widen with that time and this frame's foreground places the person, so
    the box stays on them with the demo weights' own 2D fed back (before, tuned per frame set: 49 % of the joints
    inside the crop and the track left on the empty floor, where the model's skeleton confirmed it; now 96 %)."""
    import torch

    from core.inference.weights import load_demo_estimator
    from core.train.localisation import model_predict

    torch.set_num_threads(2)
    estimator = load_demo_estimator(device="cpu", num_threads=2)
    vrig = make_virtual_rig("ring4", fps=30, motion="walk", seed=5, people=2, realtime=False)
    sets = [vrig.read_set(k)[0] for k in range(0, 300, 10)]
    rig = vrig.studio.rig
    locator = PersonLocator(rig, "mog2")
    first = box_of_points(vrig.truth(0).joints_2d[:, 0, :17], min_points=2)[0]
    locator.select(rig.names[0], first[:2] + first[2:] / 2)
    inside, hits, events = [], [], []
    for fs, person, _, _ in run_located(locator, rig, iter(sets), model_predict(estimator, rig)):
        truth = vrig.truth(fs.index).joints_2d[:, 0, :17]
        inside.append(points_inside(crop_region(person.boxes, 0.75), truth).mean(1))
        hits.append(np.nan_to_num(iou(person.boxes, box_of_points(truth, min_points=2))) >= 0.5)
        events.append(person.event)
    assert np.mean(inside) >= 0.9, np.mean(inside, 1)
    assert np.mean(hits) >= 0.5, np.mean(hits, 1)
    assert "person_lost" not in events, events


def _tracking(vrig, sets, detectors, frames=8):
    """A locator that has tracked the subject (person 0) through ``frames`` frame sets with its truth 2D."""
    locator = PersonLocator(vrig.studio.rig, detectors)
    truth_det = next((d for d in detectors if isinstance(d, TruthDetector)), None)
    _run(vrig, sets[:frames], locator, truth_det)
    assert locator.state == "tracking" and locator._misses == 0
    return locator


def test_a_skeleton_on_an_empty_floor_is_no_evidence_of_the_person(two_people):
    """A 2D model shown an empty crop still draws a skeleton, and the views agree on it because their crops do
    (the failure of a sparse live run: the track confirmed itself on the floor the walker had left). A skeleton
    is evidence only where the model is sure of it or the background model sees someone there."""
    vrig, sets = two_people
    rig = vrig.studio.rig
    det = TruthDetector(vrig, people=(0,))
    locator = _tracking(vrig, sets, [det, BackgroundSubtractionDetector("mog2")], frames=20)
    fs = sets[20]
    det._index = fs.index
    locator.locate(fs)
    X = vrig.truth(fs.index).joints_3d[0, :17]
    floor = X + np.cross(rig.up_vector, X[0] - rig[0].center) / np.linalg.norm(X[0] - rig[0].center) * 1.5

    def poses(points, confidence):
        kp = rig.project(points)
        return Poses2D(list(rig.names), kp, np.full(kp.shape[:2], confidence), H36M)

    assert locator._image_evidence(poses(X, 0.45), X, fs.t_ns)  # the person moves: foreground
    assert not locator._image_evidence(poses(floor, 0.45), floor, fs.t_ns)  # empty floor, unsure model
    assert locator._image_evidence(poses(floor, 0.9), floor, fs.t_ns)  # a sure model (a person standing still)
    share, empty = locator._foreground_share(X, fs.t_ns), locator._foreground_share(floor, fs.t_ns)
    # measured 0.12-0.33 vs 0 (0.12 in the view where the floor point lies behind the person)
    assert (share > 0.15).sum() >= 3 and (empty < 0.05).sum() >= 3, (share, empty)


def test_an_unconfirmed_track_is_moved_onto_a_detection_near_its_course(two_people):
    """While nothing has confirmed the track for 0.2 s, the detectors search near its course and a track more than
    25 cm off moves its skeleton onto the person they find; its misses go on counting until a skeleton confirms it.
    Before 0.2 s the track keeps its course."""
    vrig, sets = two_people
    det = TruthDetector(vrig, people=(0,))
    locator = _tracking(vrig, sets, [det])
    off = np.array([0.6, 0.0, 0.0])  # the track left 0.6 m behind
    locator._center, locator._joints = locator._center + off, locator._joints + off
    locator._misses, locator._confirmed_ns = 1, sets[9].t_ns - int(0.3e9)
    det._index = sets[9].index
    person = locator.locate(sets[9])
    truth = box_of_points(vrig.truth(9).joints_2d[:, 0, :17], min_points=2)
    assert set(person.source) == {"tracked"} and person.event is None, person.source
    assert (iou(person.boxes, truth) >= 0.5).all() and locator._misses == 1, iou(person.boxes, truth)
    centre = vrig.truth(9).joints_3d[0, :17].mean(0)
    assert np.linalg.norm(locator._center - centre) < 0.3
    # unconfirmed, but not stale enough to search: the track keeps its course
    locator._center, locator._joints = locator._center + off, locator._joints + off
    locator._confirmed_ns = sets[9].t_ns - int(0.1e9)
    locator.locate(sets[9])
    assert np.linalg.norm(locator._center - centre) > 0.4


def test_locate_session_at_a_stride_pools_every_start_offset(tmp_path):
    """`bench locate --stride N`: each start offset 0..N-1 is run with a fresh stage on every N-th frame set, so
    every frame set is scored once; a stride under one is refused."""
    from core.studio.recording import render_session
    from core.studio.rig_presets import make_rig
    from core.studio.studio import make_studio
    from core.train.localisation import locate_session

    studio = make_studio(rig=make_rig("ring4"), motion="walk", people=1, seed=11, fps=30.0)
    render_session(studio, tmp_path / "s", 12, overwrite=True)
    figures = locate_session(tmp_path / "s", pose="truth", detectors="mog2", stride=3)
    assert figures["frames"] == 12 and figures["stride"] == 3
    with pytest.raises(ValueError, match="stride"):
        locate_session(tmp_path / "s", stride=0)
