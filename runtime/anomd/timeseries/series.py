"""Batch detection over a series: rows with timestamps, scored as if they had streamed in.

``/detect``, ``anomd.detect`` and ``anomd detect FILE`` get rows all at once, but when the rows
carry a timestamp they are a time series, and an anomaly is "unusual for its moment given what
came before", not "unusual among all rows". So the rows are put in time order and replayed
through a stream with the time-series pipeline (:mod:`anomd.streaming.pipelines`), each row
scored on what preceded it, exactly as a live stream would have scored it; the results come
back in the request's row order, with each row's time. The first rows of the series are its
warm-up (the stream's ``min_samples``): they are not scored (score 0, never flagged), and the
reply says how many.

Rows are objects of numbers keyed by name plus the timestamp field (ISO 8601 or epoch seconds or
milliseconds); a string anywhere else is refused, as a stream would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from anomd.admission import MemoryBudget, MemoryEstimate
from anomd.errors import InvalidInput
from anomd.model import Scores
from anomd.settings import Settings
from anomd.streaming.executors import InlineExecutor
from anomd.streaming.stats import DetectorStats
from anomd.timeseries.timestamps import parse

#: Name the replayed stream carries in errors and stats.
STREAM_NAME = "detect"
#: Bytes per row the replay holds beyond a stream batch's estimate (measured: a 20,000-row
#: series of two fields grew a server by 36.6-40.3 MB where the stream estimate said 23.4 MB).
_REPLAY_ROW = 1_200


@dataclass(frozen=True, slots=True)
class SeriesResult:
    """A series scored point by point, in the order the rows were given.

    Attributes:
        scores: Raw scores, published scores and flags (0 and False for warm-up rows).
        times: Each row's time, seconds since the epoch (UTC).
        scored: Which rows were scored (the warm-up rows are not).
        stats: The replayed stream's stats: pipeline, detector, settled period, features.
        elapsed_ms: How long the replay took.
    """

    scores: Scores
    times: np.ndarray
    scored: np.ndarray
    stats: DetectorStats
    elapsed_ms: float


def is_series(rows: Any, time_field: str) -> bool:
    """Whether ``rows`` are objects that carry ``time_field`` (the first row decides)."""
    return isinstance(rows, Sequence) and len(rows) > 0 and isinstance(rows[0], Mapping) and time_field in rows[0]


def detect_series(
    rows: Sequence[Mapping[str, Any]],
    *,
    time_field: str = "timestamp",
    backend: str | None = None,
    contamination: float | None = None,
    threshold: float | None = None,
    params: Mapping[str, Any] | None = None,
    plugins: Any = None,
    settings: Settings | None = None,
    memory: MemoryBudget | None = None,
    body_bytes: int = 0,
) -> SeriesResult:
    """Scores a series of timestamped rows as a stream with the time-series pipeline would.

    Args:
        rows: Objects of numbers keyed by name, each with ``time_field``.
        backend, contamination, threshold, params: As for a stream (defaults: the pipeline's).
        plugins, settings: Where backends come from and the operator's rules for them.
        memory: The budget the replay is admitted against (a server's), estimated from the
            rows, the pipeline's feature width and window and the backend's cost model;
            ``body_bytes`` is the request body that is alive meanwhile.

    Raises:
        InvalidInput: A row without a readable timestamp, a non-numeric value, too few rows.
        TooLarge, Overloaded: Over ``memory``'s limit (413), or its budget is taken (503).
    """
    from anomd.streaming.detector import StreamingAnomalyDetector

    if not rows:
        raise InvalidInput("data is empty; send at least one row")
    times = np.array([parse(_time_of(row, i, time_field), f"row {i}, {time_field!r}") for i, row in enumerate(rows)])
    order = np.argsort(times, kind="stable")
    started = time.perf_counter()
    detector = StreamingAnomalyDetector(
        STREAM_NAME, pipeline="series", timestamp_field=time_field, backend=backend,
        contamination=contamination, threshold=threshold, params=dict(params or {}),
        plugins=plugins, settings=settings, executor=InlineExecutor(),
    )
    ordered = [rows[i] for i in order.tolist()]
    needed = detector.config.min_samples or 1
    if len(rows) < needed:
        raise InvalidInput(
            f"a series needs at least {needed} rows to score any (its first {needed - 1} are its "
            f"warm-up); got {len(rows)}"
        )
    try:
        admitted = nullcontext() if memory is None else memory.admit(replay_estimate(detector, ordered, body_bytes))
        with admitted:
            out = detector.process_many(ordered)
    except InvalidInput as exc:
        raise InvalidInput(_in_request_order(exc.detail, order)) from None
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    n = len(rows)
    raw, score, flag, scored = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    raw[order] = np.where(out.scored, out.raw, 0.0)
    score[order] = np.where(out.scored, out.score, 0.0)
    flag[order] = out.flag & out.scored
    scored[order] = out.scored
    stats = detector.stats()
    scores = Scores(raw=raw, score=score, is_anomaly=flag, threshold=float(detector.threshold_in_force or 0.0),
                    normalization="calibrated", times=times)
    return SeriesResult(scores, times, scored, stats, round(elapsed_ms, 3))


def replay_estimate(detector: Any, rows: Sequence[Mapping[str, Any]], body_bytes: int) -> MemoryEstimate:
    """The stream's estimate for feeding ``rows`` plus what the replay itself keeps per row
    (the rows in time order, their parsed times, the per-row results in request order)."""
    estimate = detector.memory_estimate(rows, body_bytes)
    parts = {**estimate.parts, "series replay": len(rows) * _REPLAY_ROW}
    return msgspec.structs.replace(estimate, operation="series detect", parts=parts)


def _time_of(row: Any, i: int, time_field: str) -> Any:
    if not isinstance(row, Mapping):
        raise InvalidInput(f"row {i} is not an object; a series' rows are objects with {time_field!r}")
    if time_field not in row:
        raise InvalidInput(f"row {i}: missing {time_field!r}; every row of a series needs its timestamp")
    return row[time_field]


def _in_request_order(detail: str, order: np.ndarray) -> str:
    """A stream error names points in time order; name the request's row instead."""
    if detail.startswith("point "):
        head, _, rest = detail.partition(":")
        index = head.removeprefix("point ").strip()
        if index.isdigit() and int(index) < len(order):
            return f"row {int(order[int(index)])}:{rest}"
    return detail
