"""What a streaming detector reports: its status and the result of each point."""

from __future__ import annotations

from enum import Enum

import msgspec


class DetectorStatus(str, Enum):
    """Where a streaming detector is in its life cycle.

    ``collecting``: cold start, fewer than ``min_samples`` points seen (no scores yet).
    ``ready``: scoring every point on the current model.
    ``retraining``: scoring on the current model while a new one is fitted in the background.
    """

    COLLECTING = "collecting"
    READY = "ready"
    RETRAINING = "retraining"

    def __str__(self) -> str:
        return self.value


class StreamingResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one point.

    Attributes:
        score: Normalised score in [0, 1] (higher = more anomalous); None during cold start.
        is_anomaly: Whether the point crossed the threshold; None during cold start.
        raw_score: The backend's own score; None during cold start.
        status: The detector's status after this point.
        model_version: Version of the model that scored the point (0 before the first fit).
        samples_collected: Rows in the window after this point.
        samples_until_ready: Points still needed before scoring starts (0 once ready).
        threshold: The threshold in force on the ``score`` scale (None before the first fit
            unless a fixed threshold was given).
    """

    score: float | None
    is_anomaly: bool | None
    raw_score: float | None
    status: DetectorStatus
    model_version: int
    samples_collected: int
    samples_until_ready: int
    threshold: float | None
