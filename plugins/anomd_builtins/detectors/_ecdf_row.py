"""ECOD and COPOD scores of one row in plain Python, for streaming ticks.

A stream scores each point on its own. The vectorised path (``ECDFSketch.counts`` and
friends) runs a few dozen numpy operations per call, each costing a microsecond or more
whatever the array size, so one row of three features cost about 80 µs of which almost none
was arithmetic. Here each column is a binary search over a memoryview of its knots
(``bisect`` on a strided buffer, no copy) and a handful of float operations: about a microsecond per
feature.

The formulas and the order of operations are those of ``ECDFSketch.counts``,
``ECDFSketch.tail_probabilities``, ``AppendedSkew.signs``, ``combine_tails`` and
``RangeTails.nats`` (the tail term beyond the training range), so the two paths agree to the last bit or two; ``tests/test_fast_paths.py`` compares them. Past
:data:`MAX_FEATURES` the per-feature Python cost overtakes numpy's fixed cost and the detector
uses the vectorised path.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from math import log

import numpy as np

from ._appended_skew import AppendedSkew
from ._ecdf_sketch import ECDFSketch
from ._range_tails import RangeTails

#: Widest row scored here; wider rows are cheaper through the vectorised path. Measured for
#: ECOD on 1,000 training rows: 5.7 µs vs 88 µs at 3 features, 57 vs 92 at 33, 111 vs 96 at 64.
MAX_FEATURES = 48

_EPS = float(np.finfo(np.float64).eps)


class ECDFRowScorer:
    """Per-column views of a fitted sketch and its skewness moments, for one-row scoring.

    Built from the fitted state on first use and never pickled (memoryviews do not pickle,
    and everything here is derived). The views share the sketch's memory, so a detector that
    scores single points costs no more memory than one that does not.

    Args:
        sketch: The fitted ECDF sketch.
        skew: The training columns' moments.
        ecod: True for ECOD's combination rule, False for COPOD's.
        tails: The tail beyond each column's training range (None: capped, as PyOD).
    """

    def __init__(self, sketch: ECDFSketch, skew: AppendedSkew, ecod: bool, tails: RangeTails | None = None) -> None:
        self.ecod = ecod
        self.n = sketch.n_samples
        self.total = skew.n + 1.0
        n = float(skew.n)
        self.grow2 = n / self.total
        self.grow3 = n * (n - 1.0) / self.total**2
        values = sketch.keys.imag
        training_signs = skew.training_signs().tolist()
        d = sketch.starts.size - 1
        # Per column (lo, hi, rate_lo, growth_lo, rate_hi, growth_hi); no tail: all zero.
        beyond = tails.per_column if tails is not None else [(0.0,) * 6] * d
        self.columns = []
        for j in range(d):
            lo, hi = int(sketch.starts[j]), int(sketch.starts[j + 1])
            self.columns.append((
                memoryview(values[lo:hi]),  # strided views of the sketch: nothing is copied
                memoryview(sketch.below[lo:hi]),
                memoryview(sketch.at_or_below[lo:hi]),
                hi - lo - 1,
                float(skew.mean[j]),
                float(skew.m2[j]),
                float(skew.m3[j]),
                training_signs[j],
                *beyond[j],
            ))

    def score(self, row: Sequence[float]) -> float:
        """The raw ECOD or COPOD score of ``row`` (``d`` floats, column order)."""
        n = self.n
        n_plus_1 = n + 1
        total, grow2, grow3 = self.total, self.grow2, self.grow3
        ecod = self.ecod
        score = 0.0
        tail = 0.0
        for x, (
            values, below, at_or_below, last, mean0, m2_0, m3_0, training_sign,
            lo, hi, rate_lo, growth_lo, rate_hi, growth_hi,
        ) in zip(row, self.columns):
            k = bisect_right(values, x) - 1
            if k >= 0 and values[k] == x:
                # A value seen in training: the training ECDF and the training skewness sign.
                left = at_or_below[k] / n
                right = (n - below[k]) / n
                sign = training_sign
            else:
                if k < 0:  # below every knot: nothing at or below, everything at or above
                    left = 1.0 / n_plus_1
                    right = (n + 1.0) / n_plus_1
                    e = lo - x
                    tail += e * (rate_lo + e * growth_lo)
                else:
                    a = values[k]
                    start = at_or_below[k]
                    if k < last:  # interpolate between the neighbouring knots
                        at_or_below_x = start + (x - a) / (values[k + 1] - a) * (below[k + 1] - start)
                    else:  # above every knot
                        at_or_below_x = start + 0.0
                        e = x - hi
                        tail += e * (rate_hi + e * growth_hi)
                    left = (at_or_below_x + 1.0) / n_plus_1
                    right = (n - at_or_below_x + 1.0) / n_plus_1
                # The column's skewness sign with this row appended.
                delta = x - mean0
                mean = mean0 + delta / total
                m2 = m2_0 + delta * delta * grow2
                if m2 / total <= (_EPS * mean) ** 2:
                    sign = 0.0
                else:
                    m3 = m3_0 + delta**3 * grow3 - 3.0 * delta * m2_0 / total
                    sign = (m3 > 0.0) - (m3 < 0.0)
            u_left = -log(left)
            u_right = -log(right)
            if sign < 0:
                u_skew = u_left + 0.0
            elif sign > 0:
                u_skew = u_right + 0.0
            else:
                u_skew = u_left + u_right
            if ecod:
                score += max(u_left, u_right, u_skew)
            else:
                score += max(u_skew, (u_left + u_right) / 2.0)
        return score + tail
