"""Putting a series on a regular time grid: its step, the slot of each point, missing slots filled.

Decomposition needs points evenly spaced: a period is a number of slots, and a missing point
must not shift every later one by a slot. The step is the ``granularity`` (times
``custom_interval``) when the caller gives one, else inferred as the median spacing of the
timestamps. Each point takes the nearest slot, so jittered timestamps still line up; two points
in one slot, or timestamps out of order, are refused rather than guessed at. Empty slots are
filled as ``impute_mode`` says; ``notFill`` keeps the points as given, evenly spaced. An
inferred granularity under which most slots would be empty (timestamps without a regular
clock) is dropped for ``none``: the points are taken as evenly spaced, as Azure's default did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from anomd.timeseries.errors import SeriesInputError

Granularity = Literal["auto", "yearly", "monthly", "weekly", "daily", "hourly", "minutely", "secondly",
                      "microsecond", "none"]
ImputeMode = Literal["auto", "previous", "linear", "fixed", "zero", "notFill"]

#: Seconds per slot of the fixed-length granularities (months and years follow the calendar).
SECONDS: dict[str, float] = {"weekly": 604_800.0, "daily": 86_400.0, "hourly": 3_600.0, "minutely": 60.0,
                             "secondly": 1.0, "microsecond": 1e-6}
#: Most empty slots a grid may have, as a share of all its slots: past it the "series" is
#: mostly invented values, and detection on it would be about the imputation.
MAX_MISSING_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Grid:
    """A series on its regular grid.

    Attributes:
        values: One value per slot, missing ones filled (``notFill``: only the given points).
        observed: Slot of each given point, in the given order.
        granularity: The granularity used (inferred when asked for ``auto``).
        custom_interval: Slots of ``granularity`` per step.
        missing: Slots filled by imputation.
    """

    values: np.ndarray
    observed: np.ndarray
    granularity: str
    custom_interval: int
    missing: int

    @property
    def step_seconds(self) -> float | None:
        """Seconds per slot (months and years on average), or None without timestamps."""
        if self.granularity == "none":
            return None
        unit = {"yearly": 365.25 * 86_400.0, "monthly": 30.44 * 86_400.0}.get(self.granularity)
        return (unit or SECONDS[self.granularity]) * self.custom_interval


def build_grid(
    times: np.ndarray | None,
    values: np.ndarray,
    granularity: Granularity,
    custom_interval: int | None,
    impute_mode: ImputeMode,
    impute_fixed_value: float | None,
    max_slots: int,
) -> Grid:
    """Places ``values`` (at ``times``, seconds since the epoch, ascending) on a regular grid.

    Raises:
        SeriesInputError: Timestamps out of order or sharing a slot, missing where the
            granularity needs them, or too many empty slots.
    """
    n = values.size
    if granularity == "none" or (granularity == "auto" and times is None):
        return Grid(values, np.arange(n), "none", 1, 0)
    if times is None:
        raise SeriesInputError("series", f"granularity {granularity!r} needs a timestamp on every point")
    steps = np.diff(times)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        what = "repeats" if steps[i - 1] == 0 else "is earlier than"
        raise SeriesInputError("series", f"point {i}'s timestamp {what} the one before it; send the points "
                                         "in ascending time order, one per timestamp")
    interval = custom_interval or 1
    inferred = granularity == "auto"
    if inferred:
        granularity, interval = infer_granularity(steps)
    nearest = _slots(times, granularity, interval)
    # A point whose nearest slot is taken (a late point followed by an early one) takes the
    # next free slot: s[i] = max(nearest[i], s[i-1] + 1), computed in one pass.
    order = np.arange(n)
    slots = np.maximum.accumulate(nearest - order) + order
    size = int(slots[-1]) + 1
    if size > max_slots or size - n > MAX_MISSING_SHARE * size:
        if inferred:  # no regular clock behind these timestamps: take the points as they come
            return Grid(values, np.arange(n), "none", 1, 0)
        raise SeriesInputError(
            "series", f"the timestamps span {size} {granularity} slots (custom_interval {interval}) for {n} "
                      f"points; at most {int(MAX_MISSING_SHARE * 100)}% may be missing and at most {max_slots} "
                      "slots are allowed (is the granularity right?)")
    if impute_mode == "notFill":
        return Grid(values, np.arange(n), granularity, interval, 0)
    filled = impute(slots, values, size, impute_mode, impute_fixed_value)
    return Grid(filled, slots, granularity, interval, size - n)


def impute(slots: np.ndarray, values: np.ndarray, size: int, mode: ImputeMode, fixed: float | None) -> np.ndarray:
    """Values on all ``size`` slots: the given ones where they are, the rest filled by ``mode``."""
    if size == values.size:
        return values
    if mode in ("auto", "linear"):
        return np.interp(np.arange(size), slots, values)
    out = np.empty(size)
    if mode == "previous":
        last = np.zeros(size, dtype=np.int64)
        last[slots] = np.arange(values.size)
        np.maximum.accumulate(last, out=last)
        return values[last]
    if mode == "fixed":
        if fixed is None:
            raise SeriesInputError("impute_fixed_value", "impute_mode 'fixed' needs impute_fixed_value")
        out.fill(fixed)
    else:
        out.fill(0.0)
    out[slots] = values
    return out


def infer_granularity(steps: np.ndarray) -> tuple[str, int]:
    """The granularity and interval of the typical spacing (the median step): the largest unit
    that the step is a whole number of (within a tenth of a unit)."""
    step = float(np.median(steps))
    days = step / 86_400.0
    for unit, lo, hi in (("yearly", 360, 370), ("monthly", 27.5, 31.5)):
        if lo <= days <= hi:
            return unit, 1
    for unit in ("weekly", "daily", "hourly", "minutely", "secondly"):
        size = SECONDS[unit]
        count = step / size
        if count >= 1 and abs(count - round(count)) <= 0.1:  # jittered clocks still name their unit
            return unit, round(count)
    return "microsecond", max(1, round(step * 1e6))


def _slots(times: np.ndarray, granularity: str, interval: int) -> np.ndarray:
    if granularity in SECONDS:
        size = SECONDS[granularity] * interval
        return np.rint((times - times[0]) / size).astype(np.int64)
    moments = [datetime.fromtimestamp(float(t), UTC) for t in times]
    months = np.array([m.year * 12 + m.month - 1 + (m.day - 1) / 31.0 for m in moments])
    per_slot = 12 * interval if granularity == "yearly" else interval
    return np.rint((months - months[0]) / per_slot).astype(np.int64)
