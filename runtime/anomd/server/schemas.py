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
# Descriptions below are published in the OpenAPI document and in docs/api.md.
Data = Annotated[Rows, msgspec.Meta(description="Rows: lists of numbers, or objects matched by key name.")]
Backend = Annotated[
    str | None,
    msgspec.Meta(description="Detector id (see GET /backends); default: the server's default_backend (ecod)."),
]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class FitRequest(msgspec.Struct, kw_only=True):
    data: Data
    model: ModelName = "default"
    backend: Backend = None
    contamination: Contamination = 0.1
    normalization: Annotated[
        Normalization, msgspec.Meta(description="How raw detector scores become `score`.")
    ] = "standardization"
    params: Annotated[
        dict[str, Any],
        msgspec.Meta(description="The backend's hyper-parameters, checked against its schema in GET /backends."),
    ] = msgspec.field(default_factory=dict)
    epochs: Annotated[PositiveInt | None, msgspec.Meta(description="Autoencoder shorthand for params.epochs.")] = None
    batch_size: Annotated[
        PositiveInt | None, msgspec.Meta(description="Autoencoder shorthand for params.batch_size.")
    ] = None
    schema: Annotated[
        dict[str, str] | None,
        msgspec.Meta(description="Object rows: column -> numeric, boolean or categorical; inferred when absent."),
    ] = None
    overwrite: Annotated[bool, msgspec.Meta(description="false: refuse (409) if the model exists.")] = True
    description: Annotated[str | None, msgspec.Meta(description="Free text stored with the model.")] = None


class DetectRequest(FitRequest, kw_only=True):
    threshold: Annotated[
        float | None,
        msgspec.Meta(description="Decision threshold on the `score` scale; default: learned from contamination."),
    ] = None


class ScoreRequest(msgspec.Struct, kw_only=True):
    data: Data
    model: ModelName = "default"
    backend: Backend = None
    threshold: Annotated[
        float | None,
        msgspec.Meta(description="Override of the model's threshold, on the `score` scale (0.0 is valid)."),
    ] = None
    normalization: Annotated[
        Normalization | None, msgspec.Meta(description="Score scale of this reply; default: the model's.")
    ] = None
    explain: Annotated[
        bool, msgspec.Meta(description="Add per-feature contributions to the anomalous rows.")
    ] = False


class LoadRequest(msgspec.Struct, kw_only=True):
    model: ModelName = "default"
    backend: Backend = None


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
