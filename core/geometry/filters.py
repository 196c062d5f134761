"""Temporal filters for joint trajectories.

* :class:`OneEuroFilter`: causal, per element, for live use (Casiez et al., CHI 2012). Unit-aware: its
  parameters are stated per second and per metre and converted from the data's length unit (``units``).
* :func:`butterworth_filter`: zero-phase low-pass for offline use (forward-backward, no lag).
* :func:`fill_gaps`: linear interpolation of short NaN runs.
* :func:`lag_frames` and :func:`jitter`: how much a filter delays and smooths a trajectory (``ppt-mocap bench
  filters`` chose the defaults below with them on real motion, ``docs/BENCHMARKS.md``).

Arrays are ``(T, ...)`` with time first; each trailing element is filtered independently; NaN is missing.

Defaults: live (causal) One-Euro with ``min_cutoff`` :data:`ONE_EURO_MIN_CUTOFF_HZ`, ``beta``
:data:`ONE_EURO_BETA_S_PER_M` and ``d_cutoff`` :data:`ONE_EURO_D_CUTOFF_HZ`; offline (a whole take: ``run
--offline``, replay, export) zero-phase Butterworth of order :data:`BUTTERWORTH_ORDER` at
:data:`BUTTERWORTH_CUTOFF_HZ` (Pose2Sim's defaults).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import signal

from core.geometry.camera import UNIT_SCALE_TO_M

#: One-Euro cutoff at rest (Hz).
ONE_EURO_MIN_CUTOFF_HZ = 1.0
#: One-Euro speed coefficient: Hz of cutoff added per metre per second of speed (s/m).
ONE_EURO_BETA_S_PER_M = 8.0
#: One-Euro cutoff of the speed estimate (Hz).
ONE_EURO_D_CUTOFF_HZ = 1.0
#: Offline zero-phase Butterworth low-pass: cutoff (Hz) and order (Pose2Sim's defaults).
BUTTERWORTH_CUTOFF_HZ = 6.0
BUTTERWORTH_ORDER = 4


class OneEuroFilter:
    """Causal One-Euro filter over arrays of any fixed shape (e.g. (J, 3) joints).

    Args:
        min_cutoff: cutoff frequency (Hz) at rest; lower means smoother and more lag at rest.
        beta: speed coefficient in s/m: the cutoff rises by ``beta`` Hz per m/s of (filtered) speed; higher
            means less lag during motion.
        d_cutoff: cutoff (Hz) for the speed estimate.
        reset_after: seconds without a valid sample after which an element restarts.
        units: length unit of the samples (``"m"``, ``"cm"`` or ``"mm"``, e.g. ``rig.units``); the speed is
            converted to m/s before ``beta`` applies, so the same parameters behave the same in any unit.

    A NaN input element leaves that element's state unchanged and outputs NaN; the element restarts
    from the next valid sample after a gap longer than ``reset_after`` seconds.
    """

    def __init__(self, min_cutoff: float = ONE_EURO_MIN_CUTOFF_HZ, beta: float = ONE_EURO_BETA_S_PER_M,
                 d_cutoff: float = ONE_EURO_D_CUTOFF_HZ, reset_after: float = 0.5, units: str = "m") -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(
                f"OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got {min_cutoff}, {d_cutoff}, {beta}"
            )
        if units not in UNIT_SCALE_TO_M:
            raise ValueError(f"OneEuroFilter units must be one of {sorted(UNIT_SCALE_TO_M)}, got {units!r}")
        self.min_cutoff, self.beta, self.d_cutoff, self.reset_after = min_cutoff, beta, d_cutoff, reset_after
        self.units = units
        self._metres_per_unit = UNIT_SCALE_TO_M[units]
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_last: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._x = self._dx = self._t_last = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter one sample ``x`` taken at time ``t`` (seconds); returns the filtered sample (same shape)."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x = np.full(x.shape, np.nan)
            self._dx = np.zeros(x.shape)
            self._t_last = np.full(x.shape, -np.inf)
        if x.shape != self._x.shape:
            raise ValueError(f"OneEuroFilter: sample shape {x.shape} differs from earlier samples {self._x.shape}")
        valid = np.isfinite(x)
        dt = t - self._t_last
        fresh = valid & (~np.isfinite(self._x) | (dt > self.reset_after) | (dt <= 0))
        update = valid & ~fresh
        out = np.full(x.shape, np.nan)
        if update.any():
            dtu = dt[update]
            dx = (x[update] - self._x[update]) / dtu
            a_d = self._alpha(self.d_cutoff, dtu)
            dx_hat = a_d * dx + (1 - a_d) * self._dx[update]
            cutoff = self.min_cutoff + self.beta * np.abs(dx_hat) * self._metres_per_unit  # speed in m/s
            a = self._alpha(cutoff, dtu)
            x_hat = a * x[update] + (1 - a) * self._x[update]
            self._x[update], self._dx[update] = x_hat, dx_hat
            out[update] = x_hat
        self._x[fresh] = x[fresh]
        self._dx[fresh] = 0.0
        out[fresh] = x[fresh]
        self._t_last[valid] = t
        return out

    def filter_sequence(self, data: np.ndarray, fps: float) -> np.ndarray:
        """Filter a whole sequence (T, ...) sampled at ``fps`` Hz, causally; resets the state first."""
        self.reset()
        data = np.asarray(data, dtype=np.float64)
        return np.stack([self(frame, i / fps) for i, frame in enumerate(data)]) if len(data) else data.copy()


def fill_gaps(data: np.ndarray, max_gap: int = 10, hold_ends: bool = False) -> np.ndarray:
    """Linearly interpolate NaN runs of at most ``max_gap`` frames inside each trajectory (T, ...).

    Longer runs stay NaN; runs at the start or end too, unless ``hold_ends`` (then they take the first / last valid
    value). A trajectory with no valid frame stays NaN.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 0:
        raise ValueError("fill_gaps: expected an array (T, ...), got a scalar")
    T = data.shape[0]
    flat = data.reshape(T, -1).copy()
    t = np.arange(T)
    for k in range(flat.shape[1]):
        col = flat[:, k]
        nan = np.isnan(col)
        if not nan.any() or nan.all():
            continue
        good = ~nan
        interp = np.interp(t, t[good], col[good])
        # Length of the NaN run each frame belongs to, and whether it is enclosed by valid samples.
        edges = np.diff(np.r_[0, nan.astype(np.int8), 0])
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        for s, e in zip(starts, ends):
            inside = s > 0 and e < T
            if (inside and e - s <= max_gap) or (hold_ends and not inside):
                col[s:e] = interp[s:e]  # np.interp holds the end values outside the valid range
    return flat.reshape(data.shape)


