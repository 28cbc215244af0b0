"""Subsequences: the last ``length`` values of each column as one shape vector.

A value can be ordinary while the way the series got there is not (a ramp where there is
usually a plateau, a missing dip). Giving the detector the last ``length`` values of a column
as features lets it compare whole recent shapes with the shapes it has seen: the family of
methods that leads public time-series benchmarks (TSB-AD's univariate board). With ``zscore``
(the default) each shape is normalised by its own mean and spread, so it is compared by form,
not by level (the level is still there in the raw column); ``none`` keeps the values as they
are. Before ``length`` rows exist the missing values repeat the first row. Causal by
construction: only the row and earlier rows are read. Features are named
``{column}_shape_{length}_{i}`` (``_last_`` without normalisation), ``i`` rows back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
import numpy as np
import polars as pl

import anomd
from anomd.transforms import TransformSpec

#: A shape whose spread is below this fraction of its level is flat (all zeros): rounding in
#: the mean of identical values must not turn a constant stretch into a shape of +-1.
FLAT = 1e-9


class SubsequenceOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    length: Annotated[int, msgspec.Meta(ge=2, le=256)] = 8
    normalize: Literal["zscore", "none"] = "zscore"


def expressions(columns: Sequence[str], options: SubsequenceOptions) -> list[pl.Expr]:
    out = []
    for c in columns:
        lagged = [pl.col(c).shift(i).fill_null(pl.col(c).first()) for i in range(options.length)]
        if options.normalize == "zscore":
            shape = pl.concat_list(lagged)
            mean, std = shape.list.mean(), shape.list.std(ddof=0)
            flat = std <= FLAT * (mean.abs() + 1.0)
            lagged = [pl.when(flat).then(0.0).otherwise((e - mean) / std) for e in lagged]
        kind = "shape" if options.normalize == "zscore" else "last"
        out += [e.alias(f"{c}_{kind}_{options.length}_{i}") for i, e in enumerate(lagged)]
    return out


def lookback(options: SubsequenceOptions) -> int:
    return options.length


def latest(tail: np.ndarray, options: SubsequenceOptions) -> np.ndarray:
    k = options.length
    block = tail[-k:][::-1]  # newest first
    if block.shape[0] < k:
        block = np.concatenate([block, np.repeat(tail[:1], k - block.shape[0], axis=0)])
    if options.normalize == "zscore":
        mean = block.mean(axis=0)
        std = np.sqrt(((block - mean) ** 2).mean(axis=0))
        flat = std <= FLAT * (np.abs(mean) + 1.0)
        block = np.where(flat, 0.0, (block - mean) / np.where(flat, 1.0, std))
    return block.T.reshape(-1)


SPEC = TransformSpec(
    id="subsequence",
    description="The last `length` values of each column as a shape vector (z-normalised by default).",
    options=SubsequenceOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
