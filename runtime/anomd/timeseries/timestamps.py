"""Reading timestamps the way clients send them, into one number: seconds since the epoch, UTC.

Accepted, in JSON and Python alike:

* ISO 8601 strings: ``2024-03-01T12:00:00Z``, ``2024-03-01 12:00:00+01:00``, fractional
  seconds, a date alone (midnight). Without an offset a time is read as UTC, which is what
  metrics pipelines almost always mean; send an offset when it is not.
* Numbers: seconds since 1970-01-01 UTC, or milliseconds. The two are told apart by size: a
  magnitude below :data:`MS_FROM` (1e11, the year 5138 in seconds, 1973 in milliseconds) is
  seconds, up to :data:`MAX_EPOCH_MS` milliseconds. Larger numbers (micro- or nanoseconds) are
  refused rather than guessed.
* Python ``datetime``/``date``, ``numpy.datetime64`` and pandas ``Timestamp`` values, and numpy,
  pandas or Polars datetime columns.

Anything else is an :class:`~anomd.errors.InvalidInput` naming the point and the value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from anomd.errors import InvalidInput

#: Numbers at least this large (in magnitude) are milliseconds; smaller ones are seconds.
MS_FROM = 1e11
#: Largest accepted millisecond timestamp (the year 5138); beyond, the unit is ambiguous.
MAX_EPOCH_MS = 1e14
#: The field (JSON key, column) that holds a point's time unless configured otherwise.
DEFAULT_FIELD = "timestamp"


def parse(value: Any, where: str = "timestamp") -> float:
    """One timestamp → seconds since the epoch (UTC).

    Args:
        value: See the module docstring.
        where: How the error names the value (``point 3: timestamp``, ``$.data[3].timestamp``).

    Raises:
        InvalidInput: Not a timestamp anomd understands.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: expected a timestamp, got a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _from_number(float(value), where)
    if isinstance(value, str):
        return _from_text(value, where)
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return _from_datetime(datetime(value.year, value.month, value.day))
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InvalidInput(f"{where}: the timestamp is missing (NaT)")
        return float(value.astype("datetime64[us]").astype(np.int64)) / 1e6
    raise InvalidInput(f"{where}: expected an ISO 8601 string or epoch seconds/milliseconds, "
                       f"got {type(value).__name__} {_show(value)}")


def parse_many(values: Any, field: str = DEFAULT_FIELD) -> np.ndarray:
    """A column of timestamps → float64 seconds since the epoch (UTC), one per value.

    Datetime columns (numpy ``datetime64``, pandas, Polars) convert in one step; anything else
    value by value, with the first bad one named as ``row i``.

    Raises:
        InvalidInput: Naming the row and the value.
    """
    array = _datetime_array(values)
    if array is not None:
        if np.isnat(array).any():
            i = int(np.argmax(np.isnat(array)))
            raise InvalidInput(f"row {i}, {field!r}: the timestamp is missing (NaT)")
        return array.astype("datetime64[us]").astype(np.int64) / 1e6
    numbers = _number_array(values)
    if numbers is not None:
        return np.array([_from_number(v, f"row {i}, {field!r}") for i, v in enumerate(numbers.tolist())])
    return np.array([parse(v, f"row {i}, {field!r}") for i, v in enumerate(values)], dtype=np.float64)


def iso(seconds: float) -> str:
    """Seconds since the epoch → ``2024-03-01T12:00:00Z`` (milliseconds when not whole)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _from_number(number: float, where: str) -> float:
    if not math.isfinite(number):
        raise InvalidInput(f"{where}: the timestamp is not finite ({number})")
    magnitude = abs(number)
    if magnitude < MS_FROM:
        return number
    if magnitude <= MAX_EPOCH_MS:
        return number / 1000.0
    raise InvalidInput(
        f"{where}: {number:.0f} is too large for epoch seconds or milliseconds (micro- or "
        "nanoseconds?); send seconds, milliseconds or an ISO 8601 string"
    )


def _from_text(text: str, where: str) -> float:
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        hint = " (a number in quotes: send it as a JSON number)" if _is_number(stripped) else ""
        raise InvalidInput(f"{where}: {_show(text)} is not an ISO 8601 timestamp{hint}, such as "
                           "2024-03-01T12:00:00Z") from None
    return _from_datetime(moment)


def _from_datetime(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _datetime_array(values: Any) -> np.ndarray | None:
    """A datetime64 numpy view of a datetime column, or None when it is not one."""
    if isinstance(values, np.ndarray):
        return values if values.dtype.kind == "M" else None
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return None
    kind = str(dtype)
    if kind.startswith("Date"):  # Polars: Date and Datetime
        import polars as pl

        series = values if isinstance(values, pl.Series) else pl.Series(values)
        if getattr(series.dtype, "time_zone", None):
            series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return series.cast(pl.Datetime("us")).to_numpy()
    if kind.startswith("datetime64"):  # pandas, tz-aware or not
        if getattr(dtype, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return np.asarray(values, dtype="datetime64[ns]")
    return None


def _number_array(values: Any) -> np.ndarray | None:
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return values.astype(np.float64)
    dtype = getattr(values, "dtype", None)
    if dtype is not None and str(dtype).lower().startswith(("int", "uint", "float")):
        return np.asarray(values, dtype=np.float64)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def sorted_order(seconds: Sequence[float] | np.ndarray) -> np.ndarray:
    """Row positions in time order (stable: equal times keep their arrival order)."""
    return np.argsort(np.asarray(seconds, dtype=np.float64), kind="stable")
