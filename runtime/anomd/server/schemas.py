"""Request and response bodies of the HTTP API (see docs/api.md).

Field names are the public contract; existing clients read them, so they are not ours to
rename. Requests are decoded strictly (a string where a number belongs is an error, not a
coercion).

Some rules are checked by the service rather than by the decoder, so that the error can say
what to change in the caller's own terms (``invalid model name 'a b': use ...``), not in the
decoder's. They are still part of the contract, so they are stated in the published JSON
schema with ``extra_json_schema``: a client or a fuzzer reading the OpenAPI document knows
that an empty ``data`` or a name with a space is refused (with a 422).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from anomd.backend_catalog import BackendRow
from anomd.model import ModelDetails
from anomd.model_store import ModelRow
from anomd.plugins import PluginRecord

#: Model and stream names (``anomd.names.check_name``): allowed characters, not only dots.
NAME_PATTERN = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$"
NAME_SCHEMA = {"minLength": 1, "maxLength": 128, "pattern": NAME_PATTERN}
#: Artifact filenames (``anomd.names.check_filename``): ``<model>_<backend>.joblib``, not
#: starting with a dot, at most 255 characters (the longest file name filesystems allow).
FILENAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,247}\.joblib$"

Cell = float | str | bool
Rows = list[list[float] | dict[str, Cell]]
ModelName = Annotated[str, msgspec.Meta(
    description="Letters, digits, '-', '_', '.'; at most 128 characters.",
    extra_json_schema=NAME_SCHEMA,
)]
Contamination = Annotated[float, msgspec.Meta(gt=0, le=0.5, description="Expected share of anomalies.")]
Normalization = Literal["standardization", "zscore", "raw", "minmax"]
# Descriptions below are published in the OpenAPI document and in docs/api.md.
Data = Annotated[Rows, msgspec.Meta(
    description="Rows: lists of numbers, or objects matched by key name; at least one row.",
    extra_json_schema={"minItems": 1},
)]
Backend = Annotated[
    str | None,
    msgspec.Meta(description="Detector id (see GET /backends); default: the server's default_backend (ecod)."),
]
#: The backend of a stored model: found by the model's name when left out.
StoredBackend = Annotated[
    str | None,
    msgspec.Meta(description=("Detector id of the stored model; may be left out when only one stored "
                              "model has this name (two or more: 409).")),
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
    """A ``/fit`` body (sent as is, it is accepted) plus ``threshold``; nothing is stored.

    Object rows that carry a timestamp are a series (docs/timeseries.md): scored in time order
    as a stream would have scored them, unless ``series`` is false.
    """

    model: Annotated[str, msgspec.Meta(description="Ignored: nothing is stored (the reply says \"detect\").")] = "default"
    overwrite: Annotated[bool, msgspec.Meta(description="Ignored: nothing is stored.")] = True
    description: Annotated[str | None, msgspec.Meta(description="Ignored: nothing is stored.")] = None
    threshold: Annotated[
        float | None,
        msgspec.Meta(description="Decision threshold on the `score` scale; default: learned from contamination."),
    ] = None
    contamination: Annotated[Annotated[float, msgspec.Meta(gt=0, le=0.5)] | None, msgspec.Meta(description=(
        "Expected share of anomalies; default 0.1, or 0.01 for a series."))] = None
    series: Annotated[bool | None, msgspec.Meta(description=(
        "Score the rows as a time series (in time order, each on what came before): default when "
        "the rows carry a timestamp; false scores them as a table, the timestamp left out."))] = None
    timestamp_field: Annotated[Annotated[str, msgspec.Meta(min_length=1)] | None, msgspec.Meta(description=(
        "The rows' timestamp key (ISO 8601 or epoch seconds/milliseconds); default: the server's "
        "timestamp_field, `timestamp`."))] = None


class ScoreRequest(msgspec.Struct, kw_only=True):
    data: Data
    model: ModelName = "default"
    backend: StoredBackend = None
    threshold: Annotated[
        float | None,
        msgspec.Meta(description="Override of the model's threshold, on the `score` scale (0.0 is valid)."),
    ] = None
    normalization: Annotated[
        Normalization | None, msgspec.Meta(description="Score scale of this reply; default: the model's.")
    ] = None
    explain: Annotated[
        bool, msgspec.Meta(description="Add per-feature contributions and the cause to the anomalous rows.")
    ] = False


class LoadRequest(msgspec.Struct, kw_only=True):
    model: ModelName = "default"
    backend: StoredBackend = None


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


class ScorePoint(msgspec.Struct, gc=False):
    """One scored row. Positional (the reply builds 10,000 of them with one ``map``) and left
    out of the garbage collector's tracking (it holds no references that could form a cycle),
    which together halve the cost of a large JSON reply."""

    index: int
    score: float
    is_anomaly: bool
    raw_score: float
    explanation: Annotated[dict[str, float], msgspec.Meta(
        description="With explain: how much the raw score falls when each feature alone is set to "
        "its training median, largest first.",
    )] | msgspec.UnsetType = msgspec.UNSET
    cause: Annotated[str, msgspec.Meta(
        description="With explain: the feature with the largest contribution; contributions that "
        "tie (saturated scores) are ordered by the feature's robust distance from its training median.",
    )] | msgspec.UnsetType = msgspec.UNSET
    timestamp: Annotated[str, msgspec.Meta(description="A series row's time (ISO 8601, UTC).")] | UnsetType = UNSET


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
    normalization: Annotated[str, msgspec.Meta(description="The score's scale; `calibrated` for a series.")]
    pipeline: Annotated[str, msgspec.Meta(description="`series` or `tabular`.")] = "tabular"
    period: Annotated[int | None, msgspec.Meta(description=(
        "A series: the period found (points per cycle; 0 none)."))] | UnsetType = UNSET
    warm_up_rows: Annotated[int, msgspec.Meta(description=(
        "A series: its first rows, not scored (score 0) while the stream learns."))] | UnsetType = UNSET
    features: Annotated[list[str], msgspec.Meta(description="A series: what each point was scored on.")] | UnsetType = UNSET


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


# -- replies made of the domain's own types --------------------------------------------------
# The rows come typed from the model store, the backend catalogue and the plugin host; these
# wrap them. Fields may be added in later versions, which is why none forbids unknown fields.


class ModelListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[ModelRow]
    total: int


#: ``GET /models/{filename}`` replies with the domain's own type.
ModelInfoResponse = ModelDetails


class BackendListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[BackendRow]
    total: int


class PluginListResponse(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[PluginRecord]
    total: int


class IndexResponse(msgspec.Struct, kw_only=True):
    """``GET /``: what this server is and where to go next."""

    name: str = "anomd"
    version: str
    docs: Annotated[str, msgspec.Meta(description="Interactive API documentation.")] = "/schema"
    openapi: str = "/schema/openapi.json"
    health: str = "/health"
    api: Annotated[str, msgspec.Meta(description="Prefix of every anomaly-detection route.")] = "/v1/ml/anomaly"
    ui: Annotated[str | None, msgspec.Meta(
        description="The operator dashboard; null where this server does not serve it.")] = None


class HealthResponse(msgspec.Struct, kw_only=True):
    status: Literal["ok"]
    version: str
    uptime_s: float
    storage: Annotated[dict[str, Any], msgspec.Meta(description="The storage backend and where it keeps models.")]
    backends: int
    plugin_failures: int
    warmed_up: bool


class ReadyCheck(msgspec.Struct, kw_only=True):
    ok: bool
    error: str | UnsetType = UNSET
    latency_ms: Annotated[float, msgspec.Meta(description="storage: how long the probe took.")] | UnsetType = UNSET
    backends: Annotated[int, msgspec.Meta(description="plugins: registered detectors.")] | UnsetType = UNSET
    failures: Annotated[list[str], msgspec.Meta(description="plugins: what failed to load.")] | UnsetType = UNSET


class ReadyResponse(msgspec.Struct, kw_only=True):
    """``GET /ready``: the same body with 200 (ready) and 503 (not ready)."""

    status: Literal["ready", "not ready"]
    warmed_up: bool
    checks: dict[str, ReadyCheck]
