"""What a streaming detector reports: its status and the result of each point."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from enum import Enum
from typing import Any

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


def _itself(self: Any) -> Generator[None, None, Any]:
    """``await result`` gives the result at once. anomd 0.1's ``process`` and ``process_batch``
    were coroutines; with this, code that awaits them keeps working now that they are not."""
    yield from ()
    return self


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

    __await__ = _itself


class StreamingResults(list):
    """The results of a batch, one per point; awaitable for code written for anomd 0.1."""

    __await__ = _itself


#: ``BatchOutcome.status`` codes.
COLLECTING, READY, RETRAINING = 0, 1, 2
_STATUSES = (DetectorStatus.COLLECTING, DetectorStatus.READY, DetectorStatus.RETRAINING)


@dataclass(slots=True)
class BatchOutcome:
    """Per-point results of a batch as arrays (what the HTTP layer serialises).

    ``raw``/``score`` are NaN and ``flag`` is False where a point was not scored (cold start);
    ``scored`` says which points were. ``version``/``thresholds`` are those of the model that
    scored each point; ``model_version``/``threshold`` are the detector's after the batch (a
    retrain may land right after the last point).
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
    model_version: int = 0

    @classmethod
    def empty(cls, n: int, threshold: float | None) -> BatchOutcome:
        """``n`` points, none scored yet; ``threshold``: the fixed one, if any."""
        return cls(
            raw=np.full(n, np.nan), score=np.full(n, np.nan), flag=np.zeros(n, dtype=bool),
            scored=np.zeros(n, dtype=bool), until_ready=np.zeros(n, dtype=np.int64),
            version=np.zeros(n, dtype=np.int64), status=np.zeros(n, dtype=np.int8),
            collected=np.zeros(n, dtype=np.int64),
            thresholds=np.full(n, np.nan if threshold is None else threshold), threshold=threshold,
        )

    def results(self) -> StreamingResults:
        raw, score, flag = self.raw.tolist(), self.score.tolist(), self.flag.tolist()
        scored, until = self.scored.tolist(), self.until_ready.tolist()
        version, status, collected = self.version.tolist(), self.status.tolist(), self.collected.tolist()
        thresholds = [None if math.isnan(t) else t for t in self.thresholds.tolist()]
        return StreamingResults(
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
        )
