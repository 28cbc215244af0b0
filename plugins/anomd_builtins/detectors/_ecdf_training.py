"""ECOD's and COPOD's training scores, computed as PyOD computes them, without PyOD.

The threshold is a quantile of the training scores, so they must be PyOD's to the bit. PyOD's
``fit`` ranks each training column against itself: the left tail of a value is the empirical
CDF ``#{x' <= x} / n`` taken from ``linspace(1/n, 1, n)`` (equal values share the value of the
last of them), the right tail the same on ``-X``; each column's skewness sign (scipy's biased
skewness, NaN for a constant column counted as 0) picks the skewness-corrected tail. This
module repeats those operations in the same order with NumPy alone, which spares importing
PyOD, scikit-learn and scipy.stats (seconds of a cold start: ``anomd detect`` on a small file)
and PyOD's copies of the training matrix. ``tests/test_fast_paths.py`` compares the result with
PyOD's ``decision_scores_`` exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def _tail(X: np.ndarray, ordered: np.ndarray, levels: np.ndarray, side: str) -> np.ndarray:
    """The empirical CDF of each cell within its column: ``levels[#{x' <= x} - 1]``
    (``side="right"``), or of ``-X`` (``side="left"``: ``#{x' >= x}``)."""
    n = X.shape[0]
    out = np.empty_like(X)
    for j in range(X.shape[1]):
        found = np.searchsorted(ordered[:, j], X[:, j], side=side)
        count = found if side == "right" else n - found
        out[:, j] = levels[count - 1, j]
    return out


def _skewness_signs(X: np.ndarray) -> np.ndarray:
    """``np.sign(np.nan_to_num(scipy.stats.skew(X, axis=0)))`` (biased), step for step."""
    mean = np.mean(X, axis=0, keepdims=True)
    centred = X - mean
    m2 = np.mean(centred**2, axis=0)
    cubed = centred.copy()
    cubed = cubed**2
    cubed *= centred
    m3 = np.mean(cubed, axis=0)
    with np.errstate(all="ignore"):
        zero = m2 <= (np.finfo(m2.dtype).eps * mean[0]) ** 2
        skewness = np.where(zero, np.nan, m3 / m2**1.5)
    return np.sign(np.nan_to_num(skewness))


def training_scores(X: np.ndarray, rule: Literal["ecod", "copod"]) -> np.ndarray:
    """PyOD's ``decision_scores_`` of ECOD (``rule="ecod"``) or COPOD fitted on ``X``."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    levels = np.linspace(np.ones(d) / n, np.ones(d), n)
    ordered = np.sort(X, axis=0)
    u_left = -1 * np.log(_tail(X, ordered, levels, "right"))
    u_right = -1 * np.log(_tail(X, ordered, levels, "left"))
    skewness = _skewness_signs(X)
    u_skew = u_left * -1 * np.sign(skewness - 1) + u_right * np.sign(skewness + 1)
    if rule == "ecod":
        outlying = np.maximum(u_skew, np.maximum(u_left, u_right))
    else:
        outlying = np.maximum(u_skew, np.add(u_left, u_right) / 2)
    return outlying.sum(axis=1).ravel()
