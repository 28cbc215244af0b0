"""What is known about a stream, as one typed value (``GET /stream/{id}``, listings, checkpoints).

The detector produces it (:meth:`~anomd.streaming.StreamingAnomalyDetector.stats`); the manager
adds whether it is in memory, and a checkpoint keeps a copy in its readable header, so listings
describe an evicted stream without unpickling it. Fields added in later versions have defaults,
so the header of an older checkpoint still reads.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType


class DetectorStats(msgspec.Struct, kw_only=True, tag_field="object", tag="streaming_detector"):
    """A stream's state, counters and configuration.

    ``threshold`` is the one in force (learned or fixed); every constructor setting is in
    ``config`` under its own name.
    """

    model_id: str
    backend: Annotated[str, msgspec.Meta(description="Empty until the first point settles the pipeline.")]
    status: Annotated[str, msgspec.Meta(description="collecting, ready or retraining.")]
    is_ready: bool
    model_version: int
    samples_collected: int
    samples_until_ready: int
    total_processed: int
    samples_since_retrain: int
    min_samples: int
    retrain_interval: int
    window_size: int
    contamination: float
    threshold: float | None
    threshold_mode: str
    raw_threshold: float | None
    points_scored: int
    anomalies_detected: int
    anomaly_rate: float
    retrains_started: int
    retrains_completed: int
    retrains_failed: int
    last_fit_ms: float | None
    last_error: str | None
    columns: list[str] | None
    features: list[str] | None
    transforms: list[dict[str, Any]]
    config: dict[str, Any]
    retrain_lag: Annotated[int | None, msgspec.Meta(
        description="Points between a retrain's start and its landing (null: from a checkpoint "
                    "older than the setting)."),
    ] = None
    next_landing_at: Annotated[int | None, msgspec.Meta(
        description="total_processed after which the retrain in flight lands; null: none in flight."),
    ] = None
    pipeline: Annotated[str, msgspec.Meta(
        description="series, tabular, or auto until the first point settles it."),
    ] = "tabular"
    timestamp_field: Annotated[str | None, msgspec.Meta(
        description="The points' timestamp key; null for points without one."),
    ] = None
    last_timestamp: Annotated[str | None, msgspec.Meta(description="Time of the latest point (ISO 8601, UTC).")] = None
    late_points: Annotated[int, msgspec.Meta(
        description="Points that arrived with a time earlier than the latest (accepted, time moved up)."),
    ] = 0
    postprocessor: dict[str, Any] | None = None
    rolling_windows: list[int] | None = None
    include_lags: bool = False
    lag_periods: list[int] | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    live: Annotated[bool, msgspec.Meta(
        description="In memory; false: read from its checkpoint."),
    ] | UnsetType = UNSET
    idle_s: Annotated[float, msgspec.Meta(description="Seconds since it was last used.")] | UnsetType = UNSET
    checkpointed_at: str | UnsetType = UNSET


class UnreadableStream(msgspec.Struct, kw_only=True, tag_field="object", tag="streaming_detector_error"):
    """A checkpoint in a listing that could not be read (the others are still listed)."""

    model_id: str
    error: str
    live: bool = False
