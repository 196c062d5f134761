import time

import pytest

from core.records import Frame, FrameSet
from core.studio.studio import Imperfections, make_studio
from core.studio.virtual_rig import VirtualRig


@pytest.fixture(scope="module")
def studio():
    return make_studio("ring4", motion="walk", seed=1, size=(160, 120), backdrop_downscale=4,
                       imperfections=Imperfections(clock_offset_ms=10, drop_rate=0.2))


def test_offline_frame_sets_follow_the_virtual_timeline(studio):
    rig = VirtualRig(studio, realtime=False)
    sets = list(rig.frame_sets(6))
    assert [fs.index for fs in sets] == list(range(6))
    for fs in sets:
        assert isinstance(fs, FrameSet)
        truth = rig.truth(fs.index)
        present = [n for n, d in zip(studio.camera_names, truth.dropped) if not d]
        assert sorted(fs.frames) == sorted(present)
        assert set(fs.missing) == set(studio.camera_names) - set(present)
        for name, f in fs.frames.items():
            assert isinstance(f, Frame) and f.index == fs.index and f.image.shape == (120, 160, 3)
            c = studio.camera_names.index(name)
            assert f.t_capture_ns == rig.t0_ns + round(truth.t_capture[c] * 1e9)
        if len(fs.frames) > 1:
            assert 0 < fs.spread_ms <= 20.0 + 1e-6


def test_frames_in_capture_order_and_read_by_camera(studio):
    rig = VirtualRig(studio, realtime=False, start_index=10)
    stamps = [f.t_capture_ns for f in rig.frames(3)]
    assert stamps == sorted(stamps)
    frame = next(f for f in (rig.read(n, 11) for n in studio.camera_names) if f is not None)
    assert frame.index == 11
    with pytest.raises(KeyError, match="no camera"):
        rig.read("cam99", 11)
    with pytest.raises(ValueError, match="start_index"):
        VirtualRig(studio, start_index=-1)


def test_realtime_pacing_and_close():
    st = make_studio("stereo2", motion="squat", seed=1, size=(96, 72), backdrop_downscale=4, fps=20)
    rig = VirtualRig(st, realtime=True)
    t0 = time.perf_counter()
    sets = list(rig.frame_sets(4))
    elapsed = time.perf_counter() - t0
    assert elapsed >= 0.14  # frame 3 is not delivered before its capture instant (3 / 20 s)
    now = time.perf_counter_ns()
    assert all(f.t_capture_ns <= now for fs in sets for f in fs.frames.values())
    rig.close()
    assert list(rig.frame_sets(5)) == []
