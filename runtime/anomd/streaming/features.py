"""The feature plan of a stream: raw columns plus transform columns, defined by Polars.

One plan serves three paths, all from the same definition:

* ``frame(rows)`` evaluates the transforms' Polars expressions over a series; it builds the
  training matrix of every (re)train and the features of a chunk of a batch.
* ``latest(tail)`` gives the newest row's features for a single point, through each
  transform's numpy kernel (microseconds instead of a DataFrame round trip). The kernels are
  checked against ``frame`` on whole series in the test-suite; a transform without a kernel
  falls back to ``frame`` on the tail.
* ``frame(history + new)[-n:]`` gives the features of ``n`` new rows in a batch.

Because every transform is causal and looks back at most ``lookback`` rows, the newest row's
features computed from the last ``lookback`` rows equal those computed from the whole series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import polars as pl

from anomd.errors import InvalidInput
from anomd.transforms import TransformSpec


@dataclass(frozen=True, slots=True)
class TransformStep:
    """A transform with its validated options."""

    spec: TransformSpec
    options: msgspec.Struct

    def describe(self) -> dict[str, Any]:
        return {"transform": self.spec.id, **msgspec.to_builtins(self.options)}


class FeaturePlan:
    """Raw columns and transform steps, compiled once per stream.

    Args:
        columns: The stream's raw columns (feature order).
        steps: Transforms to apply, in order.

    Raises:
        InvalidInput: Two features with the same name (e.g. the same window twice).
    """

    def __init__(self, columns: Sequence[str], steps: Sequence[TransformStep] = ()) -> None:
        self.columns = tuple(columns)
        self.steps = tuple(steps)
        derived = [e for step in self.steps for e in step.spec.expressions(self.columns, step.options)]
        self.expressions: list[pl.Expr] = [pl.col(c) for c in self.columns] + derived
        self.names: list[str] = [e.meta.output_name() for e in self.expressions]
        seen: set[str] = set()
        clashes = sorted({n for n in self.names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
        if clashes:
            raise InvalidInput(
                f"the transforms produce duplicate feature names: {', '.join(clashes[:5])}; "
                "list each window or period once (and do not name a column like a derived feature)"
            )
        self.width = len(self.names)
        self.lookback = max([1, *(step.spec.lookback(step.options) for step in self.steps)])
        self._kernels = all(step.spec.latest is not None for step in self.steps)
        probe = self.latest(np.zeros((1, len(self.columns))))
        if probe.shape != (self.width,):
            raise TypeError(
                f"a transform's latest() gives {probe.shape[0]} features but its expressions give "
                f"{self.width - len(self.columns)}; the kernel must follow the expressions"
            )

    def frame(self, rows: np.ndarray) -> np.ndarray:
        """Features of every row of a series (n × width), via the Polars expressions."""
        if not self.steps:
            return np.array(rows, dtype=np.float64)
        frame = pl.from_numpy(np.ascontiguousarray(rows), schema=list(self.columns), orient="row")
        out = frame.select(self.expressions).to_numpy().astype(np.float64, copy=False)
        if not np.isfinite(out).all():
            raise InvalidInput("the feature transforms produced non-finite values from finite input")
        return out

    def latest(self, tail: np.ndarray) -> np.ndarray:
        """Features of the newest row of ``tail`` (its last ``lookback`` rows suffice)."""
        if not self.steps:
            return tail[-1]
        if self._kernels:
            return np.concatenate(
                [tail[-1], *(step.spec.latest(tail, step.options) for step in self.steps)]  # type: ignore[misc]
            )
        return self.frame(tail[-self.lookback :])[-1]

    def new_rows(self, history: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Features of ``rows`` that arrive after ``history`` (only its last rows are read)."""
        if not self.steps:
            return rows
        context = history[max(0, len(history) - (self.lookback - 1)) :] if self.lookback > 1 else history[:0]
        return self.frame(np.concatenate((context, rows)))[len(context) :]

    def describe(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "features": list(self.names),
            "transforms": [step.describe() for step in self.steps],
            "lookback": self.lookback,
        }
