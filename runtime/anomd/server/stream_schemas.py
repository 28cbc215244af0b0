"""Request and response bodies of the streaming routes (see docs/api.md and docs/streaming.md).

Configuration fields default to ``UNSET`` rather than to their values so the server can tell a
field the client sent from one it left out: only sent fields are compared with an existing
detector's configuration (a difference is a 409), left-out ones mean "whatever it has". The
documented defaults apply when a detector is created.

As in ``schemas.py``, rules the streaming engine checks itself (point values are finite numbers,
ids follow the model-name rule) are stated in the published schema with ``extra_json_schema``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.spec import Example
from litestar.params import PathParameter
from msgspec import UNSET, UnsetType

from anomd.server.schemas import NAME_SCHEMA
from anomd.streaming.config import MAX_WINDOW
from anomd.streaming.points import MAX_COLUMNS
from anomd.streaming.stats import DetectorStats, UnreadableStream

StreamId = Annotated[str, msgspec.Meta(
    description="Letters, digits, '-', '_', '.'; at most 128 characters; not 'detectors'.",
    extra_json_schema=NAME_SCHEMA,
)]
#: A stream id in a path. Its pattern is published but checked by the route (``stream_id``),
#: so a bad id gets a 422 that says what an id looks like, not Litestar's generic 400.
StreamIdPath = Annotated[str, PathParameter(
    description="The stream's id: letters, digits, '-', '_', '.'; at most 128 characters.",
    schema_extra=NAME_SCHEMA,
    examples=[Example(value="my-sensor")],
)]
#: Decoded as any object so ``anomd.streaming.points`` can name the bad key and point index.
#: Values are numbers, but for the timestamp (a string or a number).
Point = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={
    "minProperties": 1, "maxProperties": MAX_COLUMNS,
    "propertyNames": {"minLength": 1}, "additionalProperties": {"type": ["number", "string"]},
})]
Transform = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={
    "required": ["transform"], "properties": {"transform": {"type": "string"}},
})]
Postprocessor = Annotated[dict[str, Any], msgspec.Meta(extra_json_schema={
    "required": ["postprocessor"], "properties": {"postprocessor": {"type": "string"}},
})]


class StreamRequest(msgspec.Struct, kw_only=True):
    data: Annotated[
        Point | Annotated[list[Point], msgspec.Meta(extra_json_schema={"minItems": 1})],
        msgspec.Meta(description="One point, or a list in arrival order; each an object of numbers "
                                 "keyed by name (the first point fixes the keys)."),
    ]
    model_id: StreamId | UnsetType = UNSET
    model: Annotated[StreamId, msgspec.Meta(description="Alias of model_id.")] | UnsetType = UNSET
    pipeline: Annotated[Literal["auto", "series", "tabular"], msgspec.Meta(description=(
        "Defaults for every field left out: series (points with a timestamp: seasonal and level "
        "surprise, calibrated, one alert per episode) or tabular; auto (default): series when the "
        "first point has a timestamp."))] | UnsetType = UNSET
    timestamp_field: Annotated[str, msgspec.Meta(min_length=1, description=(
        "The points' timestamp key (ISO 8601 or epoch seconds/milliseconds); never a feature. "
        "Default timestamp."))] | UnsetType = UNSET
    late_points: Annotated[Literal["accept", "reject"], msgspec.Meta(description=(
        "A point earlier than the stream's latest: accept (default; processed in arrival order, its "
        "time moved up to the latest) or reject (422)."))] | UnsetType = UNSET
    backend: Annotated[str, msgspec.Meta(description="Detector id; default surprise (series) or ecod (tabular).")] | UnsetType = UNSET
    min_samples: Annotated[int, msgspec.Meta(ge=2, description="Points before the first fit; default 30 (series) or 50.")] | UnsetType = UNSET
    retrain_interval: Annotated[int, msgspec.Meta(ge=1, description="Points learned between retrains; default 500 (series) or 100.")] | UnsetType = UNSET
    retrain_lag: Annotated[Annotated[int, msgspec.Meta(ge=0, le=MAX_WINDOW)] | None, msgspec.Meta(description=(
        "Points between a retrain's start and the point after which it is swapped in (waiting "
        "for it there if needed), so replays give the same results; default retrain_interval."))] | UnsetType = UNSET
    window_size: Annotated[int, msgspec.Meta(ge=2, le=MAX_WINDOW, description="Newest rows kept; default 1000.")] | UnsetType = UNSET
    contamination: Annotated[float, msgspec.Meta(gt=0, le=0.5, description="Expected share of anomalies; default 0.01 (series) or 0.1.")] | UnsetType = UNSET
    threshold: Annotated[float | None, msgspec.Meta(description="Fixed threshold on the score scale; default learned.")] | UnsetType = UNSET
    rolling_windows: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]] | None, msgspec.Meta(description="Rolling mean/std/min/max windows, e.g. [5, 10].")] | UnsetType = UNSET
    include_lags: Annotated[bool, msgspec.Meta(description="Add lagged values; default false.")] | UnsetType = UNSET
    lag_periods: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]] | None, msgspec.Meta(description="Lags when include_lags is true; default [1].")] | UnsetType = UNSET
    transforms: Annotated[list[Transform], msgspec.Meta(description="Transforms, e.g. [{\"transform\": \"diff\", \"periods\": [1]}]; default: the pipeline's.")] | UnsetType = UNSET
    postprocessor: Annotated[Postprocessor, msgspec.Meta(description=(
        "Raw scores to published scores, e.g. {\"postprocessor\": \"likelihood\"}; default episode "
        "(series) or none."))] | UnsetType = UNSET
    params: Annotated[dict[str, Any], msgspec.Meta(description="The backend's hyper-parameters.")] | UnsetType = UNSET


class StreamPoint(msgspec.Struct, kw_only=True, omit_defaults=False):
    index: int
    score: float | None
    is_anomaly: bool | None
    raw_score: float | None
    samples_until_ready: int


class StreamResponse(msgspec.Struct, kw_only=True):
    object: str = "streaming_result"
    model: str
    status: Annotated[str, msgspec.Meta(description="collecting, ready or retraining (after the last point).")]
    results: list[StreamPoint]
    model_version: Annotated[int, msgspec.Meta(description=(
        "Version of the detector's model after the last point (0 before the first fit); a "
        "retrain that lands right after the last point counts."))]
    samples_collected: int
    samples_until_ready: int
    threshold: Annotated[float | None, msgspec.Meta(description="Threshold in force after the last point, on the score scale; null before the first fit unless fixed.")]
    anomaly_count: Annotated[int, msgspec.Meta(description="Points of this request flagged as anomalous.")]
    warnings: list[str] = msgspec.field(default_factory=list)


class StreamListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: Annotated[list[DetectorStats | UnreadableStream], msgspec.Meta(
        description="Each detector as GET /stream/{model_id} describes it; a checkpoint that "
                    "cannot be read is listed with its model_id and an error "
                    "(object: streaming_detector_error).")]
    total: int
    streaming: Annotated[dict[str, Any], msgspec.Meta(
        description="Limits, eviction and restore counters, and the retrain pool (mode, workers, processes_ready).")]


class ResetResponse(msgspec.Struct, kw_only=True):
    object: str = "reset_result"
    model: str
    status: str = "collecting"
    reset: bool = True


class StreamDeleteResponse(msgspec.Struct, kw_only=True):
    object: str = "delete_result"
    model: str
    deleted: bool = True
