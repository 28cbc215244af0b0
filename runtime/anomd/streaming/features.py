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
The other side of that: a series' first ``lookback - 1`` rows have partial features (a 64-point
mean of the rows seen so far), which :attr:`FeaturePlan.warmups` names per feature for the
detectors that keep them out of their reference (``set_warmup``, see ``training``).

A timed stream's rows end with their timestamp (:data:`anomd.transforms.TIME_COLUMN` in the
frames); it is never a feature itself, only time-aware transforms read it. Transforms whose
options are settled on the data (a period found in the window) are resolved per fitted model
(:meth:`FeaturePlan.resolved`), so a model's training features and its live features always
use the same settled options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import polars as pl

from anomd.errors import InvalidInput
from anomd.transforms import TIME_COLUMN, TransformSpec


@dataclass(frozen=True, slots=True)
class TransformStep:
    """A transform with its validated options."""

    spec: TransformSpec
    options: msgspec.Struct

    def describe(self) -> dict[str, Any]:
        return {"transform": self.spec.id, **msgspec.to_builtins(self.options)}

    def resolved(self, rows: np.ndarray, times: np.ndarray | None) -> TransformStep:
        """This step with its options settled on ``rows`` (itself when nothing is to settle)."""
        if self.spec.resolve is None:
            return self
        return TransformStep(self.spec, self.spec.resolve(self.options, rows, times))


class FeaturePlan:
    """Raw columns and transform steps, compiled once per stream (and per fitted model).

    Args:
        columns: The stream's raw columns (feature order).
        steps: Transforms to apply, in order.
        timed: Rows carry their timestamp as a last column.

    Raises:
        InvalidInput: Two features with the same name (e.g. the same window twice), or a
            transform that needs timestamps on a stream without them.
    """

    def __init__(self, columns: Sequence[str], steps: Sequence[TransformStep] = (), timed: bool = False) -> None:
        self.columns = tuple(columns)
        self.steps = tuple(steps)
        self.timed = timed
        untimed = [step.spec.id for step in self.steps if step.spec.uses_time and not timed]
        if untimed:
            raise InvalidInput(
                f"transform {untimed[0]!r} reads the points' timestamps; this stream's points have "
                "none (send a 'timestamp' with every point, or leave the transform out)"
            )
        self._frame_schema = [*self.columns, *([TIME_COLUMN] if timed else [])]
        per_step = [step.spec.expressions(self.columns, step.options) for step in self.steps]
        derived = [e for exprs in per_step for e in exprs]
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
        # A transform's features are partial for a series' first lookback - 1 rows (a rolling
        # mean over fewer rows than its window, a seasonal residual against fewer cycles).
        self.warmups: tuple[int, ...] = (0,) * len(self.columns) + tuple(
            step.spec.lookback(step.options) - 1 for step, exprs in zip(self.steps, per_step) for _ in exprs
        )
        self._kernels = all(step.spec.latest is not None for step in self.steps)
        self._n = len(self.columns)
        probe = self.latest(np.zeros((1, len(self._frame_schema))))
        if probe.shape != (self.width,):
            raise TypeError(
                f"a transform's latest() gives {probe.shape[0]} features but its expressions give "
                f"{self.width - len(self.columns)}; the kernel must follow the expressions"
            )

    def resolved(self, rows: np.ndarray) -> FeaturePlan:
        """The plan with every transform's options settled on ``rows`` (a fit's training rows)."""
        if not any(step.spec.resolve is not None for step in self.steps):
            return self
        values, times = rows[:, : self._n], (rows[:, -1] if self.timed else None)
        return FeaturePlan(self.columns, [s.resolved(values, times) for s in self.steps], self.timed)

    def frame(self, rows: np.ndarray) -> np.ndarray:
        """Features of every row of a series (n × width), via the Polars expressions."""
        if not self.steps:
            return np.array(rows[:, : self._n], dtype=np.float64)
        frame = pl.from_numpy(np.ascontiguousarray(rows), schema=self._frame_schema, orient="row")
        out = frame.select(self.expressions).to_numpy().astype(np.float64, copy=False)
        if not np.isfinite(out).all():
            raise InvalidInput("the feature transforms produced non-finite values from finite input")
        return out

    def latest(self, tail: np.ndarray) -> np.ndarray:
        """Features of the newest row of ``tail`` (its last ``lookback`` rows suffice)."""
        n = self._n
        if not self.steps:
            return tail[-1, :n]
        if self._kernels:
            values = tail[:, :n] if self.timed else tail
            return np.concatenate([
                values[-1],
                *(step.spec.latest(tail if step.spec.uses_time else values, step.options)  # type: ignore[misc]
                  for step in self.steps),
            ])
        return self.frame(tail[-self.lookback :])[-1]

    def new_rows(self, history: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Features of ``rows`` that arrive after ``history`` (only its last rows are read)."""
        if not self.steps:
            return rows[:, : self._n]
        context = history[max(0, len(history) - (self.lookback - 1)) :] if self.lookback > 1 else history[:0]
        return self.frame(np.concatenate((context, rows)))[len(context) :]

    def describe(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "features": list(self.names),
            "transforms": [step.describe() for step in self.steps],
            "lookback": self.lookback,
        }
