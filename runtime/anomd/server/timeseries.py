"""Series routes: a whole series, its last point, its change points, several series at once.

Thin: decode the native (snake_case) body, run the operation of :mod:`anomd.timeseries` on a
worker thread, reshape its column-wise result into one object per point. Bad input is a
:class:`~anomd.timeseries.errors.SeriesInputError`, a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, Request, post

from anomd.docgen.curl_examples import EXAMPLES
from anomd.server.body import decode_body
from anomd.server.openapi_body import json_body
from anomd.server.series_admission import admitted_series
from anomd.server.state import AppStateDep
from anomd.timeseries.changepoint import detect_change_points
from anomd.timeseries.multivariate import (
    MultivariateOptions,
    MultivariateResult,
    detect_multivariate,
)
from anomd.timeseries.options import ChangePointOptions, DetectOptions
from anomd.timeseries.univariate import EntireResult, LastResult, detect_entire, detect_last

_TOO_LARGE = (413, ("The body is over this server's limit, or its estimated working memory over "
                    "max_request_memory_mb (series_max_points is a 422 naming the field)."))


def _doc(kind: Any, text: str) -> Any:
    return Annotated[kind, msgspec.Meta(description=text)]


class SeriesPointResult(msgspec.Struct, kw_only=True):
    index: _doc(int, "Position of the point in the request's series.")
    expected_value: _doc(float, "What the model expected: local level plus the seasonal profile at this phase.")
    upper_margin: _doc(float, "The point is a positive anomaly above expected_value + upper_margin.")
    lower_margin: _doc(float, "The point is a negative anomaly below expected_value - lower_margin.")
    is_anomaly: bool
    is_positive_anomaly: _doc(bool, "An anomaly above the upper margin.")
    is_negative_anomaly: _doc(bool, "An anomaly below the lower margin.")
    severity: _doc(float, "0 within the margins; else in (0, 1], growing with the distance from expected_value.")


class EntireResponse(msgspec.Struct, kw_only=True):
    object: str = "series_detection"
    period: _doc(int, "Period used, in points (0: none), as sent or detected.")
    granularity: _doc(str, "Granularity used (inferred with 'auto'; 'none' when the timestamps have no regular clock).")
    custom_interval: _doc(int, "Units of granularity per point used.")
    sensitivity: int
    imputed_points: _doc(int, "Missing points filled for the model (they get no result of their own).")
    anomaly_count: int
    points: list[SeriesPointResult]


class ChangePointResult(msgspec.Struct, kw_only=True):
    index: int
    is_change_point: bool
    confidence_score: _doc(float, "0-1: one minus the chance that noise alone shows such a change anywhere in the series.")


class ChangePointResponse(msgspec.Struct, kw_only=True):
    object: str = "change_points"
    period: int
    granularity: str
    custom_interval: int
    change_points: _doc(list[int], "Indexes of the change points.")
    points: list[ChangePointResult]


def entire_response(result: EntireResult, sensitivity: int) -> EntireResponse:
    columns = zip(result.expected_values, result.upper_margins, result.lower_margins, result.is_anomaly,
                  result.is_positive_anomaly, result.is_negative_anomaly, result.severity, strict=True)
    points = [SeriesPointResult(index=i, expected_value=e, upper_margin=u, lower_margin=lo, is_anomaly=a,
                                is_positive_anomaly=p, is_negative_anomaly=ng, severity=s)
              for i, (e, u, lo, a, p, ng, s) in enumerate(columns)]
    return EntireResponse(period=result.period, granularity=result.granularity,
                          custom_interval=result.custom_interval, sensitivity=sensitivity,
                          imputed_points=result.imputed_points, anomaly_count=sum(result.is_anomaly), points=points)


def _example(route: str) -> dict:
    body = EXAMPLES[route][2]
    assert body is not None
    return body


class TimeseriesController(Controller):
    path = "/v1/ml/anomaly/timeseries"
    tags: ClassVar[list[str]] = ["timeseries"]

    @post("/entire", status_code=200, summary="Expected values, margins and anomalies for a whole series",
          operation_class=json_body(DetectOptions, _TOO_LARGE,
                                    example=_example("POST /v1/ml/anomaly/timeseries/entire")))
    async def entire(self, request: Request, app_state: AppStateDep) -> EntireResponse:
        req, _, _ = await decode_body(request, DetectOptions)
        limit = app_state.service.settings.series_max_points
        result = await admitted_series(request, app_state, "entire", len(req.series), 1,
                                       detect_entire, req, limit)
        return entire_response(result, req.sensitivity)

    @post("/last", status_code=200, summary="Whether the newest point of a series is an anomaly",
          operation_class=json_body(DetectOptions, _TOO_LARGE,
                                    example=_example("POST /v1/ml/anomaly/timeseries/last")))
    async def last(self, request: Request, app_state: AppStateDep) -> LastResult:
        req, _, _ = await decode_body(request, DetectOptions)
        return await admitted_series(request, app_state, "last", len(req.series), 1,
                                     detect_last, req, app_state.service.settings.series_max_points)

    @post("/changepoint", status_code=200, summary="Where the level of a series changes",
          operation_class=json_body(ChangePointOptions, _TOO_LARGE,
                                    example=_example("POST /v1/ml/anomaly/timeseries/changepoint")))
    async def changepoint(self, request: Request, app_state: AppStateDep) -> ChangePointResponse:
        req, _, _ = await decode_body(request, ChangePointOptions)
        result = await admitted_series(request, app_state, "changepoint", len(req.series), 1,
                                       detect_change_points, req, app_state.service.settings.series_max_points)
        points = [ChangePointResult(index=i, is_change_point=c, confidence_score=s)
                  for i, (c, s) in enumerate(zip(result.is_change_point, result.confidence_scores, strict=True))]
        return ChangePointResponse(period=result.period, granularity=result.granularity,
                                   custom_interval=result.custom_interval,
                                   change_points=[p.index for p in points if p.is_change_point], points=points)

    @post("/multivariate", status_code=200,
          summary="Anomalies across aligned series, with each variable's contribution",
          operation_class=json_body(MultivariateOptions, _TOO_LARGE,
                                    example=_example("POST /v1/ml/anomaly/timeseries/multivariate")))
    async def multivariate(self, request: Request, app_state: AppStateDep) -> MultivariateResult:
        req, _, _ = await decode_body(request, MultivariateOptions)
        points = max((len(v.values) for v in req.variables), default=0)  # none: refused by the operation
        return await admitted_series(request, app_state, "multivariate", points, len(req.variables),
                                     detect_multivariate, req, app_state.service.settings.series_max_points)
