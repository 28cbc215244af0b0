"""What a checkpoint of a streaming detector holds, as one typed value.

The detector writes it (``checkpoint_state``) and reads it back (``restore_state``);
:mod:`anomd.streaming.checkpoint` seals it, with the stats in the readable header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from anomd.streaming.stats import DetectorStats
from anomd.streaming.training import LiveModel


@dataclass(frozen=True, slots=True)
class PendingFit:
    """A retrain in flight: the window snapshot it fits, and the point after which it lands."""

    rows: np.ndarray
    land_at: int


@dataclass(frozen=True, slots=True)
class DetectorState:
    """A detector's whole state: keys, window, model, counters, a retrain in flight, the
    timestamp key and latest time, and the post-processor's state."""

    columns: list[str] | None
    rows: np.ndarray | None
    model: LiveModel | None
    version: int
    total: int
    since: int
    retry_at: int
    scored: int
    flagged: int
    retrains_started: int
    retrains_completed: int
    retrains_failed: int
    last_error: str | None
    last_fit_ms: float | None
    pending: PendingFit | None
    stats: DetectorStats | None
    time_field: str | None = None
    last_time: float | None = None
    late: int = 0
    postprocessor: Any = None

    @classmethod
    def from_v1(cls, state: dict[str, Any]) -> DetectorState:
        """A state from a format-1 checkpoint (a dict; a retrain in flight was counted as due
        rather than kept, so the restored detector starts it again on its next point)."""
        fields = {name: state[name] for name in cls.__dataclass_fields__ if name in state}
        return cls(**{**fields, "pending": None, "stats": None, "time_field": None,
                      "last_time": None, "late": 0, "postprocessor": None})
