"""Anomalies across several aligned series, with each variable's share of the blame.

Each variable is modelled on its own (:mod:`.decompose`), which turns it into standardised
residuals ``z`` (residual / robust spread). What is unusual jointly is then measured on the
residual vector of every timestamp with the Mahalanobis distance ``d² = zᵀ C⁻¹ z``, ``C`` the
correlation of the residuals (estimated with residuals clipped at ±:data:`CLIP` spreads, so the
anomalies do not shape it). Correlated variables that break step with each other stand out even
when each one is inside its own margins. ``d²`` is a chi-square with one degree of freedom per
variable for normal residuals; its tail probability is mapped back to a one-variable distance,
so ``sensitivity`` and ``severity`` mean what they mean for a single series.

A variable's ``contribution_score`` is its term of ``d²`` (``z_i (C⁻¹ z)_i``), negative terms
dropped, as a share of the total: the shares of a timestamp sum to 1.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
from scipy.special import chdtrc, ndtri

from anomd.timeseries.decompose import decompose
from anomd.timeseries.errors import SeriesInputError
from anomd.timeseries.margins import cap_ratio, margin_factor, severity
from anomd.timeseries.options import (
    CustomInterval,
    GranularityField,
    GridOptions,
    ImputeModeField,
    MaxAnomalyRatio,
    Period,
    Sensitivity,
    SeriesPoint,
    Timestamp,
)
from anomd.timeseries.series_input import prepare, read_times

#: Most variables in one request.
MAX_VARIABLES = 100
#: Residuals beyond this many spreads are clipped when the correlation is estimated.
CLIP = 4.0
#: Added to the correlation's diagonal: keeps C invertible when variables are collinear.
RIDGE = 1e-3


class Variable(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    values: list[float]


class MultivariateOptions(msgspec.Struct, kw_only=True):
    """Several series sharing one list of timestamps."""

    variables: Annotated[list[Variable], msgspec.Meta(
        description="Aligned series: each one value per timestamp.", extra_json_schema={"minItems": 1})]
    timestamps: Annotated[list[Timestamp] | None, msgspec.Meta(
        description="One per value, ascending; may be omitted with granularity 'none'.")] = None
    granularity: GranularityField = "auto"
    custom_interval: CustomInterval = None
    period: Period = None
    sensitivity: Sensitivity = 95
    max_anomaly_ratio: MaxAnomalyRatio = 0.25
    impute_mode: ImputeModeField = "auto"
    impute_fixed_value: float | None = None
    top_contributor_count: Annotated[int, msgspec.Meta(ge=1, le=MAX_VARIABLES)] = 10


class Contribution(msgspec.Struct, kw_only=True):
    variable: str
    contribution_score: float


class MultivariatePoint(msgspec.Struct, kw_only=True):
    index: int
    is_anomaly: bool
    severity: float
    score: float
    contributions: list[Contribution]


class MultivariateResult(msgspec.Struct, kw_only=True):
    """Per timestamp, in order: joint verdict, severity, distance, and the top contributors."""

    variables: list[str]
    periods: dict[str, int]
    granularity: str
    custom_interval: int
    points: list[MultivariatePoint]
    anomaly_count: int


def detect_multivariate(options: MultivariateOptions, max_points: int) -> MultivariateResult:
    """Judges every timestamp of ``options`` jointly (see the module docstring).

    Raises:
        SeriesInputError: Ragged or duplicate variables, too many of them, or a bad series.
    """
    names, residuals, periods, grid = _residuals(options, max_points)
    n, m = residuals.shape
    clipped = np.clip(residuals, -CLIP, CLIP)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant variable: no correlation (0)
        corr = np.corrcoef(clipped, rowvar=False) if m > 1 else np.ones((1, 1))
    corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
    np.fill_diagonal(corr, 1.0 + RIDGE)
    solved = np.linalg.solve(corr, residuals.T).T
    terms = residuals * solved
    d2 = np.maximum(terms.sum(axis=1), 0.0)
    # Chi-square tail -> the one-variable distance with the same two-sided tail.
    tail = np.clip(chdtrc(m, d2), 1e-300, 1.0)
    distance = np.maximum(-ndtri(tail / 2.0), 0.0)
    flagged = cap_ratio(distance, distance > margin_factor(options.sensitivity), options.max_anomaly_ratio)
    sev = severity(distance, flagged)
    positive = np.maximum(terms, 0.0)
    totals = positive.sum(axis=1, keepdims=True)
    shares = np.divide(positive, totals, out=np.full_like(positive, 1.0 / m), where=totals > 0)
    top = min(options.top_contributor_count, m)
    order = np.argsort(-shares, axis=1, kind="stable")[:, :top]
    points = [
        MultivariatePoint(
            index=i, is_anomaly=bool(flagged[i]), severity=float(sev[i]), score=float(distance[i]),
            contributions=[Contribution(variable=names[j], contribution_score=float(shares[i, j])) for j in order[i]],
        )
        for i in range(n)
    ]
    return MultivariateResult(variables=names, periods=periods, granularity=grid.granularity,
                              custom_interval=grid.custom_interval, points=points,
                              anomaly_count=int(flagged.sum()))


def _residuals(options: MultivariateOptions, max_points: int):
    variables = options.variables
    if not variables:
        raise SeriesInputError("variables", "is empty; send at least one variable")
    if len(variables) > MAX_VARIABLES:
        raise SeriesInputError("variables", f"{len(variables)} variables; at most {MAX_VARIABLES} per request")
    names = [v.name for v in variables]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SeriesInputError("variables", f"the name {dup!r} is used twice; names must be unique")
    n = len(variables[0].values)
    for v in variables:
        if len(v.values) != n:
            raise SeriesInputError("variables", f"{v.name!r} has {len(v.values)} values and {names[0]!r} {n}; "
                                                "aligned series need one value per timestamp each")
    if options.timestamps is not None and len(options.timestamps) != n:
        raise SeriesInputError("timestamps", f"{len(options.timestamps)} timestamps for {n} values per variable")
    if n * len(variables) > 10 * max_points:
        raise SeriesInputError("variables", f"{n} x {len(variables)} values; at most {10 * max_points} per request")
    times = None
    if options.timestamps is not None and options.granularity != "none":
        try:  # read once for all the variables
            times = read_times([SeriesPoint(value=0.0, timestamp=t) for t in options.timestamps])
        except SeriesInputError as exc:
            raise SeriesInputError("timestamps", exc.detail.partition(": ")[2]) from None
    columns, periods, grid = [], {}, None
    for v in variables:
        series = [SeriesPoint(value=x) for x in v.values]
        grid_options = GridOptions(series=series, granularity=options.granularity,
                                   custom_interval=options.custom_interval, period=options.period)
        try:
            prepared = prepare(grid_options, max_points, options.impute_mode, options.impute_fixed_value, times)
        except SeriesInputError as exc:
            field = "timestamps" if "timestamp" in exc.detail and exc.field == "series" else exc.field
            raise SeriesInputError(field, f"variable {v.name!r}: {exc.detail.partition(': ')[2]}") from None
        model = decompose(prepared.grid.values, prepared.period)
        columns.append(model.residual[prepared.grid.observed] / model.scale)
        periods[v.name] = model.period
        grid = prepared.grid
    assert grid is not None
    return names, np.column_stack(columns), periods, grid

