"""Anomalies in one series with expected values and margins: the whole series, or its last point.

``entire`` fits the model (:mod:`.decompose`) to the whole series and judges every point
against it; ``last`` fits the history (every point but the newest) and judges the newest, as a
monitor calling once per new point would. A point is an anomaly when it lies outside its
margins (:mod:`.margins`); at most ``max_anomaly_ratio`` of a series is flagged, the farthest
points first. Results are given for the points sent, in their order; filled-in points only
serve the model.
"""

from __future__ import annotations

import msgspec
import numpy as np

from anomd.timeseries.decompose import Decomposition, decompose
from anomd.timeseries.margins import cap_ratio, margin_factor, severity
from anomd.timeseries.options import MIN_POINTS, DetectOptions
from anomd.timeseries.series_input import prepare


class EntireResult(msgspec.Struct, kw_only=True):
    """Per point sent, in order: the model's expectation, the margins and the verdict."""

    period: int
    granularity: str
    custom_interval: int
    imputed_points: int
    expected_values: list[float]
    upper_margins: list[float]
    lower_margins: list[float]
    is_anomaly: list[bool]
    is_positive_anomaly: list[bool]
    is_negative_anomaly: list[bool]
    severity: list[float]


class LastResult(msgspec.Struct, kw_only=True):
    """The newest point's expectation, margins and verdict, given its history."""

    period: int
    granularity: str
    custom_interval: int
    suggested_window: int
    expected_value: float
    upper_margin: float
    lower_margin: float
    is_anomaly: bool
    is_positive_anomaly: bool
    is_negative_anomaly: bool
    severity: float


def detect_entire(options: DetectOptions, max_points: int) -> EntireResult:
    """Judges every point of ``options.series`` against a model of the whole series.

    Raises:
        SeriesInputError: A series or option that cannot be used, naming the field.
    """
    prepared = prepare(options, max_points, options.impute_mode, options.impute_fixed_value)
    grid = prepared.grid
    model = decompose(grid.values, prepared.period)
    at = grid.observed
    expected = model.expected[at]
    distance = (prepared.values - expected) / model.scale
    factor = margin_factor(options.sensitivity)
    flagged = cap_ratio(distance, np.abs(distance) > factor, options.max_anomaly_ratio)
    margins = [factor * model.scale] * at.size
    return EntireResult(
        period=model.period, granularity=grid.granularity, custom_interval=grid.custom_interval,
        imputed_points=grid.missing, expected_values=expected.tolist(), upper_margins=margins,
        lower_margins=margins, is_anomaly=flagged.tolist(),
        is_positive_anomaly=(flagged & (distance > 0)).tolist(),
        is_negative_anomaly=(flagged & (distance < 0)).tolist(),
        severity=severity(distance, flagged).tolist(),
    )


def detect_last(options: DetectOptions, max_points: int) -> LastResult:
    """Judges the newest point of ``options.series`` against a model of the points before it.

    Raises:
        SeriesInputError: A series or option that cannot be used, naming the field.
    """
    prepared = prepare(options, max_points, options.impute_mode, options.impute_fixed_value)
    grid = prepared.grid
    # The history ends at the point before the newest: slots filled between the two were
    # interpolated towards the newest value, and must not vouch for it.
    history = grid.values[: grid.observed[-2] + 1]
    period = prepared.period if 2 * prepared.period <= history.size else 0
    model = decompose(history, period)
    # Slots between the history's end and the newest point are filled; predict across them.
    expected = model.predict_next() + _phase_shift(model, history.size, int(grid.observed[-1]))
    value = float(prepared.values[-1])
    margin = margin_factor(options.sensitivity) * model.scale
    distance = (value - expected) / model.scale
    flagged = abs(value - expected) > margin
    return LastResult(
        period=model.period, granularity=grid.granularity, custom_interval=grid.custom_interval,
        suggested_window=suggested_window(model.period, model.window, max_points),
        expected_value=expected, upper_margin=margin, lower_margin=margin, is_anomaly=bool(flagged),
        is_positive_anomaly=bool(flagged and distance > 0), is_negative_anomaly=bool(flagged and distance < 0),
        severity=float(severity(np.array([distance]), np.array([flagged]))[0]),
    )


def _phase_shift(model: Decomposition, fitted: int, last_slot: int) -> float:
    """Seasonal difference between the slot after the history and ``last_slot`` (missing slots)."""
    if last_slot == fitted or not model.period:
        return 0.0
    profile = model.profile
    return float(profile[last_slot % model.period] - profile[fitted % model.period])


def suggested_window(period: int, window: int, max_points: int) -> int:
    """History worth sending with the next point: four cycles, or enough for a steady spread."""
    return int(min(max_points, max(MIN_POINTS, 4 * period, 8 * window, 96) + 1))
