import numpy as np
import pytest

from scipy import signal

from core.geometry.filters import (ONE_EURO_BETA_S_PER_M, OneEuroFilter, butterworth_filter, fill_gaps, jitter,
                                   lag_frames)
from core.geometry.skeletons import BODY25B, COCO17, H36M17, convert_joints, get_skeleton


def noisy_sine(T=300, fps=60.0, noise=0.01, seed=0):
    t = np.arange(T) / fps
    clean = np.stack([np.sin(2 * np.pi * 1.0 * t), np.cos(2 * np.pi * 0.5 * t)], axis=1)
    return clean, clean + np.random.default_rng(seed).normal(0, noise, clean.shape)


def test_one_euro_reduces_jitter_at_rest_and_follows_motion():
    rng = np.random.default_rng(0)
    still = 1.0 + rng.normal(0, 0.01, (300, 3))
    out = OneEuroFilter(min_cutoff=1.0, beta=0.5).filter_sequence(still, 60.0)
    assert out.shape == still.shape
    assert np.std(out[30:]) < 0.4 * np.std(still[30:])
    ramp = np.linspace(0, 5, 300)[:, None] + rng.normal(0, 0.01, (300, 1))  # 1 m/s
    truth = np.linspace(0, 5, 300)[60:, None]
    adaptive = OneEuroFilter(min_cutoff=1.0, beta=0.5).filter_sequence(ramp, 60.0)
    fixed = OneEuroFilter(min_cutoff=1.0, beta=0.0).filter_sequence(ramp, 60.0)
    # Speed raises the cutoff: less lag than the same filter without the speed term (~0.16 m at 1 m/s).
    assert np.median(np.abs(adaptive[60:] - truth)) < 0.5 * np.median(np.abs(fixed[60:] - truth))


def test_one_euro_is_causal():
    _, noisy = noisy_sine()
    out = OneEuroFilter(min_cutoff=1.5, beta=0.3).filter_sequence(noisy, 60.0)
    # Causal: changing the future does not change the past.
    changed = noisy.copy()
    changed[200:] += 5
    out2 = OneEuroFilter(min_cutoff=1.5, beta=0.3).filter_sequence(changed, 60.0)
    np.testing.assert_array_equal(out[:200], out2[:200])


def test_one_euro_nan_passthrough_and_restart():
    f = OneEuroFilter()
    assert f(np.array([1.0, 2.0]), 0.0).tolist() == [1.0, 2.0]
    out = f(np.array([np.nan, 2.5]), 0.033)
    assert np.isnan(out[0]) and np.isfinite(out[1])
    assert f(np.array([7.0, 2.5]), 2.0)[0] == 7.0  # long gap: restarts from the new sample
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(3), 3.0)
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0)


def test_butterworth_zero_phase_and_gaps():
    clean, noisy = noisy_sine()
    out = butterworth_filter(noisy, 60.0, cutoff=4.0)
    assert np.std(out - clean) < 0.5 * np.std(noisy - clean)
    lag = np.argmax(np.correlate(out[:, 0] - out[:, 0].mean(), clean[:, 0] - clean[:, 0].mean(), "full"))
    assert lag == len(clean) - 1  # no phase shift
    gappy = noisy.copy()
    gappy[100:104] = np.nan
    gappy[200:260] = np.nan
    out = butterworth_filter(gappy, 60.0, cutoff=4.0, max_gap=10)
    assert np.isfinite(out[100:104]).all() and np.isnan(out[200:260]).all()
    with pytest.raises(ValueError, match="cutoff"):
        butterworth_filter(noisy, 60.0, cutoff=40.0)


def test_one_euro_is_unit_aware():
    """The same motion in metres and in millimetres is filtered the same: beta is in s/m whatever the data's unit."""
    _, noisy = noisy_sine(noise=0.005)
    in_m = OneEuroFilter(units="m").filter_sequence(noisy, 60.0)
    in_mm = OneEuroFilter(units="mm").filter_sequence(noisy * 1000, 60.0)
    np.testing.assert_allclose(in_mm, in_m * 1000, rtol=1e-9, atol=1e-9)
    # A joint at rest with 5 mm of noise, in millimetres: smoothed when the unit is known; read as metres the
    # speed term is 1000x too strong and the filter passes the noise through.
    still = np.random.default_rng(1).normal(500.0, 5.0, (300, 3))
    known = OneEuroFilter(units="mm").filter_sequence(still, 60.0)
    unaware = OneEuroFilter(units="m").filter_sequence(still, 60.0)
    assert jitter(known) < 0.5 * jitter(still)
    assert jitter(unaware) > 0.8 * jitter(still) > 2 * jitter(known)
    with pytest.raises(ValueError, match="units"):
        OneEuroFilter(units="inch")
    assert OneEuroFilter().beta == ONE_EURO_BETA_S_PER_M


