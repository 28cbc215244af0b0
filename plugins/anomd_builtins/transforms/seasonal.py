"""Seasonal residual: each value against the same moment of the previous cycles.

Service metrics and sensor readings repeat daily or weekly; a value can be ordinary in itself
and abnormal for its time (no morning ramp, a flat afternoon). The feature is
``x[t] - median(x[t - k P + j])`` over the last ``cycles`` cycles ``k`` and a phase jitter
``j`` in ``-tolerance..tolerance``: with one cycle and no jitter it is the plain seasonal
difference ``x[t] - x[t - P]``; the median of a few cycles (and of the neighbouring phases, so a
ramp that comes a sample early is not an anomaly) is robust to one odd day.

The period ``P`` is given, or found from the data at every fit (``anomd.timeseries.period``:
autocorrelation of the training window, preferring a calendar day or week when the timestamps
allow). A series without a period gets 0 for this feature, so it stays silent rather than
invents one. Before a full cycle of history the median uses the cycles there are, and 0 when
there are none. Every value uses only earlier values: the feature is causal.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated

import msgspec
import numpy as np
import polars as pl

import anomd
from anomd.timeseries.period import detect_period
from anomd.transforms import TransformSpec

Period = Annotated[int, msgspec.Meta(ge=2, le=100_000)]


class SeasonalOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Points per cycle; null finds it from the data at every fit (0 after that: no period).
    period: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    #: How many earlier cycles the expected value is the median of.
    cycles: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1
    #: Phase jitter allowed, in points either way.
    tolerance: Annotated[int, msgspec.Meta(ge=0, le=5)] = 0
    #: Longest period looked for when ``period`` is null (bounds the history kept).
    max_period: Period = 1000


def _shifts(period: int, options: SeasonalOptions) -> tuple[int, ...]:
    return _shifts_of(period, options.cycles, options.tolerance)


@cache
def _shifts_of(period: int, cycles: int, tolerance: int) -> tuple[int, ...]:
    """How far back the same phase is: ``k * period - j`` (nothing without a period)."""
    if period <= tolerance:
        return ()
    return tuple(k * period - j for k in range(1, cycles + 1) for j in range(-tolerance, tolerance + 1))


def expressions(columns: Sequence[str], options: SeasonalOptions) -> list[pl.Expr]:
    shifts = _shifts(options.period or 0, options)
    out = []
    for c in columns:
        name = f"{c}_seasonal"
        if not shifts:
            out.append((pl.col(c) * 0.0).alias(name))  # one zero per row (a literal is one row)
            continue
        expected = pl.concat_list([pl.col(c).shift(s) for s in shifts]).list.median()
        out.append((pl.col(c) - expected).fill_null(0.0).alias(name))
    return out


def lookback(options: SeasonalOptions) -> int:
    period = options.max_period if options.period is None else options.period
    return options.cycles * period + options.tolerance + 1


def latest(tail: np.ndarray, options: SeasonalOptions) -> np.ndarray:
    seen = tail.shape[0]
    rows = [-1 - s for s in _shifts(options.period or 0, options) if s < seen]
    newest = tail[-1]
    if not rows:
        return np.zeros_like(newest)
    # The median by sorting: np.median costs ~50 microseconds of overhead per call, per point.
    past = np.sort(tail[rows], axis=0)
    k = past.shape[0]
    middle = past[k // 2] if k % 2 else (past[k // 2 - 1] + past[k // 2]) / 2.0
    return newest - middle


def resolve(options: SeasonalOptions, rows: np.ndarray, times: np.ndarray | None) -> SeasonalOptions:
    """Fixes the period for one fit: the one given, or the one the training rows show."""
    if options.period is not None:
        return options
    # One period for all columns: the first column's (streams of one sensor have one column;
    # for several, the first in name order stands for the stream's rhythm).
    found = detect_period(rows[:, 0], times, options.max_period) if len(rows) else 0
    return msgspec.structs.replace(options, period=found)


SPEC = TransformSpec(
    id="seasonal",
    description="Each value minus the median of the same phase in the previous cycles (period given or found).",
    options=SeasonalOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
    resolve=resolve,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
