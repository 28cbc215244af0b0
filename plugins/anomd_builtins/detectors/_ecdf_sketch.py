"""A compact, tail-exact summary of each training column's empirical distribution.

ECOD and COPOD score a value by how many training values lie at or below it (left tail) and at
or above it (right tail). PyOD answers that by re-ranking the value together with the whole
stored training matrix on every call, so its cost and its saved size grow with the training
set. This sketch keeps, per column, a sorted set of *knots* (training values) with the exact
number of training values ``<`` and ``<=`` each knot, and interpolates counts between knots.

Which knots are kept decides the accuracy. The scores use ``-log`` of tail probabilities, so
what matters is the *relative* error of the smaller tail count, not the absolute error of the
CDF. The knots are therefore every distinct value near both ends of the column and then
positions spaced geometrically (each gap at most ``rel_gap`` times the distance to the nearer
end) towards the middle. An interpolated tail count is then off by at most ``rel_gap`` of
itself, i.e. at most about ``rel_gap`` in ``-log p`` per feature, and the extreme tails —
where anomalies live — are exact. A column with few distinct values (binary, categorical,
integer codes) is stored exactly. The size is O(log n / rel_gap) per column instead of O(n).
"""

from __future__ import annotations

import numpy as np

#: Largest relative gap between neighbouring knots (see the module docstring).
DEFAULT_REL_GAP = 1.0 / 128


def knot_positions(n_unique: int, rel_gap: float) -> np.ndarray:
    """Indices into a column's sorted distinct values to keep as knots.

    Dense near both ends (every value within ``1 / rel_gap`` of an end), then geometric
    towards the middle, so that the gap between neighbouring knots never exceeds ``rel_gap``
    times the distance of the knot from the nearer end.
    """
    if n_unique <= 2:
        return np.arange(n_unique)
    half = (n_unique - 1) / 2.0
    side = [0]
    while side[-1] < half:
        side.append(max(side[-1] + 1, int(side[-1] * (1.0 + rel_gap))))
    lower = np.asarray(side, dtype=np.int64)
    lower = lower[lower <= half]
    positions = np.concatenate((lower, (n_unique - 1) - lower, [int(half), int(np.ceil(half))]))
    return np.unique(positions)


class ColumnSketch:
    """Knots of one column: values, and exact training counts below and at-or-below each.

    Attributes:
        values: Sorted distinct knot values (float64).
        below: ``#{training values < knot}`` per knot.
        at_or_below: ``#{training values <= knot}`` per knot.
    """

    __slots__ = ("values", "below", "at_or_below")

    def __init__(self, values: np.ndarray, below: np.ndarray, at_or_below: np.ndarray) -> None:
        self.values = values
        self.below = below
        self.at_or_below = at_or_below

    @classmethod
    def build(cls, column: np.ndarray, rel_gap: float) -> ColumnSketch:
        ordered = np.sort(np.asarray(column, dtype=np.float64))
        distinct, first = np.unique(ordered, return_index=True)
        below_all = first.astype(np.int64)
        at_or_below_all = np.append(first[1:], ordered.size).astype(np.int64)
        keep = knot_positions(distinct.size, rel_gap)
        # Counts fit in int32 for any realistic training set and halve the stored size.
        dtype = np.int32 if ordered.size < np.iinfo(np.int32).max else np.int64
        return cls(distinct[keep], below_all[keep].astype(dtype), at_or_below_all[keep].astype(dtype))

    def count_at_or_below(self, x: np.ndarray) -> np.ndarray:
        """Training values ``<= x`` for each ``x``: exact at knots, interpolated between them.

        Between two neighbouring knots ``a < x < b`` the count rises from ``#{<= a}`` to
        ``#{< b}``; it is interpolated linearly in ``x``, which is exact whenever no training
        value lies strictly between the knots (the dense tails, and exactly stored columns).
        """
        values, n = self.values, int(self.at_or_below[-1])
        k = np.searchsorted(values, x, side="right") - 1  # last knot <= x, or -1
        inside = (k >= 0) & (k < values.size - 1)
        kk = np.clip(k, 0, values.size - 1)
        counts = np.where(k < 0, 0.0, self.at_or_below[kk].astype(np.float64))
        counts = np.where(k >= values.size - 1, float(n), counts)
        if inside.any():
            lo = kk[inside]
            a, b = values[lo], values[lo + 1]
            start = self.at_or_below[lo].astype(np.float64)
            gap = self.below[lo + 1] - self.at_or_below[lo]
            exact = values[lo] == x[inside]
            frac = (x[inside] - a) / (b - a)
            counts[inside] = np.where(exact, start, start + frac * gap)
        return counts

    def count_at_or_above(self, x: np.ndarray) -> np.ndarray:
        """Training values ``>= x`` for each ``x`` (exact at knots, interpolated between)."""
        values, n = self.values, int(self.at_or_below[-1])
        k = np.searchsorted(values, x, side="left")  # first knot >= x, or len
        kk = np.clip(k, 0, values.size - 1)
        hit = (k < values.size) & (values[kk] == x)
        # Off the knots, #{>= x} = n - #{<= x}; on a knot, ties at x count on this side.
        counts = n - self.count_at_or_below(x)
        return np.where(hit, float(n) - self.below[kk], counts)

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.below.nbytes + self.at_or_below.nbytes


class ECDFSketch:
    """Per-column sketches of a training matrix, answering left and right tail probabilities.

    The probabilities are those of a new row appended to the training set and ranked with it,
    ``(#{training <= x} + 1) / (n + 1)``: exactly what PyOD computes for a single row, but
    without the training matrix and at a cost independent of ``n``.

    Args:
        columns: One :class:`ColumnSketch` per feature.
        n_samples: Number of training rows.
    """

    def __init__(self, columns: list[ColumnSketch], n_samples: int) -> None:
        self.columns = columns
        self.n_samples = n_samples

    @classmethod
    def build(cls, X: np.ndarray, rel_gap: float = DEFAULT_REL_GAP) -> ECDFSketch:
        X = np.asarray(X, dtype=np.float64)
        return cls([ColumnSketch.build(X[:, j], rel_gap) for j in range(X.shape[1])], X.shape[0])

    def tail_probabilities(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left and right tail probabilities, each shaped like ``X``."""
        X = np.asarray(X, dtype=np.float64)
        left = np.empty_like(X)
        right = np.empty_like(X)
        for j, column in enumerate(self.columns):
            left[:, j] = column.count_at_or_below(X[:, j])
            right[:, j] = column.count_at_or_above(X[:, j])
        scale = 1.0 / (self.n_samples + 1)
        return (left + 1.0) * scale, (right + 1.0) * scale

    @property
    def nbytes(self) -> int:
        return sum(column.nbytes for column in self.columns)
