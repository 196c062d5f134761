"""Frame grouping by timestamp: pure logic, no threads."""

import numpy as np
import pytest

from core.capture.sync import FrameSynchronizer, group_frames, spread_statistics, tolerance_from_fps
from core.records import Frame

MS = 1_000_000


def F(cam, i, t_ms):
    return Frame(cam, i, int(t_ms * MS), 0.0, np.zeros((2, 2, 3), np.uint8))


def test_tolerance_is_half_a_period_and_rejects_bad_fps():
    assert tolerance_from_fps(50) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="fps must be > 0"):
        tolerance_from_fps(0)


def test_complete_sets_in_order_with_jitter():
    cams = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    sync = FrameSynchronizer(cams, fps=30, policy="all")
    sets = []
    for i in range(50):
        for c in rng.permutation(cams):
            sync.push(F(c, i, i * 33.333 + rng.uniform(-4, 4)))
        sets += sync.pop_all()
    sets += sync.flush()
    assert len(sets) == 50
    assert all(not s.missing and s.cameras == cams for s in sets)
    assert [s.frames["a"].index for s in sets] == list(range(50))
    assert all(len({f.index for f in s.frames.values()}) == 1 for s in sets)
    assert max(s.spread_ms for s in sets) <= 8.0 + 1e-6
    assert sync.stats.complete == 50 and sum(sync.stats.skipped.values()) == 0


def test_latest_policy_skips_old_sets_and_counts_them():
    sync = FrameSynchronizer(["a", "b"], fps=30, policy="latest")
    for i in range(5):
        sync.push(F("a", i, i * 33.3))
        sync.push(F("b", i, i * 33.3 + 1))
    fs = sync.pop(now_ns=int(5 * 33.3 * MS))
    assert fs.frames["a"].index == 4 and fs.frames["b"].index == 4
    assert sync.pop(now_ns=int(5 * 33.3 * MS)) is None
    assert sync.stats.skipped == {"a": 4, "b": 4}


def test_silent_camera_is_reported_missing_after_max_wait_not_before():
    sync = FrameSynchronizer(["a", "b", "c"], fps=30, max_wait_ms=100, policy="latest")
    sync.push(F("a", 0, 0))
    sync.push(F("b", 0, 1))
    assert sync.pop(now_ns=50 * MS) is None  # still waiting for c
    fs = sync.pop(now_ns=150 * MS)
    assert fs.missing == ("c",) and fs.cameras == ["a", "b"]
    assert sync.stats.partial == 1 and sync.stats.missing["c"] == 1


def test_camera_that_passed_the_set_time_is_decided_missing_without_waiting():
    sync = FrameSynchronizer(["a", "b"], fps=30, policy="all")
    sync.push(F("a", 0, 0))
    sync.push(F("b", 1, 33.3))  # b dropped its frame 0
    fs = sync.pop()
    assert fs.missing == ("b",) and fs.frames["a"].index == 0
    sync.push(F("a", 1, 33.4))
    assert sync.pop().cameras == ["a", "b"]


def test_bounded_buffers_and_bad_camera():
    sync = FrameSynchronizer(["a", "b"], fps=30, max_buffer=3)
    for i in range(10):
        sync.push(F("a", i, i * 33.3))
    assert sync.pending == 3 and sync.stats.skipped["a"] == 7
    with pytest.raises(ValueError, match="unknown camera 'z'"):
        sync.push(F("z", 0, 0))
    with pytest.raises(ValueError, match="policy"):
        FrameSynchronizer(["a"], policy="oldest")


def test_group_frames_applies_clock_offsets():
    frames = []
    for i in range(20):
        frames.append(F("a", i, i * 20.0))
        frames.append(F("b", i, i * 20.0 + 15.0))  # b's clock runs 15 ms late: without offsets it matches badly
    naive = group_frames(frames, ["a", "b"], fps=50)
    fixed = group_frames(frames, ["a", "b"], fps=50, offsets_ms={"b": 15.0})
    assert len(fixed) == 20 and all(not s.missing for s in fixed)
    assert all(s.frames["a"].index == s.frames["b"].index for s in fixed)
    assert max(s.spread_ms for s in fixed) < 1e-6
    assert sum(bool(s.missing) for s in naive) > 0
    assert fixed[3].frames["b"].t_capture_ns == int(75.0 * MS)  # original stamps are kept
    assert spread_statistics(fixed)["complete_fraction"] == 1.0
    with pytest.raises(ValueError, match="unknown cameras"):
        group_frames(frames, ["a", "b"], fps=50, offsets_ms={"c": 1.0})
