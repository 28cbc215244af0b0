"""Change points: where the level of a series moves and then stays.

At every point ``t`` the medians of the ``W`` deseasonalised values before it and of the ``W``
from it on (``W = stable_trend_window``) are compared. Their difference, in standard errors of a
median difference (``1.2533 σ √(2/W)``, σ the spread of the point-to-point differences, which a
level shift hardly moves), is a z statistic; its two-sided p-value, multiplied by the number of
independent windows in the series (``n / W``, a Bonferroni bound over the whole series), gives
``confidence_score = 1 - that``, clipped to [0, 1]: a confidence of 0.99 means a change that
white noise would produce somewhere in the series about once in a hundred series. A change
point is a point at or above ``threshold`` that is also the strongest within ``W`` points on
either side, so one shift gives one change point.
"""

from __future__ import annotations

import msgspec
import numpy as np
from scipy.special import erfc

from anomd.timeseries.decompose import seasonal_profile
from anomd.timeseries.options import ChangePointOptions
from anomd.timeseries.rolling import leading_median, robust_scale, trailing_median
from anomd.timeseries.series_input import prepare

#: Standard error of a median of normal values, in standard errors of their mean.
MEDIAN_EFFICIENCY = 1.2533


class ChangePointResult(msgspec.Struct, kw_only=True):
    """Per point sent, in order: whether the level changes there, and how sure that is."""

    period: int
    granularity: str
    custom_interval: int
    is_change_point: list[bool]
    confidence_scores: list[float]


def change_confidence(values: np.ndarray, period: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence in [0, 1] that the level changes at each point of ``values`` (evenly spaced),
    the z statistic behind it (which, unlike the confidence, does not saturate), and the
    deseasonalised values it was read from."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    profile = seasonal_profile(y, period)
    d = y - profile[np.arange(n) % period] if profile.size > 1 else y
    window = max(2, min(window, n // 2))
    before = trailing_median(d, window)
    after = np.empty(n)
    after[1:] = leading_median(d, window)[:-1]  # the window values from t on
    after[0] = before[0]
    sigma = robust_scale(np.diff(d)) / np.sqrt(2.0)
    z = np.abs(after - before) / (MEDIAN_EFFICIENCY * sigma * np.sqrt(2.0 / window))
    confidence = np.clip(1.0 - erfc(z / np.sqrt(2.0)) * (n / window), 0.0, 1.0)
    confidence[:window] = 0.0  # a window cut by the start or the end is mirrored, not seen
    confidence[n - window + 1 :] = 0.0
    return confidence, z, d


def local_peaks(score: np.ndarray, radius: int) -> np.ndarray:
    """Points whose score is the largest within ``radius`` on either side (the first of ties)."""
    from numpy.lib.stride_tricks import sliding_window_view

    padded = np.concatenate([np.full(radius, -np.inf), score, np.full(radius, -np.inf)])
    peak = score >= sliding_window_view(padded, 2 * radius + 1).max(axis=1)
    # Of a plateau of equal scores keep only its first point.
    peak[1:] &= ~(peak[:-1] & (score[1:] == score[:-1]))
    return peak


def refine(values: np.ndarray, t: int, window: int) -> int:
    """The split near ``t`` that best cuts ``values[t - window : t + window]`` into two levels.

    The medians of two windows of ten noisy points can peak a point early or late; the split
    with the least total absolute deviation from its two sides' medians is the least-squares
    idea made robust, and puts the change where the level actually moves.
    """
    lo, hi = max(0, t - window), min(values.size, t + window)
    segment = values[lo:hi]
    best, where = np.inf, t
    for split in range(max(lo + 2, t - window // 2), min(hi - 1, t + window // 2 + 1)):
        left, right = segment[: split - lo], segment[split - lo :]
        cost = np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum()
        if cost < best:
            best, where = cost, split
    return where


def detect_change_points(options: ChangePointOptions, max_points: int) -> ChangePointResult:
    """Change points of ``options.series`` (see the module docstring).

    Raises:
        SeriesInputError: A series or option that cannot be used, naming the field.
    """
    prepared = prepare(options, max_points)
    grid = prepared.grid
    window = options.stable_trend_window
    confidence, z, d = change_confidence(grid.values, prepared.period, window)
    peaks = np.flatnonzero((confidence >= options.threshold) & (confidence > 0) & local_peaks(z, window))
    points = np.zeros(confidence.size, dtype=bool)
    points[[refine(d, int(t), window) for t in peaks]] = True
    at = grid.observed
    return ChangePointResult(
        period=prepared.period, granularity=grid.granularity, custom_interval=grid.custom_interval,
        is_change_point=points[at].tolist(), confidence_scores=confidence[at].tolist(),
    )
