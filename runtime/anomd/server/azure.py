"""Azure AI Anomaly Detector v1.1 (and v1.0), drop-in: its univariate paths, JSON shapes and error codes.

An application written against Azure's REST API or SDK points its endpoint here and keeps its
code: the bodies are Azure's camelCase ones (``series``, ``granularity``, ``customInterval``,
``period``, ``maxAnomalyRatio``, ``sensitivity``, ``imputeMode``, ``imputeFixedValue``;
``stableTrendWindow`` and ``threshold`` for change points), the replies Azure's column-wise ones
(``expectedValues``, ``upperMargins``...), and errors Azure's ``{"code", "message"}`` with a 400
and the ``x-ms-error-code`` header, the code being one of Azure's documented ones
(:data:`CODES`). The key travels in ``Ocp-Apim-Subscription-Key`` (see ``auth.py``).

Translation only: the work is done by the native operations of :mod:`anomd.timeseries`, so
both doors answer alike. These routes are not in anomd's OpenAPI document (their contract is
Azure's, and their errors are not problem details); docs/migrating-from-azure.md lists them.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import structlog
from litestar import Controller, Request, Response, post
from litestar.exceptions import HTTPException

from anomd.errors import AnomdError, Overloaded
from anomd.server.body import decode_body
from anomd.server.body_errors import BadJSON
from anomd.server.series_admission import admitted_series
from anomd.server.state import AppStateDep
from anomd.timeseries.changepoint import detect_change_points
from anomd.timeseries.errors import SeriesInputError
from anomd.timeseries.grid import SECONDS
from anomd.timeseries.options import ChangePointOptions, DetectOptions, SeriesPoint
from anomd.timeseries.univariate import detect_entire, detect_last

#: Azure's error code for a problem with each native field.
CODES = {
    "series": "InvalidSeries", "granularity": "InvalidGranularity", "custom_interval": "InvalidCustomInterval",
    "period": "InvalidPeriod", "impute_mode": "InvalidImputeMode", "impute_fixed_value": "InvalidImputeFixedValue",
    "sensitivity": "InvalidModelArgument", "max_anomaly_ratio": "InvalidModelArgument",
    "stable_trend_window": "InvalidModelArgument", "threshold": "InvalidModelArgument",
}
GRANULARITIES = ("yearly", "monthly", *SECONDS, "none")
IMPUTE_MODES = ("auto", "previous", "linear", "fixed", "zero", "notFill")
log = structlog.get_logger("anomd.server")
_FIELD_AT = re.compile(r"\$\.([A-Za-z]+)")


class _MissingSeries(SeriesInputError):
    """No ``series`` at all: Azure's ``RequiredSeries`` rather than ``InvalidSeries``."""


class AzureSeriesRequest(msgspec.Struct, kw_only=True, rename="camel"):
    """What every Azure operation sends. Each field is optional to the decoder, so that a missing
    or unknown one gets Azure's code for it rather than a generic decoding error."""

    series: list[SeriesPoint] | None = None
    granularity: str | None = None
    custom_interval: int | None = None
    period: int | None = None


class AzureDetectRequest(AzureSeriesRequest, kw_only=True, rename="camel"):
    max_anomaly_ratio: float | None = None
    sensitivity: int | None = None
    impute_mode: str | None = None
    impute_fixed_value: float | None = None


class AzureChangePointRequest(AzureSeriesRequest, kw_only=True, rename="camel"):
    stable_trend_window: int | None = None
    threshold: float | None = None


class AzureEntireResponse(msgspec.Struct, kw_only=True, rename="camel"):
    period: int
    expected_values: list[float]
    upper_margins: list[float]
    lower_margins: list[float]
    is_anomaly: list[bool]
    is_negative_anomaly: list[bool]
    is_positive_anomaly: list[bool]
    severity: list[float]


class AzureLastResponse(msgspec.Struct, kw_only=True, rename="camel"):
    period: int
    suggested_window: int
    expected_value: float
    upper_margin: float
    lower_margin: float
    is_anomaly: bool
    is_negative_anomaly: bool
    is_positive_anomaly: bool
    severity: float


class AzureChangePointResponse(msgspec.Struct, kw_only=True, rename="camel"):
    period: int
    is_change_point: list[bool]
    confidence_scores: list[float]


class AzureError(msgspec.Struct):
    code: str
    message: str


def azure_error(status: int, code: str, message: str) -> Response[AzureError]:
    return Response(AzureError(code, message), status_code=status, headers={"x-ms-error-code": code})


def on_error(request: Request, exc: Exception) -> Response[AzureError]:
    """Any failure of these routes, in Azure's shape: bad input is a 400 with a field's code."""
    if isinstance(exc, _MissingSeries):
        return azure_error(400, "RequiredSeries", exc.detail)
    if isinstance(exc, SeriesInputError):
        return azure_error(400, CODES.get(exc.field, "BadArgument"), _camel_message(exc.detail))
    if isinstance(exc, BadJSON):
        return azure_error(400, "InvalidJsonFormat", exc.detail)
    if isinstance(exc, Overloaded):  # the memory budget is held: Azure's throttling answer
        reply = azure_error(exc.status_code, "TooManyRequests", exc.detail)
        reply.headers["Retry-After"] = str(exc.retry_after)
        return reply
    if isinstance(exc, AnomdError):
        status = 400 if exc.status_code == 422 else exc.status_code
        found = _FIELD_AT.search(exc.detail)
        code = CODES.get(_snake(found.group(1)), "BadArgument") if found else "BadArgument"
        return azure_error(status, code, exc.detail)
    if isinstance(exc, HTTPException):
        return azure_error(exc.status_code, "BadArgument", str(exc.detail))
    log.exception("unhandled error", method=request.method, path=request.url.path)
    return azure_error(500, "InternalServerError", f"internal error ({type(exc).__name__}); this is a bug, please report it")


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _camel_message(detail: str) -> str:
    """Native field names in a message, as the Azure caller spells them."""
    for snake in ("custom_interval", "impute_fixed_value", "impute_mode", "max_anomaly_ratio",
                  "stable_trend_window"):
        head, *rest = snake.split("_")
        detail = detail.replace(snake, head + "".join(part.title() for part in rest))
    return detail


