"""Calendar features from the points' timestamps: time of day and day of week, as circles.

Load, traffic and temperature follow the clock. Given as features, the time of day and the day
of the week let a detector learn that a value normal at noon is odd at 3 a.m. Each is encoded
as a point on a circle (sine and cosine), so 23:59 sits next to 00:00 and Sunday next to
Monday; a plain hour number would put them at opposite ends. Times are read in ``timezone``
(an IANA name; UTC by default), because people's days start at local midnight. The features
depend only on the row's own timestamp, so they are causal; they need points with a timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import numpy as np
import polars as pl

import anomd
from anomd.transforms import TIME_COLUMN, TransformSpec

Feature = Literal["hour_of_day", "day_of_week"]
_CYCLE_HOURS = {"hour_of_day": 24.0, "day_of_week": 168.0}


class CalendarOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    features: Annotated[list[Feature], msgspec.Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: ["hour_of_day", "day_of_week"]
    )
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if len(set(self.features)) != len(self.features):
            raise ValueError("features are listed twice")
        _zone(self.timezone)


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as 'Europe/Paris' or 'UTC'") from None


def expressions(columns: Sequence[str], options: CalendarOptions) -> list[pl.Expr]:
    del columns  # the features describe the point's time, not its values
    local = pl.from_epoch((pl.col(TIME_COLUMN) * 1_000_000).round().cast(pl.Int64), time_unit="us")
    local = local.dt.replace_time_zone("UTC").dt.convert_time_zone(options.timezone)
    hours = local.dt.hour() + local.dt.minute() / 60.0 + local.dt.second() / 3600.0
    week_hours = (local.dt.weekday() - 1) * 24.0 + hours  # Monday 00:00 is 0
    out = []
    for feature in options.features:
        phase = (hours if feature == "hour_of_day" else week_hours) * (2.0 * np.pi / _CYCLE_HOURS[feature])
        out += [phase.sin().alias(f"{feature}_sin"), phase.cos().alias(f"{feature}_cos")]
    return out


def lookback(options: CalendarOptions) -> int:
    return 1


def latest(tail: np.ndarray, options: CalendarOptions) -> np.ndarray:
    moment = datetime.fromtimestamp(round(float(tail[-1, -1]) * 1e6) / 1e6, _zone(options.timezone))
    hours = moment.hour + moment.minute / 60.0 + moment.second / 3600.0
    values = []
    for feature in options.features:
        position = hours if feature == "hour_of_day" else moment.weekday() * 24.0 + hours
        phase = position * (2.0 * np.pi / _CYCLE_HOURS[feature])
        values += [np.sin(phase), np.cos(phase)]
    return np.array(values)


SPEC = TransformSpec(
    id="calendar",
    description="Time of day and day of week of each point (sine and cosine), from its timestamp.",
    options=CalendarOptions,
    expressions=expressions,
    lookback=lookback,
    latest=latest,
    uses_time=True,
)


@anomd.hookimpl
def register_transforms(register):
    register(SPEC)
