"""Differences: how much each column changed over the last ``p`` rows.

Sensor faults often show as a jump or a stuck value rather than an out-of-range level; the
change ``x[t] - x[t - p]`` exposes both (a jump is a large difference, a stuck sensor a run of
zeros). Before ``p`` rows of history exist the difference is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np
import polars as pl

import anomd
from anomd.transforms import TransformSpec

Period = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class DiffOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    periods: Annotated[list[Period], msgspec.Meta(min_length=1, max_length=16)] = msgspec.field(
        default_factory=lambda: [1]
    )


def expressions(columns: Sequence[str], options: DiffOptions) -> list[pl.Expr]:
    return [
        (pl.col(c) - pl.col(c).shift(p)).fill_null(0.0).alias(f"{c}_diff_{p}")
        for p in options.periods
        for c in columns
    ]


def lookback(options: DiffOptions) -> int:
    return max(options.periods) + 1


def latest(tail: np.ndarray, options: DiffOptions) -> np.ndarray:
    seen = tail.shape[0]
    newest = tail[-1]
    return np.concatenate(
        [newest - tail[-1 - p] if seen > p else np.zeros_like(newest) for p in options.periods]
    )


SPEC = TransformSpec(
    id="diff",
    description="Change of each column over the last p rows (0 until p rows exist).",
    options=DiffOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
