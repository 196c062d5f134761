"""Replay: frame sets with recorded results, seeking, clock offsets, re-processing, damaged sessions."""

import shutil

import numpy as np
import pytest

from core.estimators.files import RecordedEstimator
from core.estimators.studio_truth import StudioTruthEstimator
from core.processing import PipelineSettings, reprocess_session
from core.session.folder import SessionWriter
from core.session.replay import Session, list_results, load_results
from core.studio.sources import make_virtual_rig

N = 24


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A studio session written frame set by frame set (recorded index k = studio frame k) plus 'truth' results."""
    vrig = make_virtual_rig("ring4", fps=30, seed=7, realtime=False)
    folder = tmp_path_factory.mktemp("replay") / "session"
    with SessionWriter(folder, vrig.studio.rig, fps=30, source="studio") as w:
        for k in range(N):
            w.write_frame_set(vrig.read_set(k)[0])
    reprocess_session(Session(folder), StudioTruthEstimator(vrig), PipelineSettings(mode="offline", filter=None),
                              name="truth", progress=False)
    return folder, vrig


def test_replay_iterates_sets_with_results_and_seeks(recorded):
    folder, vrig = recorded
    session = Session(folder)
    assert len(session) == N and session.result_names() == ["truth"]
    items = list(session.replay("truth"))
    assert [i.index for i in items] == list(range(N))
    for item in items[::6]:
        truth = vrig.truth(item.index)
        assert np.nanmax(np.abs(item.points_3d - truth.joints_3d[0, :17])) < 1e-6
        assert item.keypoints.shape == (4, 17, 2)
    seek = list(session.replay("truth", start=10, stop=12))
    assert [i.index for i in seek] == [10, 11]
    assert np.array_equal(session.read(11).frames["cam01"].image, seek[1].frame_set.frames["cam01"].image)
    with pytest.raises(IndexError, match="out of range"):
        session.read(N)


def test_reprocess_recorded_2d_with_other_settings_into_a_new_result_set(recorded):
    folder, _ = recorded
    session = Session(folder)
    progress = []
    res = reprocess_session(session, RecordedEstimator(session, "truth"),
                            PipelineSettings(mode="offline", filter="one-euro", outliers=None),
                            name="smooth", progress=False, on_progress=lambda d, t: progress.append(d))
    assert progress[-1] == N and len(res) == N and res.complete
    assert res.settings["estimator"]["backend"] == "recorded" and res.settings["pipeline"]["filter"] == "one-euro"
    truth = load_results(folder, "truth")
    assert np.allclose(res.arrays["raw_points_3d"], truth.arrays["points_3d"], atol=1e-5, equal_nan=True)
    assert not np.allclose(res.arrays["points_3d"], res.arrays["raw_points_3d"], equal_nan=True)  # filtered
    assert sorted(list_results(folder)) == ["smooth", "truth"]
    with pytest.raises(FileExistsError, match="already exists"):
        reprocess_session(session, RecordedEstimator(session, "truth"), name="smooth", progress=False)


def test_clock_offsets_regroup_the_frames(recorded):
    folder, _ = recorded
    plain = Session(folder)
    shifted = Session(folder, offsets_ms={"cam02": 1000 / 30})  # cam02's clock one frame late
    a, b = plain.read(5), shifted.read(5)
    assert a.frames["cam02"].index == 5
    assert b.frames["cam01"].index == b.frames["cam03"].index
    assert b.frames["cam02"].index == b.frames["cam01"].index + 1


def test_damaged_sessions_give_clear_messages_and_keep_the_rest(recorded, tmp_path):
    folder, _ = recorded
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "videos" / "cam03.avi").unlink()
    session = Session(copy)
    fs = session.read(2)
    assert fs.missing == ("cam03",) and len(fs.frames) == 3
    # truncated timestamps.csv: the complete rows stay readable
    ts = (copy / "timestamps.csv").read_text()
    (copy / "timestamps.csv").write_text(ts[: len(ts) // 2])
    assert 0 < len(Session(copy)) < N
    # truncated results file: a clear error naming the file
    p = copy / "results" / "truth" / "poses_3d.npz"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(ValueError, match="poses_3d.npz: truncated or corrupt"):
        Session(copy).results("truth")
    with pytest.raises(FileNotFoundError, match="no result set 'nope'"):
        Session(copy).results("nope")
    (copy / "session.json").unlink()
    with pytest.raises(FileNotFoundError, match="session.json is missing"):
        Session(copy)


def test_replayed_results_carry_the_kept_tokens_and_draw_like_live(recorded, monkeypatch):
    """A PPT result set stores kept tokens with their crop affines, so replay draws the same token maps."""
    from core.estimators.ppt import create_demo_estimator
    from core.inference.token_mask import token_mask_image
    from core.locate.detectors import Detection, PersonDetector

    folder, vrig = recorded

    class StudioPeople(PersonDetector):  # finds the studio's person exactly (no weights, no motion needed)
        name = "studio"

        def detect(self, camera, image):
            b = vrig.truth(0).boxes[vrig.camera_names.index(camera), 0]
            return [Detection(np.r_[b[:2], b[2:] - b[:2]], 1.0, self.name)]

    monkeypatch.setattr("core.locate.locator.create_detectors", lambda spec: [StudioPeople()])
    est = create_demo_estimator(num_threads=1)
    session = Session(folder)
    reprocess_session(session, est, PipelineSettings(mode="offline", filter=None), name="ppt", overwrite=True, stop=3,
                      progress=False)
    item = next(session.replay("ppt", start=1, stop=2))
    p2 = item.poses_2d
    assert p2 is not None and len(p2.kept_tokens) == 3 and p2.token_to_image.shape == (4, 2, 3)
    assert p2.boxes is not None and p2.box_source is not None and len(p2.box_source) == 4  # crops are recorded
    live = est.estimate(item.frame_set, vrig.studio.rig, boxes=p2.boxes)
    for s, kept in enumerate(live.kept_tokens):  # the same tokens (their order follows scores that can tie)
        np.testing.assert_array_equal(np.sort(p2.kept_tokens[s], axis=-1), np.sort(kept, axis=-1))
    np.testing.assert_allclose(p2.token_to_image, live.token_to_image, atol=1e-3)
    h, w = item.frame_set.frames[p2.cameras[0]].image.shape[:2]
    mask = token_mask_image([k[0] for k in p2.kept_tokens], p2.token_grid, p2.token_stride, p2.token_to_image[0],
                            (w, h))
    assert 0.0 < (mask > 0).mean() < 1.0
