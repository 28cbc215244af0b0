"""Rolling medians over a series, in bounded memory.

A rolling median is the robust building block of the decomposition (:mod:`.decompose`) and of
change-point detection (:mod:`.changepoint`): a spike shorter than half the window cannot move
it. NumPy computes it on a strided view of the windows; the view costs nothing, but the median
copies what it reads, so the rows are taken in chunks of at most :data:`CHUNK_CELLS` cells
(32 MB) whatever the series' length and window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Most window cells one median call copies (4 M float64: 32 MB).
CHUNK_CELLS = 4_000_000


def _median_rows(windows: np.ndarray) -> np.ndarray:
    rows, width = windows.shape
    step = max(1, CHUNK_CELLS // max(width, 1))
    out = np.empty(rows)
    for start in range(0, rows, step):
        out[start : start + step] = np.median(windows[start : start + step], axis=1)
    return out


def trailing_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of the ``window`` values before each point (not the point itself).

    The first points have fewer predecessors; their window is completed by the points that
    follow them (mirrored), so every point gets a prediction from ``window`` values.
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    window = max(1, min(window, n - 1))
    prefix = y[1 : window + 1][::-1]
    padded = np.concatenate([prefix, y])
    return _median_rows(sliding_window_view(padded, window)[:n])


def centered_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of the ``window`` values centred on each point (mirrored at the ends)."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    half = max(0, min(window // 2, n - 1))
    if half == 0:
        return y.copy()
    padded = np.concatenate([y[1 : half + 1][::-1], y, y[-half - 1 : -1][::-1]])
    return _median_rows(sliding_window_view(padded, 2 * half + 1))


def leading_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of the ``window`` values after each point (not the point; mirrored at the end)."""
    y = np.asarray(values, dtype=np.float64)
    return trailing_median(y[::-1], window)[::-1]


def robust_scale(residuals: np.ndarray) -> float:
    """A spread of ``residuals`` that a few anomalies cannot inflate.

    The larger of the MAD and the mean absolute deviation of the central 98 % (each scaled to a
    normal's standard deviation, so both are σ for normal noise). The MAD alone fails on
    quantised or mostly-flat series (counts, CPU percentages), where most residuals are exactly
    zero: its zero spread would call every ordinary change anomalous. The trimmed mean absolute
    deviation sees those changes, and the 1 % largest residuals on either side, where the
    anomalies are, do not enter it.
    """
    r = np.asarray(residuals, dtype=np.float64)
    if r.size == 0:
        return 1.0
    deviation = np.abs(r - np.median(r))
    mad = 1.4826 * float(np.median(deviation))
    central = deviation[deviation <= np.quantile(deviation, 0.98)]
    mean_abs = 1.2533 * float(central.mean()) if central.size else 0.0
    return max(mad, mean_abs, 1e-9)
