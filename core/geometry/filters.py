"""Temporal filters for joint trajectories.

* :class:`OneEuroFilter`: causal, per element, for live use (Casiez et al., CHI 2012).
* :func:`butterworth_filter`: zero-phase low-pass for offline use (forward-backward, no lag).
* :func:`fill_gaps`: linear interpolation of short NaN runs.

Arrays are ``(T, ...)`` with time first; each trailing element is filtered independently; NaN is missing.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal


class OneEuroFilter:
    """Causal One-Euro filter over arrays of any fixed shape (e.g. (J, 3) joints).

    Args:
        min_cutoff: cutoff frequency (Hz) at rest; lower means smoother and more lag at rest.
        beta: speed coefficient; higher means less lag during fast motion.
        d_cutoff: cutoff (Hz) for the derivative estimate.

    A NaN input element leaves that element's state unchanged and outputs NaN; the element restarts
    from the next valid sample after a gap longer than ``reset_after`` seconds.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
                 reset_after: float = 0.5) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(
                f"OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got {min_cutoff}, {d_cutoff}, {beta}"
            )
        self.min_cutoff, self.beta, self.d_cutoff, self.reset_after = min_cutoff, beta, d_cutoff, reset_after
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
            cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
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


def fill_gaps(data: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """Linearly interpolate NaN runs of at most ``max_gap`` frames inside each trajectory (T, ...).

    Runs at the start or end and longer runs stay NaN.
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
            if s > 0 and e < T and e - s <= max_gap:
                col[s:e] = interp[s:e]
    return flat.reshape(data.shape)


def butterworth_filter(data: np.ndarray, fps: float, cutoff: float = 6.0, order: int = 4,
                       max_gap: int = 10) -> np.ndarray:
    """Zero-phase Butterworth low-pass of trajectories (T, ...) sampled at ``fps`` Hz.

    Short gaps (<= ``max_gap`` frames) are filled first; each valid run is filtered on its own and
    remaining NaN stays NaN. Runs too short for the filter's padding are returned unfiltered.
    """
    data = np.asarray(data, dtype=np.float64)
    if not 0 < cutoff < fps / 2:
        raise ValueError(f"butterworth cutoff must be between 0 and fps/2 = {fps / 2} Hz, got {cutoff}")
    sos = signal.butter(order, cutoff, btype="low", fs=fps, output="sos")
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
