"""Request and response bodies of the streaming routes (see API.md, "Streaming").

Configuration fields default to ``UNSET`` rather than to their values so the server can tell a
field the client sent from one it left out: only sent fields are compared with an existing
detector's configuration (a difference is a 409), left-out ones mean "whatever it has". The
documented defaults apply when a detector is created.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from anomd.streaming.config import MAX_WINDOW

StreamId = Annotated[str, msgspec.Meta(description="Letters, digits, '-', '_', '.'; at most 128 characters.")]
Point = dict[str, Any]


class StreamRequest(msgspec.Struct, kw_only=True):
    data: Annotated[
        Point | list[Point],
        msgspec.Meta(description="One point, or a list in arrival order; each an object of numbers "
                                 "keyed by name (the first point fixes the keys)."),
    ]
    model_id: StreamId | UnsetType = UNSET
    model: Annotated[StreamId, msgspec.Meta(description="Alias of model_id.")] | UnsetType = UNSET
    backend: Annotated[str, msgspec.Meta(description="Detector id; default ecod.")] | UnsetType = UNSET
    min_samples: Annotated[int, msgspec.Meta(ge=2, description="Points before the first fit; default 50.")] | UnsetType = UNSET
    retrain_interval: Annotated[int, msgspec.Meta(ge=1, description="Scored points between retrains; default 100.")] | UnsetType = UNSET
    window_size: Annotated[int, msgspec.Meta(ge=2, le=MAX_WINDOW, description="Newest rows kept; default 1000.")] | UnsetType = UNSET
    contamination: Annotated[float, msgspec.Meta(gt=0, le=0.5, description="Expected share of anomalies; default 0.1.")] | UnsetType = UNSET
    threshold: Annotated[float | None, msgspec.Meta(description="Fixed threshold on the score scale; default learned.")] | UnsetType = UNSET
    rolling_windows: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]] | None, msgspec.Meta(description="Rolling mean/std/min/max windows, e.g. [5, 10].")] | UnsetType = UNSET
    include_lags: Annotated[bool, msgspec.Meta(description="Add lagged values; default false.")] | UnsetType = UNSET
    lag_periods: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]] | None, msgspec.Meta(description="Lags when include_lags is true; default [1].")] | UnsetType = UNSET
    transforms: Annotated[list[dict[str, Any]], msgspec.Meta(description="More transforms, e.g. [{\"transform\": \"diff\", \"periods\": [1]}].")] | UnsetType = UNSET
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
    model_version: int
    samples_collected: int
    samples_until_ready: int
    threshold: Annotated[float | None, msgspec.Meta(description="Threshold in force on the score scale; null before the first fit unless fixed.")]
    anomaly_count: Annotated[int, msgspec.Meta(description="Points of this request flagged as anomalous.")]
    warnings: list[str] = msgspec.field(default_factory=list)


class StreamListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[dict[str, Any]]
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
