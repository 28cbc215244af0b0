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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from anomd.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import polars as pl


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
            seen)`` rows, oldest first, one column per raw column in ``columns`` order).
    """

    id: str
    description: str
    options: type[msgspec.Struct]
    expressions: Callable[[Sequence[str], Any], list[pl.Expr]]
    lookback: Callable[[Any], int]
    latest: Callable[[np.ndarray, Any], np.ndarray] | None = None

    def parse_options(self, raw: dict[str, Any] | None) -> msgspec.Struct:
        """Validates options strictly.

        Raises:
            InvalidInput: Naming the transform and the offending option.
        """
        try:
            return msgspec.convert(raw or {}, self.options, strict=True)
        except msgspec.ValidationError as exc:
            detail = str(exc).replace("- at `$.", "- at option `")
            raise InvalidInput(f"invalid options for transform {self.id!r}: {detail}") from None

    def options_schema(self) -> dict[str, Any]:
        """The JSON schema of the options, for documentation."""
        schema = msgspec.json.schema(self.options)
        defs = schema.pop("$defs", {})
        ref = schema.pop("$ref", None)
        if ref:
            schema = {**defs[ref.rsplit("/", 1)[-1]], **schema}
        return schema
