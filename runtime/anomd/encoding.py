"""Rows as clients send them → a finite float matrix, and back to the same columns later.

Dict rows are matched by key name, never by key order: the encoder fixes the column order when
a model is fitted and reuses it for every later request. Strings become one-hot categories and
booleans 0/1, so transaction-like records work without client-side preparation.

Two guards keep one request from becoming thousands of features: the rows' timestamp field
(``timestamp`` unless configured) is never a feature (it is dropped from object rows; series
detection orders rows by it), and a string column with more than :data:`MAX_CATEGORIES`
distinct values is refused, naming it, before anything is allocated (ten thousand distinct
strings are identifiers or times, not categories). The encoded width is checked against the
server's ``max_columns`` at the same point.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
import numpy as np

from anomd.errors import InvalidInput, TooLarge

#: Keys written with a dot in JSON paths; any other key is quoted in brackets.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ColumnKind = Literal["numeric", "boolean", "categorical"]

#: Most distinct values a string column may have to become one-hot categories.
MAX_CATEGORIES = 1000

_KIND_ALIASES: dict[str, ColumnKind] = {
    "numeric": "numeric", "number": "numeric", "float": "numeric", "int": "numeric",
    "integer": "numeric", "boolean": "boolean", "bool": "boolean", "categorical": "categorical",
    "category": "categorical", "string": "categorical", "str": "categorical",
}

Row = Sequence[float] | Mapping[str, Any]


class Column(msgspec.Struct, frozen=True):
    """One input column and how it becomes features."""

    name: str
    kind: ColumnKind
    categories: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        if self.kind == "categorical":
            return [f"{self.name}={c}" for c in self.categories]
        return [self.name]


class RowEncoder(msgspec.Struct, frozen=True):
    """The fitted column layout of dict rows; ``None`` encoder means plain numeric list rows.

    Attributes:
        columns: The feature columns, by name.
        ignored: A key rows may carry that is not a feature (their timestamp).
    """

    columns: tuple[Column, ...]
    ignored: str | None = None

    @property
    def features(self) -> list[str]:
        return [f for column in self.columns for f in column.features]

    def describe(self) -> dict[str, Any]:
        return {"schema": {c.name: c.kind for c in self.columns}, "features": self.features}

    @classmethod
    def infer(
        cls,
        rows: Sequence[Mapping[str, Any]],
        schema: Mapping[str, str] | None,
        ignored: str | None = None,
        max_width: int | None = None,
    ) -> RowEncoder:
        """Learns columns (sorted by name) and categories from training rows.

        Args:
            ignored: A key that is not a feature (the rows' timestamp field), if present.
            max_width: Most features the encoding may have (checked before allocating).

        Raises:
            InvalidInput: Bad schema, differing keys, a string column with too many values.
            TooLarge: More features than ``max_width``.
        """
        keys = set(rows[0].keys())
        ignored = ignored if ignored in keys else None
        names = sorted(keys - {ignored})
        _check_same_keys(rows, set(names), ignored=ignored)
        declared = {k: _kind(k, v) for k, v in (schema or {}).items()}
        unknown = sorted(set(declared) - set(names))
        if unknown:
            raise InvalidInput(f"schema names columns not present in data: {', '.join(unknown)}")
        columns = []
        for name in names:
            kind = declared.get(name) or _infer_kind(name, rows)
            categories: tuple[str, ...] = ()
            if kind == "categorical":
                categories = tuple(sorted({str(r[name]) for r in rows}))
                if len(categories) > MAX_CATEGORIES:
                    raise InvalidInput(
                        f"column {name!r} has {len(categories)} distinct strings, more than the "
                        f"{MAX_CATEGORIES} a categorical column may have: it looks like an identifier "
                        "or a time, not a category. Leave it out, or, if it is the rows' time, name "
                        "it 'timestamp' (or set timestamp_field) so it orders the rows instead"
                    )
            columns.append(Column(name, kind, categories))
        width = sum(len(c.features) for c in columns)
        if max_width is not None and width > max_width:
            raise TooLarge(f"these rows encode to {width} features, over this server's limit of "
                           f"{max_width} columns (max_columns)")
        return cls(tuple(columns), ignored)

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encodes dict rows by key name into the fitted feature layout."""
        expected = {c.name for c in self.columns}
        _check_same_keys(rows, expected, fitted=True, ignored=self.ignored)
        width = sum(len(c.features) for c in self.columns)
        out = np.zeros((len(rows), width), dtype=np.float64)
        offset = 0
        for column in self.columns:
            name = column.name
            if column.kind == "categorical":
                lookup = {c: i for i, c in enumerate(column.categories)}
                for i, row in enumerate(rows):
                    j = lookup.get(str(row[name]))
                    if j is not None:
                        out[i, offset + j] = 1.0
                offset += len(column.categories)
                continue
            for i, row in enumerate(rows):
                out[i, offset] = _number(row[name], name, i, column.kind)
            offset += 1
        return out


def _kind(column: str, declared: str) -> ColumnKind:
    kind = _KIND_ALIASES.get(str(declared).lower())
    if kind is None:
        raise InvalidInput(
            f"schema type {declared!r} for column {column!r} is not one of numeric, boolean, categorical"
        )
    return kind


def _infer_kind(name: str, rows: Sequence[Mapping[str, Any]]) -> ColumnKind:
    values = [r[name] for r in rows]
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if any(isinstance(v, str) for v in values):
        return "categorical"
    return "numeric"


def _number(value: Any, column: str, row: int, kind: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return _finite(value, f"row {row}, column {column!r}", data_path(row, column))
    raise InvalidInput(
        f"row {row}, column {column!r}: expected a {kind} value, got {value!r} (at {data_path(row, column)})"
    )


def data_path(row: int, column: str | int | None = None) -> str:
    """Where a cell is in the request, as a JSON path: ``$.data[1][0]``, ``$.data[1].amount``.

    The HTTP API names bad input this way (the JSON decoder's messages do too); Python callers
    passed the same rows as ``data``.
    """
    return "$.data" + path_segment(row) + ("" if column is None else path_segment(column))


def path_segment(key: str | int) -> str:
    """One step of a JSON path: ``[3]`` for an index, ``.amount`` for a plain key, else
    ``["a b"]``; every error that names a place in a request body writes it this way."""
    if isinstance(key, int):
        return f"[{key}]"
    return f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"


def _check_same_keys(
    rows: Sequence[Mapping[str, Any]], expected: set[str], fitted: bool = False, ignored: str | None = None
) -> None:
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"row {i} is not an object; rows must be all lists or all objects (at {data_path(i)})"
            )
        keys = row.keys()
        if ignored is not None and ignored in keys:
            keys = keys - {ignored}
        if keys != expected:
            missing = sorted(expected - set(keys))
            extra = sorted(set(keys) - expected)
            where = "the model was fitted on" if fitted else "row 0 has"
            parts = []
            if missing:
                parts.append(f"missing {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected {', '.join(map(repr, extra))}")
            raise InvalidInput(
                f"row {i}: {'; '.join(parts)} ({where} columns {sorted(expected)}; at {data_path(i)})"
            )


def numeric_matrix(rows: Sequence[Sequence[float]], width: int | None = None) -> np.ndarray:
    """Validates list rows: same width, numbers only, all finite.

    Converts first and diagnoses only on failure: a per-row Python check of 10,000 good rows
    costs more than numpy's conversion, which rejects ragged and non-numeric rows by itself.
    """
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        matrix = None
    if matrix is None or matrix.ndim != 2:
        _diagnose_rows(rows)
        raise InvalidInput("rows must be lists of numbers, all of the same length")
    n_cols = matrix.shape[1]
    if n_cols == 0:
        raise InvalidInput(f"rows must have at least one column ({data_path(0)} is empty)")
    if width is not None and n_cols != width:
        raise InvalidInput(
            f"wrong width: the model expects {width} values per row, got {n_cols} (at {data_path(0)})"
        )
    check_finite(matrix)
    return matrix


def _diagnose_rows(rows: Sequence[Any]) -> None:
    """Raises the most specific error for list rows numpy could not convert."""
    first = rows[0]
    if not isinstance(first, Sequence) or isinstance(first, (str, bytes)):
        raise InvalidInput(f"row 0 is not a list of numbers (at {data_path(0)})")
    n_cols = len(first)
    for i, row in enumerate(rows):
        if isinstance(row, Mapping):
            raise InvalidInput(f"row {i} is an object; rows must be all lists or all objects (at {data_path(i)})")
        if not isinstance(row, Sequence) or isinstance(row, (str, bytes)):
            raise InvalidInput(f"row {i} is not a list of numbers (at {data_path(i)})")
        if len(row) != n_cols:
            raise InvalidInput(
                f"ragged rows: row 0 has {n_cols} values, row {i} has {len(row)} (at {data_path(i)})"
            )
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInput(f"row {i}, column {j}: expected a number, got {value!r} (at {data_path(i, j)})")
            _finite(value, f"row {i}, column {j}", data_path(i, j))


def _finite(value: float, where: str, path: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise InvalidInput(f"{where}: the integer is too large for a 64-bit float (at {path})") from None
    if not math.isfinite(number):
        raise InvalidInput(
            f"{where}: value is not finite ({value}); NaN and infinities are not accepted (at {path})"
        )
    return number


def check_finite(matrix: np.ndarray) -> None:
    """Refuses NaN and infinities with the first offending cell named."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InvalidInput(
            f"row {i}, column {j}: value is not finite ({matrix[i, j]}); NaN and infinities are not "
            f"accepted (at {data_path(i, j)})"
        )


def encode_rows(
    rows: Sequence[Row], encoder: RowEncoder | None, input_dim: int | None
) -> np.ndarray:
    """Encodes a request's rows for a fitted model (``encoder`` None: list rows expected)."""
    if len(rows) == 0:
        raise InvalidInput("data is empty; send at least one row")
    if isinstance(rows[0], Mapping):
        if encoder is None:
            raise InvalidInput(
                "this model was fitted on list rows; send rows as lists of "
                f"{input_dim} numbers, not objects (at {data_path(0)})"
            )
        return encoder.encode(rows)  # type: ignore[arg-type]
    if isinstance(rows, np.ndarray):
        matrix = np.asarray(rows, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] == 0 or (input_dim is not None and matrix.shape[1] != input_dim):
            raise InvalidInput(f"wrong shape {matrix.shape}: expected (n, {input_dim})")
        check_finite(matrix)
        return matrix
    if encoder is not None:
        # Positions would be matched against one-hot features: dict rows go by name only.
        raise InvalidInput(
            "this model was fitted on object rows; send rows as objects keyed by its columns "
            f"{[c.name for c in encoder.columns]}, not as lists (at {data_path(0)})"
        )
    return numeric_matrix(rows, input_dim)  # type: ignore[arg-type]


def fit_rows(
    rows: Sequence[Row], schema: Mapping[str, str] | None, ignored: str | None = None,
    max_width: int | None = None,
) -> tuple[np.ndarray, RowEncoder | None]:
    """Encodes training rows, learning the encoder when rows are objects (``ignored``: a key
    that is not a feature; ``max_width``: most features allowed)."""
    if rows is None or len(rows) == 0:
        raise InvalidInput("data is empty; send at least one row")
    if isinstance(rows, np.ndarray):
        return encode_rows(rows, None, None), None
    if isinstance(rows[0], Mapping):
        encoder = RowEncoder.infer(rows, schema, ignored, max_width)  # type: ignore[arg-type]
        if not encoder.columns:
            raise InvalidInput(f"rows must have at least one column ({data_path(0)} is empty)")
        return encoder.encode(rows), encoder  # type: ignore[arg-type]
    if schema:
        raise InvalidInput("schema applies to object rows only; these rows are lists")
    return numeric_matrix(rows), None  # type: ignore[arg-type]
