"""Whatever a Python caller holds → what the encoder takes: rows, or a matrix with column names.

People call anomd with what their code already has: a NumPy array (1-D is one feature), a list
of rows or of numbers, a dict of columns, a pandas or Polars DataFrame or Series, an Arrow
table. Every entry point (``anomd.detect``, :class:`anomd.Detector`, :class:`AnomalyService`,
the server's Arrow bodies) calls :func:`prepare` first, so each form behaves the same wherever
it is passed, and a bad shape gets one message that says what was expected.

Two results are possible:

- **a named matrix** — a finite float64 matrix and its column names, for tables whose columns
  are all numbers or booleans (the fast path: one copy, no Python loop over cells). A model
  fitted on one scores later tables by column *name*;
- **rows** — lists or dicts, left to :mod:`anomd.encoding` exactly as JSON rows are: tables with
  string (categorical), date or other columns become dict rows keyed by column name, so the
  encoder's categories, and any field it treats specially (``timestamp``), apply to them too.

pandas and pyarrow are never imported here: a pandas object is recognised by its module name
and read through its own methods; any Arrow producer (pyarrow, nanoarrow, DuckDB...) is read
through the Arrow PyCapsule interface (``__arrow_c_stream__``) by Polars.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from anomd.arrow import ArrowBody
from anomd.encoding import Column, Row, RowEncoder, check_finite, encode_rows, fit_rows
from anomd.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

#: A table column with this name always goes the dict-row way, where the encoder handles it.
TIMESTAMP_FIELD = "timestamp"
#: Column names that mean "no name": anomd's own (``x0``), Polars' (``column_0``) for a frame
#: made from an array. A table with exactly these names is matched by position, like an array.
_DEFAULT_NAME = re.compile(r"(?:x|column_)(\d+)")

EXPECTED = (
    "expected rows (lists of numbers or dicts keyed by column), a 1-D (one feature) or 2-D "
    "(rows x features) array, a dict of columns, or a pandas/Polars DataFrame or Series or an "
    "Arrow table"
)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Input made uniform.

    Attributes:
        data: Rows for :mod:`anomd.encoding` (lists or dicts), or a finite float64 matrix.
        columns: The matrix's column names when the input had names; None otherwise (a matrix
            matched by position, or rows, which carry their own keys).
    """

    data: Sequence[Row] | np.ndarray
    columns: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.data)

    @property
    def width(self) -> int:
        """Columns per row (of the first row, for rows)."""
        data = self.data
        if isinstance(data, np.ndarray):
            return int(data.shape[1])
        first = data[0] if len(data) else ()
        return len(first) if isinstance(first, (Sequence, Mapping)) else 1


def prepare(
    data: Any, *, schema: Mapping[str, str] | None = None, time_field: str = TIMESTAMP_FIELD
) -> Prepared:
    """Normalises ``data`` (see the module docstring).

    Args:
        data: The caller's data, in any of the supported forms.
        schema: Declared column kinds; when given, tables go the dict-row way so the
            declaration applies (a numeric code declared categorical).
        time_field: A table column of this name (the rows' timestamps) sends the table the
            dict-row way too, where the encoder leaves it out and series detection finds it.

    Raises:
        InvalidInput: Empty data, an unsupported type or shape, NaN in a numeric table, with
            a message naming the column or cell and what was expected.
    """
    if isinstance(data, Prepared):
        return data
    if data is None:
        raise InvalidInput(f"data is missing; {EXPECTED}")
    if isinstance(data, np.ndarray):
        return _from_array(data)
    if isinstance(data, ArrowBody):  # a request's Arrow body, decoded here on the worker thread
        return _from_polars(data.frame(), schema, time_field)
    kind = _library(data)
    if kind == "polars":
        return _from_polars(data, schema, time_field)
    if kind == "pandas":
        return _from_pandas(data, schema, time_field)
    if isinstance(data, Mapping):
        return _from_mapping(data, schema)
    if isinstance(data, (list, tuple)):
        return _from_sequence(data)
    if hasattr(data, "__arrow_c_stream__"):
        import polars as pl

        return _from_polars(pl.DataFrame(data), schema, time_field)
    raise InvalidInput(f"data of type {type(data).__name__} is not supported; {EXPECTED}")


