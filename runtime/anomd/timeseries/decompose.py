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
* **Spread**: :func:`~.rolling.robust_scale` of the residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomd.timeseries.period import detect_period
from anomd.timeseries.rolling import robust_scale, trailing_median

#: Trailing windows tried for the local level (points).
LEVEL_WINDOWS = (1, 3, 5, 9, 17, 33)
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


def seasonal_profile(values: np.ndarray, period: int) -> np.ndarray:
    """Per-phase medians of the series around its centred moving average, summing to zero."""
    n = values.size
    if period < 2 or n < 2 * period:
        return np.zeros(1)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    half = period // 2
    lo = np.clip(np.arange(n) - half, 0, n - period)
    base = (cumulative[lo + period] - cumulative[lo]) / period
    detail = values - base
    cycles = -(-n // period)
    table = np.full(cycles * period, np.nan)
    table[:n] = detail
    profile = np.nanmedian(table.reshape(cycles, period), axis=0)
    return profile - profile.mean()


def decompose(values: np.ndarray, period: int) -> Decomposition:
    """Fits the model to ``values`` (evenly spaced, finite) with ``period`` (0: none)."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    profile = seasonal_profile(y, period)
    period = period if profile.size > 1 else 0
    seasonal = profile[np.arange(n) % period] if period else np.zeros(n)
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
    expected = level + seasonal
    residual = y - expected
    return Decomposition(expected, residual, robust_scale(residual), profile, period, window, d)