def butterworth_filter(data: np.ndarray, fps: float, cutoff: float = BUTTERWORTH_CUTOFF_HZ,
                       order: int = BUTTERWORTH_ORDER, max_gap: int = 10) -> np.ndarray:
    """Zero-phase Butterworth low-pass of trajectories (T, ...) sampled at ``fps`` Hz.

    ``order`` is the order of the whole zero-phase filter, as in Pose2Sim and biomechanics (Winter): each of
    the forward and backward passes is a Butterworth of order ``order / 2``, so the result has no phase lag.
    Short gaps (<= ``max_gap`` frames) are filled first; each valid run is filtered on its own and
    remaining NaN stays NaN. Runs too short for the filter's padding are returned unfiltered.
    """
    data = np.asarray(data, dtype=np.float64)
    if not 0 < cutoff < fps / 2:
        raise ValueError(f"butterworth cutoff must be between 0 and fps/2 = {fps / 2} Hz, got {cutoff}")
    if order < 2 or order % 2:
        raise ValueError(f"butterworth order must be even and >= 2 (forward + backward passes), got {order}")
    sos = signal.butter(order // 2, cutoff, btype="low", fs=fps, output="sos")
    filled = fill_gaps(data, max_gap)
    T = filled.shape[0]
    flat = filled.reshape(T, -1).copy()
    pad = 3 * (2 * len(sos) + 1)
    for k in range(flat.shape[1]):
        col = flat[:, k]
        valid = np.isfinite(col)
        edges = np.diff(np.r_[0, valid.astype(np.int8), 0])
        for s, e in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            if e - s > pad:
                col[s:e] = signal.sosfiltfilt(sos, col[s:e])
    return flat.reshape(data.shape)


def lag_frames(filtered: np.ndarray, reference: np.ndarray, max_lag: int = 20) -> float:
    """Delay of ``filtered`` behind ``reference`` (both (T, ...)), in frames, by cross-correlation.

    For each trajectory element (e.g. one coordinate of one joint), both series have their means removed and their
    normalised cross-correlation is evaluated at integer shifts ``-max_lag..max_lag``; its peak is refined to a
    fraction of a frame by a parabola through the three best shifts. The result is the median over elements, so a
    few outlier spikes (a bad triangulation) do not decide it. Positive: ``filtered`` lags (its sample ``t``
    matches ``reference`` at ``t - lag``). NaN samples are left out pairwise; constant elements are skipped.
    Raises ``ValueError`` for different shapes or too few samples; NaN when no element can be measured.
    """
    a = np.asarray(filtered, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim == 0:
        raise ValueError(f"lag_frames: expected two arrays (T, ...) of one shape, got {a.shape} and {b.shape}")
    T = a.shape[0]
    if T < 2 * max_lag + 3:
        raise ValueError(f"lag_frames: {T} samples are too few for shifts up to {max_lag} frames "
                         f"(need at least {2 * max_lag + 3})")
    a, b = a.reshape(T, -1), b.reshape(T, -1)
    shifts = np.arange(-max_lag, max_lag + 1)
    corr = np.full((len(shifts), a.shape[1]), np.nan)
    for i, L in enumerate(shifts):
        x = a[L:] if L >= 0 else a[:L]
        y = b[:T - L] if L >= 0 else b[-L:]
        ok = np.isfinite(x) & np.isfinite(y)
        x = np.where(ok, x, np.nan)
        y = np.where(ok, y, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # elements without samples at this shift
            x = x - np.nanmean(x, axis=0)
            y = y - np.nanmean(y, axis=0)
            corr[i] = np.nansum(x * y, axis=0) / np.sqrt(np.nansum(x * x, axis=0) * np.nansum(y * y, axis=0))
        corr[i, ok.sum(axis=0) < 3] = np.nan
    lags = []
    for e in range(corr.shape[1]):
        c = corr[:, e]
        if not np.isfinite(c).any():
            continue
        k = int(np.nanargmax(c))
        frac = 0.0
        if 0 < k < len(c) - 1 and np.isfinite(c[k - 1]) and np.isfinite(c[k + 1]):
            den = c[k - 1] - 2 * c[k] + c[k + 1]
            if den < 0:
                frac = 0.5 * (c[k - 1] - c[k + 1]) / den
        lags.append(shifts[k] + frac)
    return float(np.median(lags)) if lags else float("nan")


def jitter(data: np.ndarray) -> float:
    """Frame-to-frame jitter of trajectories (T, ...): median absolute second difference (data units per frame²).

    Noise dominates the second difference of a densely sampled smooth motion, so a filter's jitter divided by the
    unfiltered jitter says how much of the shake it removes; the median keeps rare outlier spikes from deciding it.
    NaN samples are left out.
    """
    d = np.abs(np.diff(np.asarray(data, dtype=np.float64), n=2, axis=0))
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else float("nan")
