"""Batch routes: fit, score, detect, load. Thin: decode, hand to the service, shape the reply."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Controller, Request, post

from anomd.docgen.curl_examples import EXAMPLES
from anomd.server.body import body_size, decode_body
from anomd.server.openapi_body import json_body
from anomd.server.responses import detect_response, fit_response, score_response
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

# Stored models are read whatever ``enabled_backends`` says: scoring and loading never answer 403.
_UNKNOWN_MODEL = (404, "Unknown model (fit it first) or backend.")
_REJECTED = (409, "The stored artifact failed its integrity check and was not loaded.")
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
          operation_class=json_body(
              FitRequest, 403, (404, "Unknown backend."),
              (409, "overwrite is false and the model exists."),
              _FIT_TOO_LARGE, 503, example=_example("POST /v1/ml/anomaly/fit")))
    async def fit(self, request: Request, app_state: AppStateDep) -> FitResponse:
        req, warnings, unknown = await decode_body(request, FitRequest)
        service = app_state.service
        params = _fit_params(service, req, unknown, warnings)
        outcome = await app_state.workers.run(
            service.fit, req.data, model=req.model, backend=req.backend,
            contamination=req.contamination, normalization=req.normalization, params=params,
            schema=req.schema, overwrite=req.overwrite, description=req.description,
            body_bytes=await body_size(request),
        )
        return fit_response(outcome, warnings)

    @post("/score", status_code=200, summary="Score rows with a fitted model",
          operation_class=json_body(
              ScoreRequest, _UNKNOWN_MODEL, _REJECTED, 503,
              example=_example("POST /v1/ml/anomaly/score")))
    async def score(self, request: Request, app_state: AppStateDep) -> ScoreResponse:
        req, warnings, _ = await decode_body(request, ScoreRequest)
        service = app_state.service
        service.check_rows(req.data)
        return await app_state.workers.run(
            service.score_explained, req.data, model=req.model, backend=req.backend,
            threshold=req.threshold, normalization=req.normalization, explain=req.explain,
            body_bytes=await body_size(request),
            reply=lambda model, scores, explained: score_response(model, scores, explained, warnings),
        )

    @post("/detect", status_code=200,
          summary="Fit on the rows and return the anomalous ones (nothing stored)",
          operation_class=json_body(
              DetectRequest, 403, (404, "Unknown backend."),
              example=_example("POST /v1/ml/anomaly/detect")))
    async def detect(self, request: Request, app_state: AppStateDep) -> DetectResponse:
        req, warnings, unknown = await decode_body(request, DetectRequest)
        service = app_state.service
        params = _fit_params(service, req, unknown, warnings)

        body_bytes = await body_size(request)

        def work():
            model, scores = service.detect(
                req.data, backend=req.backend, contamination=req.contamination,
                normalization=req.normalization, params=params, schema=req.schema,
                threshold=req.threshold, body_bytes=body_bytes,
            )
            return detect_response(model, scores, warnings)

        return await app_state.workers.run(work)

    @post("/load", status_code=200, summary="Warm a stored model into memory",
          operation_class=json_body(
              LoadRequest, _UNKNOWN_MODEL, _REJECTED, 503,
              example=_example("POST /v1/ml/anomaly/load")))
    async def load(self, request: Request, app_state: AppStateDep) -> LoadResponse:
        req, _, _ = await decode_body(request, LoadRequest)
        model, filename = await app_state.workers.run(app_state.service.load, req.model, req.backend)
        return LoadResponse(
            model=model.info.name, backend=model.info.backend, filename=filename,
            threshold=model.info.threshold, normalization=model.info.normalization,
        )
