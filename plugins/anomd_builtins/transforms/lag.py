"""Lagged values: each column's value ``p`` rows earlier.

Lags let a detector see a reading next to the ones before it, so a jump that stays inside the
normal range of each column is still unusual as a pair. Before ``p`` rows of history exist the
lag is the row's own value (a causal fill: nothing later is ever looked at).
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


class LagOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    periods: Annotated[list[Period], msgspec.Meta(min_length=1, max_length=16)] = msgspec.field(
        default_factory=lambda: [1]
    )


def expressions(columns: Sequence[str], options: LagOptions) -> list[pl.Expr]:
    return [
        pl.col(c).shift(p).fill_null(pl.col(c)).alias(f"{c}_lag_{p}")
        for p in options.periods
        for c in columns
    ]


def lookback(options: LagOptions) -> int:
    return max(options.periods) + 1


def latest(tail: np.ndarray, options: LagOptions) -> np.ndarray:
    seen = tail.shape[0]
    return np.concatenate([tail[-1 - p] if seen > p else tail[-1] for p in options.periods])


SPEC = TransformSpec(
    id="lag",
    description="Each column's value p rows earlier (the row's own value until p rows exist).",
    options=LagOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
