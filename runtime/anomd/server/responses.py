"""Turning domain results into the documented response bodies."""

from __future__ import annotations

import numpy as np

from anomd.explain import Explanation
from anomd.model import FittedModel, Scores
from anomd.server.schemas import (
    DetectResponse,
    DetectSummary,
    FitResponse,
    ScorePoint,
    ScoreResponse,
    ScoreSummary,
)
from anomd.service import FitOutcome
from anomd.timeseries.series import SeriesResult
from anomd.timeseries.timestamps import iso


def model_params(model: FittedModel) -> dict:
    info = model.info
    return {
        "backend": info.backend, "contamination": info.contamination, "threshold": info.threshold,
        "raw_threshold": info.raw_threshold, "normalization": info.normalization,
        "input_dim": info.input_dim, "feature_names": info.feature_names, "params": info.params,
    }


def fit_response(outcome: FitOutcome, warnings: list[str]) -> FitResponse:
    info = outcome.model.info
    return FitResponse(
        model=info.name, backend=info.backend, samples_fitted=info.samples_fitted,
        training_time_ms=info.training_time_ms, model_params=model_params(outcome.model),
        encoder=info.encoder, saved_path=outcome.saved_path, filename=outcome.filename,
        content_hash=outcome.content_hash, warnings=warnings,
    )


def _points(scores: Scores, rows: np.ndarray, explanations: dict[int, Explanation]) -> list[ScorePoint]:
    points = list(map(ScorePoint, rows.tolist(), scores.score[rows].tolist(),
                      scores.is_anomaly[rows].tolist(), scores.raw[rows].tolist()))
    if explanations:
        for point in points:
            explained = explanations.get(point.index)
            if explained is not None:
                point.explanation = explained.contributions
                point.cause = explained.cause
    return points


def score_response(
    model: FittedModel, scores: Scores, explanations: dict[int, Explanation], warnings: list[str],
    *, points: bool = True,
) -> ScoreResponse:
    """The ``/score`` reply; ``points=False`` leaves ``data`` empty (an Arrow reply carries the
    rows as a table and only the rest in a header)."""
    n = int(scores.raw.shape[0])
    count = int(scores.is_anomaly.sum())
    return ScoreResponse(
        data=_points(scores, np.arange(n), explanations) if points else [],
        total_count=n,
        model=model.info.name,
        backend=model.info.backend,
        summary=ScoreSummary(
            total_points=n, anomaly_count=count, anomaly_rate=count / n if n else 0.0,
            threshold=scores.threshold, normalization=scores.normalization,
        ),
        warnings=warnings,
    )


def detect_response(
    model: FittedModel, scores: Scores, warnings: list[str], *, points: bool = True
) -> DetectResponse:
    n = int(scores.raw.shape[0])
    anomalous = np.flatnonzero(scores.is_anomaly)
    return DetectResponse(
        data=_points(scores, anomalous, {}) if points else [],
        total_count=int(anomalous.size),
        model=model.info.name,
        backend=model.info.backend,
        summary=DetectSummary(
            total_points=n, anomalies_detected=int(anomalous.size),
            anomaly_rate=anomalous.size / n if n else 0.0, threshold=scores.threshold,
            normalization=scores.normalization,
        ),
        training_time_ms=model.info.training_time_ms,
        warnings=warnings,
    )


def series_detect_response(result: SeriesResult, warnings: list[str], *, points: bool = True) -> DetectResponse:
    """A series' flagged rows, with their times; the summary says how the series was scored."""
    scores, stats = result.scores, result.stats
    n = int(scores.raw.shape[0])
    anomalous = np.flatnonzero(scores.is_anomaly)
    points = _points(scores, anomalous, {}) if points else []
    for point in points:
        point.timestamp = iso(float(result.times[point.index]))
    seasonal = [t for t in stats.transforms if t.get("transform") == "seasonal"]
    return DetectResponse(
        data=points,
        total_count=int(anomalous.size),
        model="detect",
        backend=stats.backend,
        summary=DetectSummary(
            total_points=n, anomalies_detected=int(anomalous.size),
            anomaly_rate=anomalous.size / n if n else 0.0, threshold=scores.threshold,
            normalization=scores.normalization, pipeline="series",
            period=seasonal[0].get("period") if seasonal else None,
            warm_up_rows=int(n - result.scored.sum()), features=list(stats.features or []),
        ),
        training_time_ms=result.elapsed_ms,
        warnings=warnings,
    )