def _library(data: Any) -> str | None:
    """``polars`` or ``pandas`` for their frames and series (checked without importing them)."""
    package = type(data).__module__.partition(".")[0]
    if package == "polars" and type(data).__name__ in ("DataFrame", "LazyFrame", "Series"):
        return "polars"
    if package == "pandas" and type(data).__name__ in ("DataFrame", "Series"):
        return "pandas"
    return None


# -- arrays and Python containers -------------------------------------------------------------


def _from_array(array: np.ndarray) -> Prepared:
    if array.dtype.names:  # a structured array: named fields are columns
        return _from_mapping({name: array[name] for name in array.dtype.names}, None)
    if array.dtype == object:
        return _from_sequence(array.tolist())
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InvalidInput(
            f"data is an array of shape {array.shape}; expected 1-D (one feature) or 2-D "
            "(rows x features)"
        )
    if array.shape[0] == 0:
        raise InvalidInput("data is empty; send at least one row")
    if array.shape[1] == 0:
        raise InvalidInput("data has rows of no columns; send at least one feature")
    if array.dtype.kind not in "biuf":
        raise InvalidInput(
            f"data is an array of {array.dtype}; expected numbers (or booleans), or a table "
            "whose string columns become categories"
        )
    matrix = np.asarray(array, dtype=np.float64)
    check_finite(matrix)
    return Prepared(matrix)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, bool, np.number, np.bool_))


def _from_sequence(rows: Sequence[Any]) -> Prepared:
    if len(rows) == 0:
        raise InvalidInput("data is empty; send at least one row")
    first = rows[0]
    if _is_scalar(first):
        # A flat list of numbers is one feature, as a 1-D array is.
        values = np.array(rows, dtype=object)
        bad = next((i for i, v in enumerate(rows) if not _is_scalar(v)), None)
        if bad is not None:
            raise InvalidInput(
                f"data starts as a list of numbers (one feature) but item {bad} is "
                f"{rows[bad]!r}; send all numbers, or rows as lists or dicts"
            )
        return _from_array(values.astype(np.float64))
    if isinstance(first, (str, bytes)):
        raise InvalidInput(f"data is a list of strings; {EXPECTED}")
    return Prepared(rows)  # rows (lists, tuples, arrays or dicts): the encoder takes them


def _from_mapping(data: Mapping[Any, Any], schema: Mapping[str, str] | None) -> Prepared:
    if not data:
        raise InvalidInput("data is an empty dict; send a dict of columns or one row")
    values = list(data.values())
    if all(_is_scalar(v) or isinstance(v, str) or v is None for v in values):
        return Prepared([dict(data)])  # one row
    names = [str(k) for k in data]
    columns = []
    for name, value in zip(names, values, strict=True):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise InvalidInput(
                f"data is a dict whose entry {name!r} is not a column ({type(value).__name__}); "
                "send a dict of equally long columns, or one row of plain values"
            )
        columns.append(value)
    lengths = {name: len(column) for name, column in zip(names, columns, strict=True)}
    if len(set(lengths.values())) > 1:
        raise InvalidInput(f"data is a dict of columns of different lengths: {lengths}")
    arrays = [np.asarray(c) for c in columns]
    if schema or any(a.ndim != 1 or a.dtype.kind not in "biuf" for a in arrays):
        return Prepared(_records(names, [a.tolist() if a.ndim == 1 else list(c)
                                         for a, c in zip(arrays, columns, strict=True)]))
    if not arrays[0].size:
        raise InvalidInput("data is empty; send at least one row")
    return _named(np.column_stack(arrays).astype(np.float64, copy=False), names)