def test_butterworth_order_is_the_zero_phase_order_as_pose2sim():
    """order 4 = two 2nd-order passes (forward and backward), as Pose2Sim's ``butter(order/2)`` + filtfilt."""
    _, noisy = noisy_sine()
    sos = signal.butter(2, 6.0, btype="low", fs=60.0, output="sos")
    np.testing.assert_allclose(butterworth_filter(noisy, 60.0), signal.sosfiltfilt(sos, noisy, axis=0), atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        butterworth_filter(noisy, 60.0, order=3)


def test_lag_and_jitter_measures():
    clean, noisy = noisy_sine(T=600)
    delayed = np.roll(noisy, 3, axis=0)
    delayed[:3] = np.nan
    assert lag_frames(delayed, noisy) == pytest.approx(3.0, abs=0.05)
    assert lag_frames(noisy, delayed) == pytest.approx(-3.0, abs=0.05)
    assert abs(lag_frames(butterworth_filter(noisy, 60.0), noisy)) < 0.05  # zero phase
    causal = OneEuroFilter(1.0, 0.0).filter_sequence(noisy, 60.0)  # first order low-pass at 1 Hz: lag near 1/(2 pi)s
    assert 4.0 < lag_frames(causal, noisy) < 10.0
    assert jitter(causal) < 0.2 * jitter(noisy)
    assert np.isnan(jitter(np.full((5, 3), np.nan)))
    with pytest.raises(ValueError, match="shape"):
        lag_frames(noisy, noisy[:, :1])
    with pytest.raises(ValueError, match="too few"):
        lag_frames(noisy[:10], noisy[:10])


def test_fill_gaps_only_short_inner_runs():
    x = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan, np.nan, np.nan, 8.0, np.nan])
    out = fill_gaps(x, max_gap=2)
    np.testing.assert_allclose(out[:5], [np.nan, 1, 2, 3, 4])
    assert np.isnan(out[5:8]).all() and np.isnan(out[-1])
    held = fill_gaps(x, max_gap=len(x), hold_ends=True)  # everything filled, the ends take the nearest value
    np.testing.assert_allclose(held, [1, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    assert np.isnan(fill_gaps(np.full(4, np.nan), hold_ends=True)).all()


def test_skeletons_are_consistent():
    for sk in (COCO17, H36M17, BODY25B):
        assert len(set(sk.joints)) == sk.num_joints
        assert all(0 <= a < sk.num_joints and 0 <= b < sk.num_joints for a, b in sk.bones)
        perm = sk.flip_permutation()
        assert sorted(perm) == list(range(sk.num_joints))
        for a, b in sk.flip_pairs:
            assert {sk.joints[a].split("_", 1)[1], sk.joints[b].split("_", 1)[1]} == {sk.joints[a].split("_", 1)[1]}
            assert {sk.joints[a].split("_")[0], sk.joints[b].split("_")[0]} == {"left", "right"}
    assert H36M17.joints[0] == "pelvis" and H36M17.joints[16] == "right_wrist"
    assert BODY25B.joints[:17] == COCO17.joints
    with pytest.raises(KeyError, match="unknown skeleton"):
        get_skeleton("body99")


def test_convert_coco_to_h36m_derives_pelvis_and_thorax():
    pts = np.random.default_rng(0).normal(size=(5, 17, 3))
    h36m = convert_joints(pts, COCO17, H36M17)
    np.testing.assert_allclose(h36m[:, 0], (pts[:, 11] + pts[:, 12]) / 2)
    np.testing.assert_allclose(h36m[:, 8], (pts[:, 5] + pts[:, 6]) / 2)
    np.testing.assert_allclose(h36m[:, 13], pts[:, 9])  # left wrist
    assert np.isnan(h36m[:, 10]).all()  # head top: COCO has none
    with pytest.raises(ValueError, match="expected 17 coco17 joints"):
        convert_joints(np.zeros((3, 12, 3)), COCO17, H36M17)
