"""The NAB scoring rules, written from the benchmark's documented rules (see the data README).

For one cost profile (weights ``A_TP``, ``A_FP``, ``A_FN``):

* Probation: the first ``min(floor(0.15 n), 750)`` rows of a series are not scored; detections
  there are ignored.
* A detection is a row whose anomaly score is ``>=`` the threshold.
* Scaled sigmoid ``sigma(y) = 2 / (1 + exp(5 y)) - 1``.
* Inside a window of rows ``[l, r]`` (width ``W = r - l + 1``), a detection at row ``i`` has
  relative position ``y = -(r - i + 1) / W`` (``-1`` at the window's first row, near 0 at its
  last) and is worth ``A_TP * sigma(y) / sigma(-1)``: the earliest detection earns ``A_TP``,
  later ones less. Only the first detection in a window counts.
* A window without detection costs ``-A_FN``.
* A detection outside every window costs ``A_FP * sigma(y)`` with ``y = (i - r) / (W - 1)``
  relative to the nearest window ``[l, r]`` before it (a detection just after a window costs
  little, one far after costs almost ``A_FP``), or ``-A_FP`` when no window precedes it.
* The corpus score is the sum over series. One threshold for the whole corpus is chosen to
  maximise it (every distinct score value is tried, plus "never fire").
* Normalised score: ``100 * (S - S_null) / (S_perfect - S_null)``, where the null detector
  never fires (``S_null = -A_FN * windows``) and the perfect one detects every window at its
  first row and nothing else (``S_perfect = A_TP * windows``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PROFILES: dict[str, tuple[float, float, float]] = {
    # name: (A_TP, A_FP, A_FN)
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}


def scaled_sigmoid(y: float) -> float:
    if y > 100:  # exp overflows; the limit is -1
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(n: int) -> int:
    return min(math.floor(0.15 * n), 750)


@dataclass(frozen=True)
class LabelledSeries:
    """One series: its anomaly scores and its windows as inclusive row ranges."""

    name: str
    scores: np.ndarray
    windows: tuple[tuple[int, int], ...]


def windows_to_rows(timestamps: np.ndarray, windows: Sequence[Sequence[str]]) -> tuple[tuple[int, int], ...]:
    """``[start, end]`` timestamp windows → inclusive row ranges (rows whose time is inside)."""
    rows = []
    for start, end in windows:
        left = int(np.searchsorted(timestamps, np.datetime64(start), side="left"))
        right = int(np.searchsorted(timestamps, np.datetime64(end), side="right")) - 1
        if right >= left:
            rows.append((left, right))
    return tuple(rows)


def row_weights(n: int, windows: tuple[tuple[int, int], ...], profile: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the window it lies in (-1 if none) and what a detection there is worth."""
    a_tp, a_fp, _ = PROFILES[profile]
    window_of = np.full(n, -1, dtype=np.int64)
    value = np.empty(n)
    max_tp = scaled_sigmoid(-1.0)
    previous: tuple[int, int] | None = None
    ordered = sorted(windows)
    w = 0
    for i in range(n):
        while w < len(ordered) and ordered[w][1] < i:
            previous = ordered[w]
            w += 1
        if w < len(ordered) and ordered[w][0] <= i <= ordered[w][1]:
            left, right = ordered[w]
            window_of[i] = windows.index(ordered[w])
            value[i] = a_tp * scaled_sigmoid(-(right - i + 1) / (right - left + 1)) / max_tp
        elif previous is None:
            value[i] = -a_fp
        else:
            left, right = previous
            value[i] = a_fp * scaled_sigmoid((i - right) / max(1, right - left))
    return window_of, value


@dataclass(frozen=True)
class NabResult:
    profile: str
    raw: float
    normalized: float
    threshold: float
    null: float
    perfect: float
    windows: int


def score_corpus(series: Sequence[LabelledSeries], profile: str = "standard") -> NabResult:
    """The corpus score at the best single threshold, raw and normalised."""
    a_tp, _, a_fn = PROFILES[profile]
    all_scores, all_window, all_value, all_rank = [], [], [], []
    offset = 0
    for s in series:
        n = len(s.scores)
        window_of, value = row_weights(n, s.windows, profile)
        start = probation_rows(n)
        window_ids = np.where(window_of[start:] >= 0, window_of[start:] + offset, -1)
        all_scores.append(np.asarray(s.scores[start:], dtype=np.float64))
        all_window.append(window_ids)
        all_value.append(value[start:])
        all_rank.append(np.arange(start, n))
        offset += len(s.windows)
    total_windows = offset
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    window_ids = np.concatenate(all_window) if all_window else np.zeros(0, dtype=np.int64)
    values = np.concatenate(all_value) if all_value else np.zeros(0)
    rows = np.concatenate(all_rank) if all_rank else np.zeros(0, dtype=np.int64)

    null = -a_fn * total_windows
    best_total, best_threshold = null, math.inf
    total = null
    first_row = np.full(total_windows, -1, dtype=np.int64)
    first_value = np.zeros(total_windows)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    k = 0
    while k < len(order):
        level = sorted_scores[k]
        while k < len(order) and sorted_scores[k] == level:
            j = order[k]
            w = window_ids[j]
            if w < 0:
                total += values[j]
            elif first_row[w] < 0:
                total += values[j] + a_fn
                first_row[w], first_value[w] = rows[j], values[j]
            elif rows[j] < first_row[w]:
                total += values[j] - first_value[w]
                first_row[w], first_value[w] = rows[j], values[j]
            k += 1
        if total > best_total:
            best_total, best_threshold = total, float(level)
    perfect = a_tp * total_windows
    span = perfect - null
    normalized = 100.0 * (best_total - null) / span if span else 0.0
    return NabResult(profile, best_total, normalized, best_threshold, null, perfect, total_windows)
