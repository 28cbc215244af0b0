"""Checking a sent series and putting it on its grid, the same way for every operation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anomd.errors import InvalidInput
from anomd.timeseries.decompose import find_period
from anomd.timeseries.errors import SeriesInputError
from anomd.timeseries.grid import Grid, build_grid
from anomd.timeseries.options import MIN_POINTS, GridOptions, SeriesPoint
from anomd.timeseries.timestamps import parse

#: Largest value magnitude accepted: sums of squares of the series must stay finite.
MAX_MAGNITUDE = 1e100


@dataclass(frozen=True, slots=True)
class PreparedSeries:
    """A checked series on its grid with the period to use.

    Attributes:
        grid: Values per slot and the slot of each point sent.
        period: Period in slots (0: none), as given or detected.
        values: The values sent, in order.
    """

    grid: Grid
    period: int
    values: np.ndarray


def read_values(points: list[SeriesPoint], max_points: int) -> np.ndarray:
    """The values, checked: enough of them, not too many, all finite.

    Raises:
        SeriesInputError: Too few or too many points, or a value that is not finite.
    """
    n = len(points)
    if n < MIN_POINTS:
        raise SeriesInputError("series", f"needs at least {MIN_POINTS} points, got {n}")
    if n > max_points:
        raise SeriesInputError("series", f"has {n} points; this server accepts at most {max_points} "
                                         "(setting series_max_points)")
    values = np.fromiter((p.value for p in points), dtype=np.float64, count=n)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise SeriesInputError("series", f"point {i}'s value is not a finite number ({values[i]})")
    huge = np.abs(values) > MAX_MAGNITUDE
    if huge.any():
        i = int(np.argmax(huge))
        raise SeriesInputError("series", f"point {i}'s value {values[i]:g} is beyond ±{MAX_MAGNITUDE:g}; "
                                         "rescale the series (its squares must stay finite)")
    return values


def read_times(points: list[SeriesPoint]) -> np.ndarray | None:
    """Timestamps in seconds, or None when no point has one.

    Raises:
        SeriesInputError: Some points have a timestamp and others not, or one is unreadable.
    """
    stamped = [p.timestamp is not None for p in points]
    if not any(stamped):
        return None
    if not all(stamped):
        i = stamped.index(False)
        raise SeriesInputError("series", f"point {i} has no timestamp while others do; send one on every "
                                         "point, or none with granularity 'none'")
    try:
        return np.array([parse(p.timestamp, f"point {i}'s timestamp") for i, p in enumerate(points)])
    except SeriesInputError:
        raise
    except InvalidInput as exc:
        raise SeriesInputError("series", exc.detail) from None


def prepare(options: GridOptions, max_points: int, impute_mode: str = "auto",
            impute_fixed_value: float | None = None, times: np.ndarray | None = None) -> PreparedSeries:
    """Checks ``options`` and places its series on a grid; finds the period if none is given.

    ``times``, when given, are the series' timestamps already read (several series sharing
    them read them once); else they are read from the points.

    Raises:
        SeriesInputError: Naming the field at fault.
    """
    values = read_values(options.series, max_points)
    if options.custom_interval is not None and options.granularity in ("auto", "none"):
        raise SeriesInputError("custom_interval", "needs a granularity (e.g. 'minutely' with custom_interval 5)")
    if options.granularity == "none":
        times = None
    elif times is None:
        times = read_times(options.series)
    grid = build_grid(times, values, options.granularity, options.custom_interval,  # type: ignore[arg-type]
                      impute_mode, impute_fixed_value, max_slots=2 * max_points)  # type: ignore[arg-type]
    period = options.period
    if period is None:
        period = find_period(grid.values, grid.step_seconds)
    elif period == 1 or 2 * period > grid.values.size:
        raise SeriesInputError("period", f"{period} does not fit the series: a period needs at least 2 points "
                                         f"and two full cycles in the series ({grid.values.size} points)")
    return PreparedSeries(grid, int(period), values)
