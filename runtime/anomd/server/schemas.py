"""Request and response bodies of the HTTP API (see docs/api.md and API.md).

Field names are the public contract; existing clients read them, so they are not ours to
rename. Requests are decoded strictly (a string where a number belongs is an error, not a
coercion).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Cell = float | str | bool
Rows = list[list[float] | dict[str, Cell]]
ModelName = Annotated[str, msgspec.Meta(description="Letters, digits, '-', '_', '.'; at most 128 characters.")]
Contamination = Annotated[float, msgspec.Meta(gt=0, le=0.5, description="Expected share of anomalies.")]
Normalization = Literal["standardization", "zscore", "raw", "minmax"]


class FitRequest(msgspec.Struct, kw_only=True):
    data: Annotated[Rows, msgspec.Meta(description="Rows: lists of numbers, or objects matched by key name.")]
    model: ModelName = "default"
    backend: str | None = None
    contamination: Contamination = 0.1
    normalization: Normalization = "standardization"
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    epochs: Annotated[int, msgspec.Meta(ge=1)] | None = None
    batch_size: Annotated[int, msgspec.Meta(ge=1)] | None = None
    schema: dict[str, str] | None = None
    overwrite: bool = True
    description: str | None = None


class DetectRequest(FitRequest, kw_only=True):
    threshold: float | None = None


class ScoreRequest(msgspec.Struct, kw_only=True):
    data: Rows
    model: ModelName = "default"
    backend: str | None = None
    threshold: float | None = None
    normalization: Normalization | None = None
    explain: bool = False


class LoadRequest(msgspec.Struct, kw_only=True):
    model: ModelName = "default"
    backend: str | None = None


class FitResponse(msgspec.Struct, kw_only=True):
    object: str = "fit_result"
    model: str
    backend: str
    samples_fitted: int
    training_time_ms: float
    model_params: dict[str, Any]
    encoder: dict[str, Any] | None
    saved_path: str
    filename: str
    content_hash: str
    status: str = "fitted"
    warnings: list[str] = msgspec.field(default_factory=list)


class ScorePoint(msgspec.Struct, kw_only=True):
    index: int
    score: float
    is_anomaly: bool
    raw_score: float
    explanation: dict[str, float] | msgspec.UnsetType = msgspec.UNSET


class ScoreSummary(msgspec.Struct, kw_only=True):
    total_points: int
    anomaly_count: int
    anomaly_rate: float
    threshold: float
    normalization: str


class ScoreResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[ScorePoint]
    total_count: int
    model: str
    backend: str
    summary: ScoreSummary
    warnings: list[str] = msgspec.field(default_factory=list)


class DetectSummary(msgspec.Struct, kw_only=True):
    total_points: int
    anomalies_detected: int
    anomaly_rate: float
    threshold: float
    normalization: str


class DetectResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[ScorePoint]
    total_count: int
    model: str
    backend: str
    summary: DetectSummary
    training_time_ms: float
    warnings: list[str] = msgspec.field(default_factory=list)


class LoadResponse(msgspec.Struct, kw_only=True):
    object: str = "load_result"
    model: str
    backend: str
    filename: str
    is_fitted: bool = True
    threshold: float
    normalization: str
    status: str = "loaded"


class ListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[dict[str, Any]]
    total: int


class DeleteResponse(msgspec.Struct, kw_only=True):
    object: str = "delete_result"
    filename: str
    deleted: bool


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details; ``detail`` is the human-readable message."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
