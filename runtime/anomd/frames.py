"""Tables (Polars frames) → float feature matrices, matched by column name.

``anomd detect`` and dataset jobs both read CSV and Parquet files and turn chosen columns into
the matrix a detector takes. The rules live here once: numeric and boolean columns only, no
empty cells, no NaN or infinities, and every refusal names the file (``source``) and the column,
so a bad file among thousands is found from the message alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from anomd.encoding import RowEncoder
from anomd.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl


def numeric_columns(frame: pl.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """The numeric columns of ``frame`` in file order, less ``exclude``."""
    skip = set(exclude)
    return [name for name, dtype in frame.schema.items() if dtype.is_numeric() and name not in skip]


def choose_columns(
    frame: pl.DataFrame, requested: Sequence[str] | None, source: str, exclude: Iterable[str] = ()
) -> list[str]:
    """The columns to use: ``requested`` (checked), or every numeric one but ``exclude``."""
    import polars as pl

    schema = frame.schema
    if requested is None:
        columns = numeric_columns(frame, exclude)
        if not columns:
            raise InvalidInput(
                f"{source} has no numeric columns (columns: {', '.join(frame.columns) or 'none'}); "
                "choose numeric or boolean ones with --columns"
            )
        return columns
    missing = [c for c in requested if c not in schema]
    if missing:
        raise InvalidInput(
            f"{source} has no column(s) {', '.join(map(repr, missing))}; "
            f"columns are: {', '.join(frame.columns)}"
        )
    for name in requested:
        dtype = schema[name]
        if not (dtype.is_numeric() or dtype == pl.Boolean):
            raise InvalidInput(
                f"{source}: column {name!r} is {dtype}, not numeric or boolean; only numeric and "
                "boolean columns can be features"
            )
    return list(requested)


def feature_matrix(frame: pl.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    """A float64 matrix of ``columns``, refusing empty cells and NaN by column name."""
    import polars as pl

    selected = frame.select([pl.col(c).cast(pl.Float64) for c in columns])
    for name in columns:
        column = selected[name]
        nulls = column.null_count()
        if nulls:
            raise InvalidInput(
                f"{source}: column {name!r} has {nulls} empty value(s); fill or drop those rows first"
            )
        bad = int((~column.is_finite()).sum())
        if bad:
            raise InvalidInput(
                f"{source}: column {name!r} has {bad} NaN or infinite value(s); fill or drop those "
                "rows first"
            )
    return selected.to_numpy()


def encoder_matrix(frame: pl.DataFrame, encoder: RowEncoder, source: str) -> np.ndarray:
    """The matrix a model fitted on named columns expects, built from the table by name.

    Numeric and boolean columns are taken as they are; a categorical column becomes one 0/1
    column per category the model learned (a value it never saw gives all zeros, as for dict
    rows sent over HTTP).
    """
    import polars as pl

    names = [c.name for c in encoder.columns]
    missing = [n for n in names if n not in frame.schema]
    if missing:
        raise InvalidInput(
            f"{source} has no column(s) {', '.join(map(repr, missing))}, which the model was "
            f"fitted on (its columns: {', '.join(names)}; the file's: {', '.join(frame.columns)})"
        )
    plain = [c.name for c in encoder.columns if c.kind != "categorical"]
    numbers = feature_matrix(frame, choose_columns(frame, plain, source), source) if plain else None
    parts, taken = [], 0
    for column in encoder.columns:
        if column.kind == "categorical":
            text = frame[column.name].cast(pl.String)
            parts.append(np.column_stack([(text == c).fill_null(False).to_numpy() for c in column.categories])
                         .astype(np.float64))
        else:
            parts.append(numbers[:, taken : taken + 1])  # type: ignore[index]
            taken += 1
    return np.ascontiguousarray(np.hstack(parts)) if len(parts) > 1 else parts[0]
