"""Turning incoming points (dicts keyed by column name) into float rows, or a clear error.

The columns of a stream are fixed by its first point (sorted by name, as batch models sort
them) and every later point must carry exactly those keys with finite numbers. Anything else
is refused *before* the detector's state is touched, with the point's index and the offending
key in the message, so a bad point costs the caller one error and the detector nothing.

A point's timestamp (the key ``timestamp_field``, ``timestamp`` by default) is not a column: when
the first point has one, every point must, and it is read by ``anomd.timeseries.timestamps``
(ISO 8601, epoch seconds or milliseconds) and kept as the row's last value, in seconds. What
happens to a point whose time is earlier than the stream's latest is the detector's policy
(``late_points``, :func:`order_times`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from anomd.errors import InvalidInput
from anomd.timeseries.timestamps import parse

_PLAIN_NUMBERS = (float, int)
MAX_COLUMNS = 1024


def _where(index: int | None) -> str:
    return "point" if index is None else f"point {index}"


def _value_error(key: str, value: Any, index: int | None) -> InvalidInput:
    if isinstance(value, bool) or not isinstance(value, Real):
        kind = "a boolean" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"[:80]
        return InvalidInput(f"{_where(index)}: key {key!r} must be a number, got {kind}")
    return InvalidInput(f"{_where(index)}: key {key!r} must be a finite number, got {value!r}")


def columns_of(point: Any, time_field: str | None = None) -> tuple[str, ...]:
    """The stream's columns, from its first point: its keys but ``time_field``, sorted by name.

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
    columns = tuple(sorted(k for k in point if k != time_field))
    if not columns:
        raise InvalidInput(f"a stream point needs at least one value besides {time_field!r}")
    return columns


def reader_for(point: Any, time_field: str) -> PointReader:
    """The reader a stream's first point defines: its columns, and a time if it has one."""
    timed = isinstance(point, Mapping) and time_field in point
    return PointReader(columns_of(point, time_field), time_field if timed else None)


class PointReader:
    """Reads points of a fixed set of columns (and a timestamp, for a timed stream).

    Args:
        columns: The stream's column names, in feature order.
        time_field: The key of the points' timestamp; None for points without one.
    """

    __slots__ = ("_keys", "_width", "columns", "time_field")

    def __init__(self, columns: Sequence[str], time_field: str | None = None) -> None:
        self.columns = tuple(columns)
        self.time_field = time_field
        self._keys = frozenset(self.columns) | ({time_field} if time_field else set())
        self._width = len(self._keys)

    @property
    def timed(self) -> bool:
        return self.time_field is not None

    def row(self, point: Any, index: int | None = None) -> list[float]:
        """One point as a list of floats in column order (then its time, for a timed stream).

        Raises:
            InvalidInput: A missing, extra or non-numeric key, a non-finite value, or a
                timestamp that cannot be read.
        """
        try:
            if len(point) == self._width:
                row = [point[key] for key in self.columns]
                # Fast path: plain JSON numbers. The sum is finite iff every value is (barring
                # values near float max, which the slow path then sorts out exactly).
                if all(type(v) in _PLAIN_NUMBERS for v in row) and math.isfinite(sum(row)):
                    if self.time_field is not None:
                        row.append(parse(point[self.time_field], f"{_where(index)}: {self.time_field!r}"))
                    return row
        except (KeyError, TypeError, OverflowError):
            pass
        return self._checked(point, index)

    def _checked(self, point: Any, index: int | None) -> list[float]:
        if not isinstance(point, Mapping):
            raise InvalidInput(f"{_where(index)} must be an object keyed by column name, got {type(point).__name__}")
        missing = [k for k in (*self.columns, *([self.time_field] if self.time_field else [])) if k not in point]
        extra = sorted(str(k) for k in point if k not in self._keys)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected key(s) {', '.join(map(repr, extra))}")
            keys = ", ".join(map(repr, self.columns))
            if self.time_field:
                keys += f" and its timestamp {self.time_field!r}"
            raise InvalidInput(
                f"{_where(index)}: {' and '.join(parts)}; this stream's keys are fixed by its first "
                f"point: {keys}"
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
        if self.time_field is not None:
            row.append(parse(point[self.time_field], f"{_where(index)}: {self.time_field!r}"))
        return row

    def matrix(self, points: Sequence[Any]) -> np.ndarray:
        """Every point as one float matrix; the whole list is checked before anything is used.

        Raises:
            InvalidInput: Naming the index of the first bad point.
        """
        out = np.empty((len(points), len(self.columns) + self.timed), dtype=np.float64)
        for i, point in enumerate(points):
            out[i] = self.row(point, i)
        return out


def order_times(times: np.ndarray, latest: float | None, policy: str, field: str) -> int:
    """Applies the late-point policy to a batch's timestamps, in place; returns how many were late.

    A point is late when its time is earlier than the latest time before it (the stream's, then
    the batch's). ``reject`` refuses the batch, naming the first late point; ``accept`` keeps the
    arrival order and moves a late point's time up to the latest one, so time never runs
    backwards for the features (clock resets and daylight-saving repeats happen in real feeds,
    and dropping their points would lose data).

    Raises:
        InvalidInput: ``reject`` and a late point.
    """
    running = np.maximum.accumulate(times)
    if latest is not None:
        running = np.maximum(running, latest)
    late = times < running
    if not late.any():
        return 0
    if policy == "reject":
        i = int(np.argmax(late))
        raise InvalidInput(
            f"point {i}: {field!r} is earlier than the stream's latest point; send a stream's points "
            "in time order (or create the stream with late_points \"accept\")"
        )
    times[:] = running
    return int(late.sum())
