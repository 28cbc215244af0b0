"""Finding a series' period (its seasonality) from the data it has seen so far.

The period is the lag, in points, at which the series best repeats itself. It is read off the
autocorrelation of the trailing values: the first local maximum above :data:`MIN_CORRELATION`
(the shortest clear cycle, lag 4 or more); a lag of exactly one day or one week, computed from
the timestamps' typical spacing, replaces it when that lag correlates about as strongly or more
(within :data:`CALENDAR_MARGIN`: the calendar is a strong prior, and noise can move the peak of
a daily cycle by a sample; a daily cycle inside a weekly one is common in service metrics). No lag above the bar means no period:
white noise, trends and random walks have none, and a seasonal feature then stays silent
rather than inventing one. Only past values are used, so the result is causal wherever it is
applied.
"""

from __future__ import annotations

import numpy as np

#: Autocorrelation a lag needs to count as a period.
MIN_CORRELATION = 0.3
#: Shortest period considered (shorter "cycles" are indistinguishable from noise).
MIN_PERIOD = 4
#: How much weaker than the best lag a calendar day or week may correlate and still be chosen.
CALENDAR_MARGIN = 0.05
#: Seconds in the calendar periods preferred when they correlate better.
DAY, WEEK = 86_400.0, 7 * 86_400.0


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of ``values`` at lags 0..max_lag (FFT, O(n log n))."""
    y = np.asarray(values, dtype=np.float64)
    y = y - y.mean()
    energy = float(y @ y)
    n = y.size
    if energy <= 0.0 or n < 2:
        return np.zeros(max_lag + 1)
    spectrum = np.fft.rfft(y, 2 * n)
    return np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1] / energy


def calendar_periods(times: np.ndarray | None) -> list[int]:
    """One day and one week in points, for timestamps spaced evenly enough to hold them."""
    if times is None or len(times) < 3:
        return []
    step = float(np.median(np.diff(np.asarray(times, dtype=np.float64))))
    if not step > 0.0:
        return []
    found = []
    for span in (DAY, WEEK):
        period = round(span / step)
        if period >= MIN_PERIOD and abs(period * step - span) < 0.5 * step:
            found.append(period)
    return found


def detect_period(values: np.ndarray, times: np.ndarray | None = None, max_period: int | None = None) -> int:
    """The period of ``values`` in points, or 0 when there is none.

    Args:
        values: The series so far, oldest first (a window of the newest values).
        times: Their timestamps in seconds (optional): allow the day and week candidates.
        max_period: Longest period considered (default: half the values, so that at least two
            cycles are seen).
    """
    n = len(values)
    longest = min(n // 2, max_period if max_period is not None else n // 2)
    if longest <= MIN_PERIOD:
        return 0
    acf = autocorrelation(values, longest + 1)
    best, best_corr = 0, MIN_CORRELATION
    for lag in range(MIN_PERIOD, longest):
        if acf[lag] > acf[lag - 1] and acf[lag] >= acf[lag + 1] and acf[lag] > best_corr:
            best, best_corr = lag, float(acf[lag])
            break
    for lag in calendar_periods(times):
        if lag <= longest and acf[lag] > max(best_corr - CALENDAR_MARGIN, MIN_CORRELATION):
            best, best_corr = lag, float(acf[lag])
    return best