def _records(names: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Dict rows from columns of plain Python values; empty cells are refused by column."""
    if not columns or not len(columns[0]):
        raise InvalidInput("data is empty; send at least one row")
    for name, column in zip(names, columns, strict=True):
        empty = sum(1 for v in column if v is None)
        if empty:
            raise InvalidInput(
                f"column {name!r} has {empty} empty (null) value(s); fill or drop those rows first"
            )
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


# -- tables -----------------------------------------------------------------------------------


def _named(matrix: np.ndarray, names: Sequence[str]) -> Prepared:
    """A numeric table's matrix: checked finite, by column name; default names drop."""
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
        raise InvalidInput(f"data has duplicate column names: {', '.join(map(repr, twice))}")
    check_finite_named(matrix, names)
    if _positional(names):
        return Prepared(matrix)
    return Prepared(matrix, tuple(names))


def _positional(names: Sequence[str]) -> bool:
    """Whether ``names`` are the ones given to unnamed columns (``x0, x1, ...``)."""
    for i, name in enumerate(names):
        found = _DEFAULT_NAME.fullmatch(name)
        if found is None or int(found.group(1)) != i:
            return False
    return True


def check_finite_named(matrix: np.ndarray, names: Sequence[str]) -> None:
    """Refuses NaN and infinities, naming the first bad cell by row and column name."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        count = int(bad[:, j].sum())
        raise InvalidInput(
            f"row {i}, column {names[j]!r}: value is not finite ({matrix[i, j]}); NaN, empty "
            f"cells and infinities are not accepted ({count} in this column; fill or drop them)"
        )


def _fast_path_allowed(names: Sequence[str], schema: Mapping[str, str] | None, time_field: str) -> bool:
    return not schema and time_field not in names


def _from_polars(data: Any, schema: Mapping[str, str] | None, time_field: str) -> Prepared:
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.Series):  # one column; a nameless one is matched by position
        data = data.to_frame(data.name or "x0")
    frame: pl.DataFrame = data
    if frame.width == 0:
        raise InvalidInput("data has no columns; send at least one feature")
    if frame.height == 0:
        raise InvalidInput("data is empty; send at least one row")
    names = frame.columns
    check_column_types(frame)
    numeric = all(d.is_numeric() or d == pl.Boolean for d in frame.dtypes)
    if numeric and _fast_path_allowed(names, schema, time_field):
        return _named(_polars_values(frame, names), names)
    return Prepared(_records(names, [frame[n].to_list() for n in names]))


def _polars_values(frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    import polars as pl

    if all(dtype == pl.Float64 for dtype in frame.dtypes):
        selected = frame  # already what the matrix holds: no cast, no copy before to_numpy
    else:
        selected = frame.select([pl.col(n).cast(pl.Float64) for n in names])
    nulls = [(n, c) for n, c in zip(names, selected.null_count().row(0), strict=True) if c]
    if nulls:
        name, count = nulls[0]
        raise InvalidInput(
            f"column {name!r} has {count} empty (null) value(s); fill or drop those rows first"
        )
    return selected.to_numpy(order="c")


def check_column_types(frame: pl.DataFrame) -> None:
    """Refuses columns that cannot become features: nested, binary, object, null-typed."""
    import polars as pl

    for name, dtype in frame.schema.items():
        if dtype.is_numeric() or dtype in (pl.Boolean, pl.String, pl.Categorical) or dtype.is_temporal():
            continue
        if isinstance(dtype, pl.Enum):
            continue
        raise InvalidInput(
            f"column {name!r} is of type {dtype}; features must be numbers, booleans or strings "
            "(categories)"
        )


def _from_pandas(data: Any, schema: Mapping[str, str] | None, time_field: str) -> Prepared:
    if data.ndim == 1:  # a Series: one column; a nameless one is matched by position
        data = data.to_frame(name="x0" if data.name is None else data.name)
    columns = data.columns
    if len(columns) == 0:
        raise InvalidInput("data has no columns; send at least one feature")
    if len(data) == 0:
        raise InvalidInput("data is empty; send at least one row")
    names = [f"x{i}" for i in range(len(columns))] if type(columns).__name__ == "RangeIndex" else [
        str(c) for c in columns]
    kinds = [_pandas_kind(data.iloc[:, i]) for i in range(len(names))]
    if all(k == "number" for k in kinds) and _fast_path_allowed(names, schema, time_field):
        return _named(_pandas_values(data, names), names)
    return Prepared(_records(names, [_pandas_list(data.iloc[:, i]) for i in range(len(names))]))


def _pandas_kind(series: Any) -> str:
    kind = getattr(series.dtype, "kind", "O")
    return "number" if kind in "biuf" else "other"


def _pandas_values(frame: Any, names: Sequence[str]) -> np.ndarray:
    """The frame as floats; pandas' missing values (NaN, NA, None) become NaN and are refused."""
    matrix = np.ascontiguousarray(frame.to_numpy(dtype=np.float64, na_value=np.nan))
    check_finite_named(matrix, names)
    return matrix


def _pandas_list(series: Any) -> list[Any]:
    """A column as plain Python values (NumPy scalars are not numbers to the encoder), with
    pandas' missing values as None (refused by the encoder with the cell named)."""
    return [None if _missing(v) else v for v in series.astype(object).tolist()]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in (
        "NAType", "NaTType")


def records(data: Any) -> list[dict[str, Any]]:
    """``data`` as points keyed by column name, as streaming detectors take them: a table's
    rows by its column names, unnamed columns as ``x0``, ``x1``... (a single dict is one point).
    """
    if isinstance(data, Mapping) and not any(
            hasattr(v, "__len__") and not isinstance(v, (str, bytes)) for v in data.values()):
        return [dict(data)]
    prepared = prepare(data)
    rows = prepared.data
    if isinstance(rows, np.ndarray):
        names = prepared.columns or [f"x{i}" for i in range(rows.shape[1])]
        return [dict(zip(names, row, strict=True)) for row in rows.tolist()]
    if rows and not isinstance(rows[0], Mapping):
        return [{f"x{i}": v for i, v in enumerate(row)} for row in rows]
    return [dict(r) for r in rows]


# -- named matrices against a fitted model -----------------------------------------------------


def named_encoder(columns: Sequence[str]) -> RowEncoder:
    """The encoder of a model fitted on a numeric table: its columns, by name, in table order."""
    return RowEncoder(tuple(Column(name, "numeric") for name in columns))


def select_columns(prepared: Prepared, encoder: RowEncoder) -> np.ndarray:
    """A named matrix's columns in the order a model fitted on named columns expects.

    Raises:
        InvalidInput: Missing or extra columns (named both ways, as for dict rows), or a
            column the model treats as categorical (send that table with its strings).
    """
    assert prepared.columns is not None and isinstance(prepared.data, np.ndarray)
    given = prepared.columns
    expected = [c.name for c in encoder.columns]
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing or extra:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"unexpected {', '.join(map(repr, extra))}"] if extra else [])
        raise InvalidInput(
            f"data columns do not match the model: {'; '.join(parts)} (the model was fitted on "
            f"columns {expected})"
        )
    categorical = [c.name for c in encoder.columns if c.kind == "categorical"]
    if categorical:
        raise InvalidInput(
            f"column(s) {', '.join(map(repr, categorical))} are categories in this model; send "
            "them as strings"
        )
    if list(given) == expected:
        return prepared.data
    index = {name: i for i, name in enumerate(given)}
    return np.ascontiguousarray(prepared.data[:, [index[n] for n in expected]])


def training_matrix(
    prepared: Prepared, schema: Mapping[str, str] | None, ignored: str | None = None,
    max_width: int | None = None,
) -> tuple[np.ndarray, RowEncoder | None]:
    """The matrix a model is fitted on, and the encoder that names its columns (None for
    columns known by position only); ``ignored`` and ``max_width`` as in ``fit_rows``."""
    data = prepared.data
    if isinstance(data, np.ndarray):
        if prepared.columns is None:
            if schema:
                raise InvalidInput("schema applies to named columns only; these data have none")
            return data, None
        return data, named_encoder(prepared.columns)
    return fit_rows(data, schema, ignored, max_width)


def model_matrix(prepared: Prepared, encoder: RowEncoder | None, input_dim: int) -> np.ndarray:
    """The matrix a fitted model scores: a named table by column name (when the model knows
    names), an unnamed matrix by position, rows through the model's encoder."""
    data = prepared.data
    if not isinstance(data, np.ndarray):
        return encode_rows(data, encoder, input_dim)
    if prepared.columns is not None and encoder is not None:
        return select_columns(prepared, encoder)
    if data.shape[1] != input_dim:
        raise InvalidInput(
            f"wrong width: the model expects {input_dim} values per row, got {data.shape[1]}"
        )
    return data
