"""What a feature-transform plugin provides: Polars expressions plus a fast one-row kernel.

A transform turns the raw columns of a stream (``temp``, ``pressure``...) into extra feature
columns (``temp_rolling_mean_5``, ``temp_lag_1``...). Its *definition* is a list of Polars
expressions: they build the training matrix of every retrain, and they are the reference a
test compares the streaming path against.

Evaluating Polars per incoming point would cost far more than scoring it, so a transform may
also give a ``latest`` kernel: the features of the newest row only, from the last ``lookback``
rows as a numpy array. The kernel is an optimisation, never a second definition: the plugin
test-suite checks that it equals the expressions on every row of a series, and a transform
without a kernel is evaluated through its expressions (slower, same result).

Every transform must be *causal*: a row's features may depend on that row and earlier rows,
never on later ones, so that training features and live features mean the same thing.

Two optional abilities serve time series:

* ``uses_time``: the transform reads the points' timestamps (seconds since the epoch, UTC) from
  the column :data:`TIME_COLUMN`, present when the stream's points carry a timestamp; its
  ``latest`` kernel then gets the timestamps as the last column of ``tail``.
* ``resolve``: options settled from the data at every fit (a period found in the training
  window, say). The runtime calls it on the rows a model is fitted on and uses the resolved
  options for that model's training features and live features alike, so both still mean the
  same thing; ``lookback`` of the unresolved options must bound every resolved one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from anomd.struct_schema import inline_schema, parse_struct

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

#: Name of the timestamp column (seconds since the epoch, UTC) in the frames transforms see.
TIME_COLUMN = "__time__"


@dataclass(frozen=True)
class TransformSpec:
    """One feature transform a plugin registers.

    Attributes:
        id: What clients name in ``transforms`` (``rolling``, ``lag``, ``diff``...); unique.
        description: One sentence for ``GET /v1/plugins`` and the docs.
        options: A msgspec Struct (``forbid_unknown_fields=True``) that validates the
            transform's options, e.g. ``{"windows": [5, 10]}``.
        expressions: ``expressions(columns, options) -> list[pl.Expr]``: the new feature
            columns, each aliased to a unique name. The raw columns are kept by the runtime;
            do not return them. Must be causal and must not produce nulls (fill them causally,
            e.g. with the row's own value).
        lookback: ``lookback(options) -> int``: how many rows, the newest included, determine
            the newest row's features (a 10-row rolling window needs 10; lag 2 needs 3).
        latest: Optional ``latest(tail, options) -> 1-D array``: the newest row's features, in
            the order ``expressions`` lists them, from ``tail`` (the last ``min(lookback, rows
            seen)`` rows, oldest first, one column per raw column in ``columns`` order, then the
            timestamps when ``uses_time``).
        uses_time: The features read :data:`TIME_COLUMN`; such a transform needs points with a
            timestamp.
        resolve: Optional ``resolve(options, rows, times) -> options``: options settled on the
            training rows of each fit (``rows`` one column per raw column, ``times`` their
            timestamps or None). Must only look at the rows it is given.
    """

    id: str
    description: str
    options: type[msgspec.Struct]
    expressions: Callable[[Sequence[str], Any], list[pl.Expr]]
    lookback: Callable[[Any], int]
    latest: Callable[[np.ndarray, Any], np.ndarray] | None = None
    uses_time: bool = False
    resolve: Callable[[Any, np.ndarray, np.ndarray | None], Any] | None = None

    def parse_options(self, raw: dict[str, Any] | None) -> msgspec.Struct:
        """Validates options strictly.

        Raises:
            InvalidInput: Naming the transform and the offending option.
        """
        return parse_struct(raw, self.options, f"transform {self.id!r}")

    def options_schema(self) -> dict[str, Any]:
        """The JSON schema of the options, for documentation."""
        return inline_schema(self.options)
