"""What the client returns: typed results, with the scores as NumPy columns and frames.

``fit``, ``load``, ``models``... return the server's own reply Structs (``FitResponse``,
``ModelRow``, ``ModelDetails``, ``BackendRow``), decoded strictly from JSON. Scores come back
as :class:`ScoreResult` / :class:`DetectResult`: columns (``index``, ``raw_score``, ``score``,
``is_anomaly``) as arrays, whichever format was on the wire, plus the summary; ``to_polars()``
and ``to_pandas()`` turn them into a frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Scores from ``/score`` (every row) or ``/detect`` (the flagged rows).

    Attributes:
        index: Row positions in the data sent.
        raw_score: The detector's own scores (higher = more anomalous).
        score: ``raw_score`` on the ``normalization`` scale.
        is_anomaly: ``score > threshold``.
        threshold: The threshold used, on the ``score`` scale.
        explanations: Per-feature contributions by row position (``explain=True``).
        causes: The feature each explained row's explanation names, by row position (the
            one that made it odd; see the server's ``cause``).
    """

    model: str
    backend: str
    index: np.ndarray
    raw_score: np.ndarray
    score: np.ndarray
    is_anomaly: np.ndarray
    threshold: float
    normalization: str
    total_points: int
    anomaly_count: int
    explanations: dict[int, dict[str, float]] = field(default_factory=dict)
    causes: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def anomaly_rate(self) -> float:
        return self.anomaly_count / self.total_points if self.total_points else 0.0

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        return pl.DataFrame({"index": self.index, "raw_score": self.raw_score, "score": self.score,
                             "is_anomaly": self.is_anomaly})

    def to_pandas(self) -> Any:
        """A pandas DataFrame indexed by row position (needs pandas)."""
        import pandas as pd

        return pd.DataFrame({"raw_score": self.raw_score, "score": self.score,
                             "is_anomaly": self.is_anomaly}, index=pd.Index(self.index, name="index"))


@dataclass(frozen=True, slots=True)
class DetectResult(ScoreResult):
    """``/detect``: the flagged rows only (``total_points`` were scored), and the fit's time."""

    training_time_ms: float = 0.0


class StreamPoint(msgspec.Struct, kw_only=True):
    index: int
    score: float | None
    is_anomaly: bool | None
    raw_score: float | None
    samples_until_ready: int


class StreamResult(msgspec.Struct, kw_only=True):
    """``POST /stream``: one result per point sent, and the detector's state after them."""

    model: str
    status: str
    results: list[StreamPoint]
    model_version: int
    samples_collected: int
    samples_until_ready: int
    threshold: float | None
    anomaly_count: int
    warnings: list[str] = msgspec.field(default_factory=list)


class _Point(msgspec.Struct):
    index: int
    score: float
    is_anomaly: bool
    raw_score: float
    explanation: dict[str, float] | None = None
    cause: str | None = None


class _Summary(msgspec.Struct):
    threshold: float
    normalization: str
    total_points: int
    anomaly_count: int | None = None
    anomalies_detected: int | None = None


class _ScoresReply(msgspec.Struct):
    """``/score`` and ``/detect`` replies, JSON body or Arrow ``Anomd-Summary`` header."""

    model: str
    backend: str
    summary: _Summary
    data: list[_Point] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    training_time_ms: float | None = None


def scores_from_json(body: bytes) -> ScoreResult:
    reply = msgspec.json.decode(body, type=_ScoresReply)
    points = reply.data
    explanations = {p.index: p.explanation for p in points if p.explanation is not None}
    causes = {p.index: p.cause for p in points if p.cause is not None}
    return _result(
        reply,
        np.fromiter((p.index for p in points), np.int64, len(points)),
        np.fromiter((p.raw_score for p in points), np.float64, len(points)),
        np.fromiter((p.score for p in points), np.float64, len(points)),
        np.fromiter((p.is_anomaly for p in points), np.bool_, len(points)),
        explanations,
        causes,
    )


def scores_from_arrow(body: bytes, summary: str) -> ScoreResult:
    from anomd.arrow import read_stream

    reply = msgspec.json.decode(summary, type=_ScoresReply)
    frame = read_stream(body)
    explanations: dict[int, dict[str, float]] = {}
    causes: dict[int, str] = {}
    if "explanation" in frame.columns:
        for i, text in zip(frame["index"].to_list(), frame["explanation"].to_list(), strict=True):
            if text is not None:
                explanations[i] = json.loads(text)
    if "cause" in frame.columns:
        causes = {i: c for i, c in zip(frame["index"].to_list(), frame["cause"].to_list(), strict=True)
                  if c is not None}
    return _result(
        reply, frame["index"].to_numpy(), frame["raw_score"].to_numpy(),
        frame["score"].to_numpy(), frame["is_anomaly"].to_numpy(), explanations, causes,
    )


def _result(
    reply: _ScoresReply, index: np.ndarray, raw: np.ndarray, score: np.ndarray, flags: np.ndarray,
    explanations: dict[int, dict[str, float]],
    causes: dict[int, str],
) -> ScoreResult:
    summary = reply.summary
    common = {
        "model": reply.model, "backend": reply.backend, "index": index, "raw_score": raw, "score": score,
        "is_anomaly": flags, "threshold": summary.threshold, "normalization": summary.normalization,
        "total_points": summary.total_points, "explanations": explanations, "causes": causes, "warnings": reply.warnings,
    }
    if reply.training_time_ms is not None:
        return DetectResult(**common, anomaly_count=summary.anomalies_detected or 0,
                            training_time_ms=reply.training_time_ms)
    return ScoreResult(**common, anomaly_count=summary.anomaly_count or 0)
