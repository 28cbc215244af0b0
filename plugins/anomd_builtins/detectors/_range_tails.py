"""How much a value beyond everything seen in training counts: a tail model per column.

ECOD, COPOD and HBOS score a value from its column's empirical distribution (ranks, histogram
bins), and so does the isolation forest in effect (no split separates a value beyond the
training range from the most extreme training value). PyOD's versions therefore see a value
beyond the training range like the most extreme training value: a reading fifty standard
deviations out scores like one at three, and when one column cannot outweigh the ordinary tails
of the others, the row is not flagged. With ``tail: "extrapolated"`` (the default) anomd adds a
*tail term* that grows with the distance beyond the range, and leaves every score inside the
range as it was (``"capped"`` keeps PyOD's scores exactly).

The model, per column and side. The ``k = ceil(sqrt(n))`` most extreme training values above
the next one, ``u``, are a peaks-over-threshold sample; their mean excess over ``u``, ``beta``,
is the maximum-likelihood scale of an exponential tail (the generalised Pareto tail with shape
0), i.e. the rate ``1 / beta`` at which ``-log P(X > x)`` grows near the extremes. Beyond the
training maximum ``M`` (minimum alike) the rate starts there and rises in proportion to the
distance, doubling at a distance ``r = M - median`` beyond ``M``, as a Gaussian tail's does (its
rate at distance ``z`` from the centre is about ``z / sigma^2``)::

    -log P(X > x) = -log P(X > M) + (x - M) / beta + (x - M)^2 / (2 beta r)

So the tail term is 0 inside the range, continuous at ``M`` and strictly increasing beyond it;
close to ``M`` it is the exponential tail fitted to the data (a heavy-tailed column has a large
``beta`` and a large ``r`` and grows slowly), far out it grows like a Gaussian tail, so a gross
outlier outweighs any combination of ordinary values. A pure exponential tail was measured
first: at 8 standard deviations of a Gaussian feature it gives about 11 nats where the true tail
has 30, too few to flag such a value in a row of 20 features; the Gaussian-like growth gives
about 20. A tail fitted with a free shape was not chosen: from ``sqrt(n)`` values a negative
shape (an end point, beyond which the score is infinite) is as likely as a positive one.

Fallbacks: when the ``k + 1`` most extreme values are tied (binary, categorical, saturated
columns), the mean excess is zero and the column's standard deviation is ``beta`` instead; ``r``
is at least ``beta``. A column that was constant in training (up to rounding) has no spread to
measure distance in: it gets no tail and keeps the detector's own view of it.

How the nats become score: ECOD and COPOD sum ``-log`` tail probabilities over the features and
HBOS ``-log2`` densities, so the tail's nats (bits for HBOS) add to their scores directly. The
isolation forest, LODA, SUOD and the autoencoder do not score in log-probabilities; for them a
nat is worth the training scores' robust spread divided by ``sqrt(d)`` (the spread of a sum of
``d`` per-feature log-probabilities of about one nat each), so a value beyond the range moves a
row as far, relative to the training scores, as it moves an ECOD row. Detectors whose own view
beyond the range is unreliable rather than capped (LODA's projections of a far value into bumpy
histograms, SUOD's regressors, an autoencoder that learnt to reproduce a direction) score the
row with those values *clipped* to the range, so the tail term alone decides how the score grows
there: non-decreasing by construction.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
import numpy as np

Tail = Literal["extrapolated", "capped"]

#: Annotated Literal for a params Struct: published with this description in ``/backends``.
TailParam = Annotated[
    Tail,
    msgspec.Meta(
        description=(
            "Beyond each feature's training range: 'extrapolated' scores a value further out as "
            "more anomalous (a tail fitted to the column's most extreme training values); "
            "'capped' counts it like the most extreme training value, exactly as PyOD does."
        )
    ),
]

#: A mean excess below this share of the column's standard deviation is tied values, not a tail.
_TIED = 1e-6
#: A standard deviation below this share of the column's median is rounding noise on a constant
#: column (0.1 + 0.2 against 0.3), not a spread to measure distance in.
_CONSTANT = 1024 * float(np.finfo(np.float64).eps)
#: Up to this many rows the tail is computed in plain Python: a dozen numpy calls on a single
#: row cost ~8 µs, about a tenth of a one-row ``/score``; the loop ~1.5 µs for 16 features.
_SMALL_BATCH = 4


def tail_size(n: int) -> int:
    """How many extreme values per side estimate the tail's scale (``ceil(sqrt(n))``, and at
    most what leaves both sides their own values)."""
    return max(1, min(math.ceil(math.sqrt(n)), (n - 2) // 2))


class RangeTails:
    """Each training column's range and the tail beyond either end.

    Beyond an end ``M`` (by ``e = |x - M|``) the tail adds ``e * (rate + e * growth)`` nats.

    Attributes:
        lo, hi: ``(d,)`` training minimum and maximum.
        rate_lo, rate_hi: ``(d,)`` nats per unit at the end, ``1 / beta``; 0 for a column that
            was constant (no tail).
        growth_lo, growth_hi: ``(d,)`` how fast that rate rises, ``1 / (2 * beta * r)``.
    """

    def __init__(self, X: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        self.lo = X.min(axis=0)
        self.hi = X.max(axis=0)
        median = np.median(X, axis=0)
        std = X.std(axis=0)
        if n >= 4:
            k = tail_size(n)
            part = np.partition(X, (k, n - 1 - k), axis=0)
            beta_lo = part[k] - part[:k].mean(axis=0)
            beta_hi = part[n - k :].mean(axis=0) - part[n - 1 - k]
        else:  # too few rows for a tail sample: the spread is all there is
            beta_lo = beta_hi = np.zeros(d)
        spread = std > _CONSTANT * np.abs(median)
        spread &= std > 0
        self.rate_lo, self.growth_lo = _rates(beta_lo, median - self.lo, std, spread)
        self.rate_hi, self.growth_hi = _rates(beta_hi, self.hi - median, std, spread)
        # Clipping bounds: only columns with a tail are clipped (a constant column keeps the
        # detector's own view of a new value, since no tail term stands in for it).
        self.clip_lo = np.where(spread, self.lo, -np.inf)
        self.clip_hi = np.where(spread, self.hi, np.inf)
        #: ``(lo, hi, rate_lo, growth_lo, rate_hi, growth_hi)`` per column as plain floats, for
        #: one-row scoring.
        self.per_column = list(zip(*(a.tolist() for a in (
            self.lo, self.hi, self.rate_lo, self.growth_lo, self.rate_hi, self.growth_hi))))
        self.lo_list, self.hi_list = self.lo.tolist(), self.hi.tolist()

    def nats(self, X: np.ndarray) -> np.ndarray:
        """``(n_rows,)`` tail nats of each row: summed over its values beyond the range."""
        X = np.asarray(X, dtype=np.float64)
        below = self.lo - X
        np.maximum(below, 0.0, out=below)
        below *= self.rate_lo + below * self.growth_lo
        above = X - self.hi
        np.maximum(above, 0.0, out=above)
        above *= self.rate_hi + above * self.growth_hi
        above += below
        return above.sum(axis=1)

    def outside(self, row: list[float]) -> bool:
        """Whether any value of ``row`` lies beyond its column's range (C-speed comparisons)."""
        return any(map(operator.gt, row, self.hi_list)) or any(map(operator.lt, row, self.lo_list))

    def row_nats(self, row: list[float]) -> float:
        """:meth:`nats` of one row of plain floats (the same formula, in column order)."""
        total = 0.0
        for x, (lo, hi, rate_lo, growth_lo, rate_hi, growth_hi) in zip(row, self.per_column):
            if x > hi:
                e = x - hi
                total += e * (rate_hi + e * growth_hi)
            elif x < lo:
                e = lo - x
                total += e * (rate_lo + e * growth_lo)
        return total

    def clip(self, X: np.ndarray) -> np.ndarray:
        """``X`` with every value beyond its (tailed) column's range moved onto the range's end."""
        return np.clip(X, self.clip_lo, self.clip_hi)


