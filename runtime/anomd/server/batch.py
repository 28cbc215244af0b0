"""Batch routes: fit, score, detect, load. Thin: decode, hand to the service, shape the reply.

Bodies are JSON, or an Arrow table with the other fields in the query string
(``arrow_body``); ``/score`` and ``/detect`` answer in Arrow when asked to (``arrow_reply``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import numpy as np
from litestar import Controller, Request, post

from anomd.docgen.curl_examples import EXAMPLES
from anomd.server.arrow_body import decode_batch_body
from anomd.server.arrow_reply import arrow_scores, wants_arrow
from anomd.server.body import body_size, decode_body
from anomd.server.openapi_body import batch_body, json_body
from anomd.server.responses import (
    detect_response,
    fit_response,
    score_response,
    series_detect_response,
)
from anomd.server.schemas import (
    DetectRequest,
    DetectResponse,
    FitRequest,
    FitResponse,
    LoadRequest,
    LoadResponse,
    ScoreRequest,
    ScoreResponse,
)
from anomd.server.state import AppStateDep
from anomd.service import AnomalyService
from anomd.timeseries.series import SeriesResult

# Stored models are read whatever ``enabled_backends`` says: scoring and loading never answer 403.
_UNKNOWN_MODEL = (404, "Unknown model (fit it first) or backend.")
_AMBIGUOUS = (409, ("No backend named and several stored models have this name (the detail lists "
                   "them), or the stored artifact failed its integrity check and was not loaded."))
_FIT_TOO_LARGE = (
    413, "The body, its row or column count, or the fitted artifact is over this server's limits."
)


def _example(route: str) -> dict[str, Any]:
    """The request body ``docs/api.md`` shows for ``route``, also published as its example."""
    body = EXAMPLES[route][2]
    if body is None:
        raise KeyError(f"the documented example of {route} has no body")
    return body


def _fit_params(service: AnomalyService, req: FitRequest, unknown: dict[str, msgspec.Raw], warnings: list[str]) -> dict[str, Any]:
    """``params`` plus the autoencoder shorthands and legacy top-level hyper-parameters.

    Old clients send e.g. ``n_estimators`` at top level; a key the backend's parameter Struct
    knows is moved into ``params`` (and said so), any other unknown key stays a warning.
    """
    params = dict(req.params)
    spec = service.detector(req.backend)
    fields = set(spec.params.__struct_fields__)
    for shorthand in ("epochs", "batch_size"):
        value = getattr(req, shorthand)
        if value is not None:
            if shorthand not in fields:
                warnings.append(f"{shorthand!r} applies to the autoencoder only and was ignored")
            else:
                params.setdefault(shorthand, value)
    for key, raw in unknown.items():
        if key in fields and key not in params:
            params[key] = msgspec.json.decode(raw)
            warnings.remove(f"unknown field {key!r} was ignored")
            warnings.append(f"top-level field {key!r} was used as params.{key}; send it inside params")
    return params


class BatchController(Controller):
    path = "/v1/ml/anomaly"
    tags: ClassVar[list[str]] = ["batch"]

    @post("/fit", status_code=200, summary="Fit a detector and persist it",
          operation_class=batch_body(
              FitRequest, 403, (404, "Unknown backend."),
              (409, "overwrite is false and the model exists."),
              _FIT_TOO_LARGE, 503, example=_example("POST /v1/ml/anomaly/fit")))
    async def fit(self, request: Request, app_state: AppStateDep) -> FitResponse:
        service = app_state.service
        req, warnings, unknown = await decode_batch_body(request, FitRequest, service.settings)
        params = _fit_params(service, req, unknown, warnings)
        outcome = await app_state.workers.run(
            service.fit, req.data, model=req.model, backend=req.backend,
            contamination=req.contamination, normalization=req.normalization, params=params,
            schema=req.schema, overwrite=req.overwrite, description=req.description,
            body_bytes=await body_size(request),
        )
        return fit_response(outcome, warnings)

    @post("/score", status_code=200, summary="Score rows with a fitted model",
          operation_class=batch_body(
              ScoreRequest, _UNKNOWN_MODEL, _AMBIGUOUS, 503, arrow_reply=True,
              example=_example("POST /v1/ml/anomaly/score")))
    async def score(self, request: Request, app_state: AppStateDep) -> ScoreResponse:
        service = app_state.service
        req, warnings, _ = await decode_batch_body(request, ScoreRequest, service.settings)
        arrow = wants_arrow(request)

        def reply(model, scores, explanations):
            # Built while the request's memory is still admitted: a large reply is part of it.
            response = score_response(model, scores, explanations, warnings, points=not arrow)
            if arrow:
                return arrow_scores(scores, np.arange(len(scores.raw)), explanations, response)
            return response

        return await app_state.workers.run(
            service.score_explained, req.data, model=req.model, backend=req.backend,
            threshold=req.threshold, normalization=req.normalization, explain=req.explain,
            body_bytes=await body_size(request), reply=reply,
        )

    @post("/detect", status_code=200,
          summary="Fit on the rows and return the anomalous ones (nothing stored)",
          operation_class=batch_body(
              DetectRequest, 403, (404, "Unknown backend."), arrow_reply=True,
              example=_example("POST /v1/ml/anomaly/detect")))
    async def detect(self, request: Request, app_state: AppStateDep) -> DetectResponse:
        service = app_state.service
        req, warnings, unknown = await decode_batch_body(request, DetectRequest, service.settings)
        params = _fit_params(service, req, unknown, warnings)
        arrow = wants_arrow(request)

        body_bytes = await body_size(request)

        def work():
            outcome = service.detect(
                req.data, backend=req.backend, contamination=req.contamination,
                normalization=req.normalization, params=params, schema=req.schema, threshold=req.threshold,
                series=req.series, timestamp_field=req.timestamp_field, body_bytes=body_bytes,
            )
            if isinstance(outcome, SeriesResult):
                reply = series_detect_response(outcome, warnings, points=not arrow)
                scores = outcome.scores
            else:
                reply = detect_response(*outcome, warnings, points=not arrow)
                scores = outcome[1]
            if arrow:
                return arrow_scores(scores, np.flatnonzero(scores.is_anomaly), {}, reply)
            return reply

        return await app_state.workers.run(work)

    @post("/load", status_code=200, summary="Warm a stored model into memory",
          operation_class=json_body(
              LoadRequest, _UNKNOWN_MODEL, _AMBIGUOUS, 503,
              example=_example("POST /v1/ml/anomaly/load")))
    async def load(self, request: Request, app_state: AppStateDep) -> LoadResponse:
        req, _, _ = await decode_body(request, LoadRequest)
        model, filename = await app_state.workers.run(app_state.service.load, req.model, req.backend)
        return LoadResponse(
            model=model.info.name, backend=model.info.backend, filename=filename,
            threshold=model.info.threshold, normalization=model.info.normalization,
        )
