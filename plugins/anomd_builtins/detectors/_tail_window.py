"""A trailing window of one feature's values, kept sorted, and how surprising a new value is.

The surprise of a value ``v`` against the window's ``m`` values is ``-ln p`` for a two-sided
tail probability ``p``:

* inside the window's range, the exact rank probability
  ``p = 2 (min(#{x >= v}, #{x <= v}) + 1) / (m + 1)``: it means the same on every stream and
  needs no distributional assumption;
* beyond the range, by a distance ``e`` past the edge, an exponential tail that starts at the
  edge's own probability ``2 / (m + 1)``: ``p = 2 / (m + 1) * exp(-e / beta)``. The scale
  ``beta`` is the mean excess of the ``k`` most extreme values over the ``k``-th (the tail's own
  spread), but at least ``floor`` times the 5-95 % spread: a thin tail seen in a short window
  (rounded values, a quiet day) must not make an ordinary excursion look impossible. A window
  with a ``step`` floor (a stream's own values, not features derived from them) takes a smaller
  ``floor`` (a tenth of the spread) and, in addition, at least ``step`` times the mean step
  between consecutive values. On white noise the steps give the floor the spread did (1.5 mean
  steps is about half the 5-95 % spread). A smooth series, whose level wanders far but moves
  little from one point to the next, falls to the smaller floor, so a record past its range by a
  fraction of that range counts; half the spread, the same for it as for noise, hid such records.

So a value further out is always more surprising, and no value inside the data is called rarer
than one in ``m + 1``. Adding a value and dropping the oldest costs O(m) memory moves
(``bisect.insort``) and no arithmetic beyond the comparisons; the sum of the steps between
consecutive values is kept as values come and go, and recomputed once per lap so that rounding
cannot accumulate. Values are stored as C doubles (``array('d')``): 8 bytes each instead of a
Python float's 32, for 40 % more time per lookup. Once full, the arrival-order copy is a circular
buffer of exactly ``capacity`` values, overwritten in place: it never grows or shrinks, where a
buffer that drops its consumed prefix once a lap held 1.5 times the values on average and
reallocated twice a lap (with five features a stream, 19 kB of a stream's 184 kB).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence

import numpy as np


class TailWindow:
    """The newest ``capacity`` values of one feature, in arrival order and sorted.

    Args:
        capacity: Values kept (the reference a new value is compared with).
        k: Extreme values the tail's scale is estimated from.
        floor: Least tail scale, as a fraction of the 5-95 % spread.
        minimum: Values needed before any surprise is given (0 until then).
        step: Least tail scale in mean steps between consecutive values (0: none, the spread
            floor alone).
    """

    __slots__ = ("capacity", "floor", "head", "k", "minimum", "order", "ring", "step", "steps")

    def __init__(self, capacity: int, k: int = 20, floor: float = 0.5, minimum: int = 30, step: float = 0.0) -> None:
        self.capacity, self.k, self.floor, self.minimum, self.step = capacity, k, floor, minimum, step
        # Arrival order: appended to until full, then circular: ring[head] is the oldest value
        # and ring[head - 1] the newest.
        self.ring = array("d")
        self.head = 0
        self.order = array("d")
        self.steps = 0.0  # sum of |x[i] - x[i-1]| over consecutive values in the window

    def __setstate__(self, state: tuple[None, dict] | dict) -> None:
        slots = dict(state[1] if isinstance(state, tuple) else state)
        if "head" not in slots:  # pickled before the ring was circular: a consumed prefix first
            slots["ring"] = slots["ring"][slots.pop("start", 0) :]
            slots["head"] = 0
        # A window pickled before the step floor existed keeps the spread floor it was fitted with.
        for name, value in {"step": 0.0, **slots}.items():
            setattr(self, name, value)
        if "steps" not in slots:
            self.steps = _sum_of_steps(self.ring)

    @classmethod
    def of(cls, values: Sequence[float], capacity: int, k: int, floor: float, minimum: int, step: float = 0.0) -> TailWindow:
        """A window holding the newest ``capacity`` of ``values`` (in arrival order)."""
        window = cls(capacity, k, floor, minimum, step)
        kept = np.asarray(values[-capacity:], dtype=np.float64)
        window.ring = array("d", kept.tobytes())
        window.order = array("d", np.sort(kept).tobytes())
        window.steps = _sum_of_steps(kept)
        return window

    def mean_step(self) -> float:
        """The mean of ``|x[i] - x[i-1]|`` over consecutive values in the window."""
        return self.steps / max(1, len(self.ring) - 1)

    def __len__(self) -> int:
        return len(self.order)

    def surprise(self, v: float) -> float:
        """``-ln p`` of ``v`` against the window (0 with fewer than ``minimum`` values)."""
        order = self.order
        m = len(order)
        if m < self.minimum:
            return 0.0
        low, high = order[0], order[-1]
        if low <= v <= high:
            at_least = m - bisect.bisect_left(order, v)
            at_most = bisect.bisect_right(order, v)
            return max(0.0, -math.log(2.0 * (min(at_least, at_most) + 1) / (m + 1)))
        k = min(self.k, m - 1)
        spread = order[int(0.95 * (m - 1))] - order[int(0.05 * (m - 1))]
        if spread <= 0.0:
            spread = high - low
        if v > high:
            excess = math.fsum(order[m - k :]) / k - order[m - k]
            past = v - high
            edge = high
        else:
            excess = order[k - 1] - math.fsum(order[:k]) / k
            past = low - v
            edge = low
        least = self.floor * spread
        if self.step:
            least = max(least, self.step * self.mean_step())
        scale = max(excess, least, 1e-12 * max(1.0, abs(edge)))
        return past / scale + math.log((m + 1) / 2.0)

    def add(self, v: float) -> None:
        """Adds ``v``; drops the oldest value once the window is full."""
        ring = self.ring
        n = len(ring)
        if n < self.capacity:
            if n:
                self.steps += abs(v - ring[-1])
            ring.append(v)
            bisect.insort(self.order, v)
            return
        head = self.head
        old = ring[head]
        after = head + 1 if head + 1 < n else 0  # the next oldest, once ``old`` is out
        self.steps += abs(v - ring[head - 1])
        self.steps -= abs((ring[after] if n > 1 else v) - old)
        ring[head] = v
        bisect.insort(self.order, v)
        del self.order[bisect.bisect_left(self.order, old)]
        self.head = after
        if after == 0:  # once a lap, the sum afresh, so that rounding cannot accumulate
            self.steps = _sum_of_steps(ring)


def _sum_of_steps(values: Sequence[float]) -> float:
    """``sum |x[i] - x[i-1]|`` over consecutive values (0 for fewer than two)."""
    return float(np.abs(np.diff(np.asarray(values, dtype=np.float64))).sum()) if len(values) > 1 else 0.0
