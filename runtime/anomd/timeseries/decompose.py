"""A robust model of a series: seasonal profile + local level + residual spread.

Each point's expected value is the local level (the median of the deseasonalised values just
before it) plus the seasonal profile at its phase; the residual spread is a robust scale of the
differences between values and expected values. Every statistic is a median, so the anomalies
being looked for hardly move the model that looks for them.

* **Seasonal profile**: with a period ``p`` (given, or found by :func:`~.period.detect_period`)
  and at least two cycles, the series minus its centred ``p``-point moving average (which
  cancels a cycle exactly) is grouped by phase; each phase's median is the profile, shifted to
  sum to zero.
* **Local level**: a trailing median of the deseasonalised series. Its window is chosen per
  series among :data:`LEVEL_WINDOWS` as the one that predicts the series best (smallest median
  absolute error): one point for a random walk, where the last value is the best guess, longer
  windows for noisy, level series. Trailing, not centred, so a level shift shows as one: a
  centred median would follow the step exactly and hide it.
  The level is fitted twice: the second time, points more than :data:`CLEANING_FACTOR` spreads
  off the first fit count as their expected value, so a long anomaly is judged against the
  level before it rather than becoming the level.
* **Spread**: :func:`~.rolling.robust_scale` of the residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomd.timeseries.period import detect_period
from anomd.timeseries.rolling import robust_scale, trailing_median

#: Trailing windows tried for the local level (points).
LEVEL_WINDOWS = (1, 3, 5, 9, 17, 33)
#: Residuals beyond this many spreads are left out of the local level in the second pass.
CLEANING_FACTOR = 4.0
#: Up to this many cycles, each cycle's seasonal part is estimated from the others.
LEAVE_OUT_CYCLES = 24
#: Longest period looked for when none is given (one week of 5-minute points).
MAX_DETECTED_PERIOD = 2016


@dataclass(frozen=True, slots=True)
class Decomposition:
    """A fitted series.

    Attributes:
        expected: Expected value of every point.
        residual: Value minus expected value.
        scale: Robust spread of the residuals.
        profile: Seasonal profile, one value per phase (``[0.]`` without a period).
        period: Period used, in points (0: none).
        window: Trailing window of the local level.
        deseasonalised: The series minus its seasonal profile.
    """

    expected: np.ndarray
    residual: np.ndarray
    scale: float
    profile: np.ndarray
    period: int
    window: int
    deseasonalised: np.ndarray

    def predict_next(self) -> float:
        """Expected value of the point after the last one fitted."""
        level = float(np.median(self.deseasonalised[-self.window :]))
        phase = self.deseasonalised.size % self.period if self.period else 0
        return level + float(self.profile[phase])


def find_period(values: np.ndarray, step_seconds: float | None) -> int:
    """The series' period in points (0: none), read from its detrended autocorrelation."""
    n = values.size
    x = np.arange(n, dtype=np.float64)
    slope, intercept = np.polyfit(x, values, 1) if n > 2 else (0.0, 0.0)
    detrended = values - (slope * x + intercept)
    times = x * step_seconds if step_seconds else None
    period = detect_period(detrended, times, max_period=min(MAX_DETECTED_PERIOD, n // 2))
    return period if period and n >= 2 * period else 0


def _phase_table(values: np.ndarray, period: int) -> np.ndarray:
    """Each value minus its centred ``period``-point moving average, as (cycles, period), NaN-padded."""
    n = values.size
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.clip(np.arange(n) - period // 2, 0, n - period)
    detail = values - (cumulative[lo + period] - cumulative[lo]) / period
    cycles = -(-n // period)
    table = np.full(cycles * period, np.nan)
    table[:n] = detail
    return table.reshape(cycles, period)


def seasonal_profile(values: np.ndarray, period: int) -> np.ndarray:
    """Per-phase medians of the series around its centred moving average, summing to zero."""
    if period < 2 or values.size < 2 * period:
        return np.zeros(1)
    profile = np.nanmedian(_phase_table(values, period), axis=0)
    return profile - profile.mean()


def seasonal_component(values: np.ndarray, period: int, profile: np.ndarray) -> np.ndarray:
    """The seasonal part of every point, each cycle's taken from the *other* cycles.

    With few cycles a per-phase median is one of the values it summarises: in-sample, one
    residual per phase and cycle would be about zero, the spread would come out too small and
    the margins too narrow. Leaving each cycle out of its own profile keeps residuals honest.
    From :data:`LEAVE_OUT_CYCLES` cycles on the difference is negligible and the full profile serves.
    """
    n = values.size
    if profile.size < 2:
        return np.zeros(n)
    table = _phase_table(values, period)
    cycles = table.shape[0]
    if cycles > LEAVE_OUT_CYCLES:
        return profile[np.arange(n) % period]
    out = np.empty((cycles, period))
    for c in range(cycles):
        others = np.nanmedian(np.delete(table, c, axis=0), axis=0)
        others = np.where(np.isnan(others), profile, others)
        out[c] = others - others.mean()
    return out.reshape(-1)[:n]


def decompose(values: np.ndarray, period: int) -> Decomposition:
    """Fits the model to ``values`` (evenly spaced, finite) with ``period`` (0: none)."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    profile = seasonal_profile(y, period)
    period = period if profile.size > 1 else 0
    seasonal = seasonal_component(y, period, profile)
    d = y - seasonal
    windows = [w for w in LEVEL_WINDOWS if w < max(2, n // 2)]
    start = min(max(windows), n - 1)
    best = None
    for w in reversed(windows):  # ties go to the longer, steadier window
        level = trailing_median(d, w)
        error = float(np.median(np.abs(d[start:] - level[start:])))
        if best is None or error < best[0]:
            best = (error, w, level)
    assert best is not None
    _, window, level = best
    # Second pass: points far off the first fit are replaced by their expectation, so that an
    # anomaly lasting longer than half the window does not become the level it is judged by.
    first = d - level
    outlying = np.abs(first) > CLEANING_FACTOR * robust_scale(first)
    if outlying.any():
        d = np.where(outlying, level, d)
        level = trailing_median(d, window)
    expected = level + seasonal
    residual = y - expected
    return Decomposition(expected, residual, robust_scale(residual), profile, period, window, d)
