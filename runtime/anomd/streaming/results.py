"""What a streaming detector reports: its status and the result of each point."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import msgspec
import numpy as np


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


_STATUSES = (DetectorStatus.COLLECTING, DetectorStatus.READY, DetectorStatus.RETRAINING)


@dataclass(slots=True)
class BatchOutcome:
    """Per-point results of a batch as arrays (what the HTTP layer serialises).

    ``raw``/``score`` are NaN and ``flag`` is False where a point was not scored (cold start);
    ``scored`` says which points were.
    """

    raw: np.ndarray
    score: np.ndarray
    flag: np.ndarray
    scored: np.ndarray
    until_ready: np.ndarray
    version: np.ndarray
    status: np.ndarray
    collected: np.ndarray
    thresholds: np.ndarray
    threshold: float | None

    def results(self) -> list[StreamingResult]:
        raw, score, flag = self.raw.tolist(), self.score.tolist(), self.flag.tolist()
        scored, until = self.scored.tolist(), self.until_ready.tolist()
        version, status, collected = self.version.tolist(), self.status.tolist(), self.collected.tolist()
        thresholds = [None if math.isnan(t) else t for t in self.thresholds.tolist()]
        return [
            StreamingResult(
                score=score[i] if scored[i] else None,
                is_anomaly=flag[i] if scored[i] else None,
                raw_score=raw[i] if scored[i] else None,
                status=_STATUSES[status[i]],
                model_version=version[i],
                samples_collected=collected[i],
                samples_until_ready=until[i],
                threshold=thresholds[i],
            )
            for i in range(len(raw))
        ]
