"""Turning incoming points (dicts keyed by column name) into float rows, or a clear error.

The columns of a stream are fixed by its first point (sorted by name, as batch models sort
them) and every later point must carry exactly those keys with finite numbers. Anything else
is refused *before* the detector's state is touched, with the point's index and the offending
key in the message, so a bad point costs the caller one error and the detector nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from anomd.errors import InvalidInput

_PLAIN_NUMBERS = (float, int)
MAX_COLUMNS = 1024


def _where(index: int | None) -> str:
    return "point" if index is None else f"point {index}"


def _value_error(key: str, value: Any, index: int | None) -> InvalidInput:
    if isinstance(value, bool) or not isinstance(value, Real):
        kind = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"[:80]
        return InvalidInput(f"{_where(index)}: key {key!r} must be a number, got {kind}")
    return InvalidInput(f"{_where(index)}: key {key!r} must be a finite number, got {value!r}")


def columns_of(point: Any) -> tuple[str, ...]:
    """The stream's columns, from its first point: its keys, sorted by name.

    Raises:
        InvalidInput: Not a non-empty object of numbers.
    """
    if not isinstance(point, Mapping) or not point:
        raise InvalidInput("a stream point must be a non-empty object such as {\"temp\": 21.5}")
    if len(point) > MAX_COLUMNS:
        raise InvalidInput(f"a stream point may have at most {MAX_COLUMNS} keys, got {len(point)}")
    for key in point:
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"point keys must be non-empty strings, got {key!r}")
    return tuple(sorted(point))


class PointReader:
    """Reads points of a fixed set of columns.

    Args:
        columns: The stream's column names, in feature order.
    """

    __slots__ = ("_keys", "_width", "columns")

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._keys = frozenset(self.columns)
        self._width = len(self.columns)

    def row(self, point: Any, index: int | None = None) -> list[float]:
        """One point as a list of floats in column order.

        Raises:
            InvalidInput: A missing, extra or non-numeric key, or a non-finite value.
        """
        try:
            if len(point) == self._width:
                row = [point[key] for key in self.columns]
                # Fast path: plain JSON numbers. The sum is finite iff every value is (barring
                # values near float max, which the slow path then sorts out exactly).
                if all(type(v) in _PLAIN_NUMBERS for v in row) and math.isfinite(sum(row)):
                    return row
        except (KeyError, TypeError, OverflowError):
            pass
        return self._checked(point, index)

    def _checked(self, point: Any, index: int | None) -> list[float]:
        if not isinstance(point, Mapping):
            raise InvalidInput(f"{_where(index)} must be an object keyed by column name, got {type(point).__name__}")
        missing = [k for k in self.columns if k not in point]
        extra = sorted(str(k) for k in point if k not in self._keys)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected key(s) {', '.join(map(repr, extra))}")
            raise InvalidInput(
                f"{_where(index)}: {' and '.join(parts)}; this stream's keys are fixed by its first "
                f"point: {', '.join(map(repr, self.columns))}"
            )
        row = []
        for key in self.columns:
            value = point[key]
            if isinstance(value, bool) or not isinstance(value, Real):
                raise _value_error(key, value, index)
            try:
                number = float(value)
            except OverflowError:
                raise _value_error(key, value, index) from None
            if not math.isfinite(number):
                raise _value_error(key, value, index)
            row.append(number)
        return row

    def matrix(self, points: Sequence[Any]) -> np.ndarray:
        """Every point as one float matrix; the whole list is checked before anything is used.

        Raises:
            InvalidInput: Naming the index of the first bad point.
        """
        out = np.empty((len(points), self._width), dtype=np.float64)
        for i, point in enumerate(points):
            out[i] = self.row(point, i)
        return out
