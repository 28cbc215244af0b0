"""What a caller sends to detect on a series, as typed Structs (native, snake_case names).

These are the request bodies of the native routes (``/v1/ml/anomaly/timeseries/...``) and the
arguments of :mod:`anomd.timeseries.univariate`, :mod:`.changepoint` and :mod:`.multivariate`;
the Azure-compatible routes translate their camelCase bodies into them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from anomd.timeseries.grid import Granularity, ImputeMode

#: Fewest points a series may have (Azure's minimum too).
MIN_POINTS = 12

Timestamp = Annotated[
    str | float | None,
    msgspec.Meta(description="ISO 8601 or epoch seconds/milliseconds; may be omitted with granularity 'none'."),
]
Sensitivity = Annotated[int, msgspec.Meta(
    ge=0, le=99, description="0-99: higher means narrower margins and more anomalies.")]
MaxAnomalyRatio = Annotated[float, msgspec.Meta(
    gt=0, le=0.5, description="Most points that may be flagged, as a share of the series.")]
Period = Annotated[Annotated[int, msgspec.Meta(ge=0)] | None, msgspec.Meta(
    description="Period in points; 0 for none; omitted: detected from the series.")]
CustomInterval = Annotated[Annotated[int, msgspec.Meta(ge=1)] | None, msgspec.Meta(
    description="Units of granularity per point, e.g. 5 with 'minutely' for 5-minute data.")]
GranularityField = Annotated[Granularity, msgspec.Meta(
    description="Spacing of the points; 'auto' infers it from the timestamps, 'none' takes them as evenly spaced.")]
ImputeModeField = Annotated[ImputeMode, msgspec.Meta(
    description="How missing points are filled for the model (results are given for the points sent).")]


class SeriesPoint(msgspec.Struct, kw_only=True):
    value: float
    timestamp: Timestamp = None


Series = Annotated[list[SeriesPoint], msgspec.Meta(
    description="The points in ascending time order, one per timestamp; 12 or more.",
    extra_json_schema={"minItems": MIN_POINTS})]


class GridOptions(msgspec.Struct, kw_only=True):
    """How the points sit in time (shared by every series operation)."""

    series: Series
    granularity: GranularityField = "auto"
    custom_interval: CustomInterval = None
    period: Period = None


class DetectOptions(GridOptions, kw_only=True):
    """``entire`` and ``last``: anomalies with expected values and margins."""

    sensitivity: Sensitivity = 95
    max_anomaly_ratio: MaxAnomalyRatio = 0.25
    impute_mode: ImputeModeField = "auto"
    impute_fixed_value: Annotated[float | None, msgspec.Meta(
        description="The value missing points take with impute_mode 'fixed'.")] = None


class ChangePointOptions(GridOptions, kw_only=True):
    """``changepoint``: where the level of the series moves."""

    stable_trend_window: Annotated[int, msgspec.Meta(
        ge=3, le=500, description="Points on each side of a change that must be stable.")] = 10
    threshold: Annotated[float, msgspec.Meta(
        ge=0, le=1, description="Least confidence for a point to be a change point.")] = 0.99
