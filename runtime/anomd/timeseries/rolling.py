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

    The MAD (scaled to a normal's standard deviation), floored by a tenth of the mean absolute
    deviation: a series of repeated values (counts, quantised sensors) has a MAD of zero while
    it still varies, and a scale of zero would call every change infinitely anomalous.
    """
    r = np.asarray(residuals, dtype=np.float64)
    if r.size == 0:
        return 1.0
    center = float(np.median(r))
    deviation = np.abs(r - center)
    mad = 1.4826 * float(np.median(deviation))
    mean_abs = float(np.mean(deviation))
    return max(mad, 0.1 * mean_abs, 1e-9)