def _choice(value: str | None, allowed: tuple[str, ...], field: str, default: str) -> str:
    if value is None:
        return default
    for option in allowed:
        if value.lower() == option.lower():
            return option
    raise SeriesInputError(field, f"{value!r} is not one of {', '.join(allowed)}")


def _check_range(value: Any, field: str, low: float, high: float, low_open: bool = False) -> None:
    if value is not None and not (low < value <= high if low_open else low <= value <= high):
        raise SeriesInputError(field, f"{value} is out of range ({'(' if low_open else '['}{low}, {high}])")


def _common(req: AzureSeriesRequest) -> dict[str, Any]:
    if req.series is None:
        raise _MissingSeries("series", "the request has no series; send the points to detect on")
    _check_range(req.custom_interval, "custom_interval", 1, float("inf"))
    _check_range(req.period, "period", 0, float("inf"))
    # Azure's default granularity is 'none'; inferring it from the timestamps gives the same
    # answer for evenly spaced points and also places missing ones.
    granularity = _choice(req.granularity, GRANULARITIES, "granularity", "auto")
    return {"series": req.series, "granularity": granularity, "custom_interval": req.custom_interval,
            "period": req.period}


def detect_options(req: AzureDetectRequest) -> DetectOptions:
    """The native options an Azure entire/last body stands for.

    Raises:
        SeriesInputError: A missing series, an unknown granularity or impute mode, a value out of range.
    """
    common = _common(req)
    _check_range(req.sensitivity, "sensitivity", 0, 99)
    _check_range(req.max_anomaly_ratio, "max_anomaly_ratio", 0, 0.5, low_open=True)
    extra: dict[str, Any] = {k: v for k, v in (("sensitivity", req.sensitivity),
                                               ("max_anomaly_ratio", req.max_anomaly_ratio)) if v is not None}
    mode = _choice(req.impute_mode, IMPUTE_MODES, "impute_mode", "auto")
    return DetectOptions(**common, **extra, impute_mode=mode, impute_fixed_value=req.impute_fixed_value)  # type: ignore[arg-type]


def change_point_options(req: AzureChangePointRequest) -> ChangePointOptions:
    """The native options an Azure change-point body stands for."""
    common = _common(req)
    _check_range(req.stable_trend_window, "stable_trend_window", 3, 500)
    _check_range(req.threshold, "threshold", 0, 1)
    extra = {k: v for k, v in (("stable_trend_window", req.stable_trend_window),
                               ("threshold", req.threshold)) if v is not None}
    return ChangePointOptions(**common, **extra)  # type: ignore[arg-type]


class AzureController(Controller):
    path = "/anomalydetector/v1.1/timeseries"
    include_in_schema = False
    # The same keys as the app's handlers (errors.py), which they replace on these routes only.
    exception_handlers = {AnomdError: on_error, HTTPException: on_error, Exception: on_error}  # noqa: RUF012

    @post("/entire/detect", status_code=200)
    async def entire(self, request: Request, app_state: AppStateDep) -> AzureEntireResponse:
        req, _, _ = await decode_body(request, AzureDetectRequest)
        options = detect_options(req)
        r = await admitted_series(request, app_state, "entire", len(options.series), 1, detect_entire,
                                  options, app_state.service.settings.series_max_points)
        return AzureEntireResponse(period=r.period, expected_values=r.expected_values, upper_margins=r.upper_margins,
                                   lower_margins=r.lower_margins, is_anomaly=r.is_anomaly,
                                   is_negative_anomaly=r.is_negative_anomaly, is_positive_anomaly=r.is_positive_anomaly,
                                   severity=r.severity)

    @post("/last/detect", status_code=200)
    async def last(self, request: Request, app_state: AppStateDep) -> AzureLastResponse:
        req, _, _ = await decode_body(request, AzureDetectRequest)
        options = detect_options(req)
        r = await admitted_series(request, app_state, "last", len(options.series), 1, detect_last,
                                  options, app_state.service.settings.series_max_points)
        return AzureLastResponse(period=r.period, suggested_window=r.suggested_window, expected_value=r.expected_value,
                                 upper_margin=r.upper_margin, lower_margin=r.lower_margin, is_anomaly=r.is_anomaly,
                                 is_negative_anomaly=r.is_negative_anomaly, is_positive_anomaly=r.is_positive_anomaly,
                                 severity=r.severity)

    @post("/changepoint/detect", status_code=200)
    async def changepoint(self, request: Request, app_state: AppStateDep) -> AzureChangePointResponse:
        req, _, _ = await decode_body(request, AzureChangePointRequest)
        options = change_point_options(req)
        r = await admitted_series(request, app_state, "changepoint", len(options.series), 1,
                                  detect_change_points, options, app_state.service.settings.series_max_points)
        return AzureChangePointResponse(period=r.period, is_change_point=r.is_change_point,
                                        confidence_scores=r.confidence_scores)


class AzureV10Controller(AzureController):
    """The same operations at v1.0's paths, which older clients and Azure's own how-to pages use
    (v1.1 added fields, and none of v1.0's changed)."""

    path = "/anomalydetector/v1.0/timeseries"