def _rates(
    beta: np.ndarray, reach: np.ndarray, std: np.ndarray, spread: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``1 / beta`` and ``1 / (2 beta r)`` of one side of every column (0 where no spread).

    ``beta`` falls back to the standard deviation where the extreme values are tied, and ``r``,
    the end's distance from the median, is at least ``beta``.
    """
    beta = np.where(beta > _TIED * std, beta, std)
    beta = np.where(spread, beta, 1.0)
    reach = np.maximum(reach, beta)
    return np.where(spread, 1.0 / beta, 0.0), np.where(spread, 0.5 / (beta * reach), 0.0)


@dataclass(frozen=True)
class BeyondRange:
    """A fitted detector's view beyond the training range: its own (capped) score plus the tail.

    Attributes:
        tails: The training columns' ranges and tail scales.
        unit: Raw score per nat of tail.
        clip: Score values beyond the range as if on its end (see the module docstring).
    """

    tails: RangeTails
    unit: float
    clip: bool

    def score(self, capped: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
        """``capped(X)`` (on the clipped rows if ``clip``) plus the tail term of each row."""
        tails = self.tails
        if X.shape[0] == 1:  # the one-row call (a tick, a one-row /score): the check inlined
            row = X.tolist()[0]
            if not (any(map(operator.gt, row, tails.hi_list)) or any(map(operator.lt, row, tails.lo_list))):
                return capped(X)  # inside the range: nothing to add or clip
            nats = np.array([tails.row_nats(row)])
        elif X.shape[0] <= _SMALL_BATCH:  # plain Python: a dozen numpy calls would cost more
            rows = X.tolist()
            if not any(map(tails.outside, rows)):
                return capped(X)  # inside the range: nothing to add or clip
            nats = np.array([tails.row_nats(row) for row in rows])
        else:
            nats = tails.nats(X)
        inside = tails.clip(X) if self.clip else X
        return capped(inside) + self.unit * nats
