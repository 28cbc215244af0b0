"""Rolling statistics (mean, std, min, max) over the last ``w`` rows of each column.

Sensor readings are noisy; a reading can be normal on its own and abnormal against its own
recent level or spread. Windows are trailing (the row and the ``w - 1`` before it), so the
features are causal; at the start of a stream a window holds the rows seen so far.
``std`` is the population standard deviation (``ddof=0``), defined for a single row (0.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
import numpy as np
import polars as pl

import anomd
from anomd.transforms import TransformSpec

Stat = Literal["mean", "std", "min", "max"]
Window = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class RollingOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    windows: Annotated[list[Window], msgspec.Meta(min_length=1, max_length=16)]
    stats: Annotated[list[Stat], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["mean", "std", "min", "max"]
    )


def _expr(column: str, stat: str, window: int) -> pl.Expr:
    col = pl.col(column)
    if stat == "mean":
        out = col.rolling_mean(window, min_samples=1)
    elif stat == "std":
        out = col.rolling_std(window, min_samples=1, ddof=0)
    elif stat == "min":
        out = col.rolling_min(window, min_samples=1)
    else:
        out = col.rolling_max(window, min_samples=1)
    return out.alias(f"{column}_rolling_{stat}_{window}")


def expressions(columns: Sequence[str], options: RollingOptions) -> list[pl.Expr]:
    return [_expr(c, s, w) for w in options.windows for s in options.stats for c in columns]


def lookback(options: RollingOptions) -> int:
    return max(options.windows)


def latest(tail: np.ndarray, options: RollingOptions) -> np.ndarray:
    # Called once per streamed point: ufunc reductions directly, without the wrappers of
    # ndarray.mean/std (a few microseconds each on tiny blocks).
    parts = []
    for window in options.windows:
        block = tail[-window:]
        mean = np.add.reduce(block, axis=0) / block.shape[0]
        for stat in options.stats:
            if stat == "mean":
                parts.append(mean)
            elif stat == "std":
                centred = block - mean
                parts.append(np.sqrt(np.add.reduce(centred * centred, axis=0) / block.shape[0]))
            elif stat == "min":
                parts.append(np.minimum.reduce(block, axis=0))
            else:
                parts.append(np.maximum.reduce(block, axis=0))
    return np.concatenate(parts)


SPEC = TransformSpec(
    id="rolling",
    description="Trailing-window mean, standard deviation, minimum and maximum of each column.",
    options=RollingOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
