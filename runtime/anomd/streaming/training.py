"""The "tock": fitting a stream's model on a snapshot of its window.

This runs off the scoring path, on a worker thread or in a worker process, so everything it
needs travels as plain picklable arguments (the backend's ``build`` function, parsed params,
the feature plan's columns and transform steps, and the window rows) and it returns a
self-contained :class:`LiveModel`. Swapping it in is one attribute assignment on the detector.

The threshold follows the batch runtime's rule (:func:`anomd.model.train`): the
``1 - contamination`` quantile of the training rows' raw scores, here the most recent
``window_size`` rows, so it follows the data as it drifts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from anomd.detectors import Detector
from anomd.errors import InvalidInput
from anomd.model import FIT_ERRORS, fit_error_reason
from anomd.normalization import ScoreScaler, agree_with_flags, finite_scores
from anomd.streaming.features import FeaturePlan, TransformStep

_FLOAT_MAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True, slots=True)
class LiveModel:
    """An immutable fitted model of a stream: detector, score scale and threshold.

    Attributes:
        version: 1 for the first fit, +1 for every retrain that landed.
        raw_threshold: Learned threshold on the raw score scale.
        threshold: The threshold on the ``score`` scale (fixed by the user, or learned).
        fixed_threshold: True when the user gave ``threshold``; flags then compare ``score``.
    """

    version: int
    detector: Detector
    scaler: ScoreScaler
    raw_threshold: float
    threshold: float
    fixed_threshold: bool
    samples_fitted: int
    training_time_ms: float
    fitted_at: float

    def score_one(self, row: Sequence[float]) -> tuple[float, float, bool]:
        """Scores one row of features: raw score, normalised score, flag.

        A detector with a ``score_row`` method (see :class:`anomd.detectors.RowScorer`) scores
        the plain floats directly, skipping the matrix round trip that dominates a tick.
        """
        score_row = getattr(self.detector, "score_row", None)
        if score_row is not None:
            raw = float(score_row(row))
        else:
            raw = float(self.detector.score(np.asarray(row, dtype=np.float64).reshape(1, -1))[0])
        if not math.isfinite(raw):  # same policy as finite_scores: unexplained = most anomalous
            raw = -_FLOAT_MAX if raw == -math.inf else _FLOAT_MAX
        z = (raw - self.scaler.median) / self.scaler.robust_scale
        score = 0.0 if z < -700.0 else 1.0 / (1.0 + math.exp(-z))
        if self.fixed_threshold:
            return raw, score, score > self.threshold
        # The decision is exact on the raw scale; keep ``score > threshold`` saying the same
        # where rounding put a score on the wrong side (see normalization.agree_with_flags).
        flag = raw > self.raw_threshold
        if flag and score <= self.threshold:
            score = math.nextafter(self.threshold, math.inf)
        elif not flag and score > self.threshold:
            score = self.threshold
        return raw, score, flag

    def score_many(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores rows (n × width): raw scores, normalised scores, flags."""
        raw = finite_scores(self.detector.score(X))
        score = self.scaler.transform(raw, "standardization")
        if self.fixed_threshold:
            return raw, score, score > self.threshold
        flags = raw > self.raw_threshold
        return raw, agree_with_flags(score, flags, self.threshold), flags


@dataclass(frozen=True, slots=True)
class FitJob:
    """Everything a fit needs, picklable so it can run in another process."""

    backend: str
    build: Callable[[Any, float], Detector]
    params: msgspec.Struct
    contamination: float
    threshold: float | None
    columns: tuple[str, ...]
    steps: tuple[TransformStep, ...]
    window_size: int


def fit_window(job: FitJob, rows: np.ndarray, version: int) -> LiveModel:
    """Builds the features of ``rows`` and fits a model on the newest ``window_size`` of them.

    Raises:
        InvalidInput: The backend cannot fit these data (its reason is passed on).
    """
    started = time.perf_counter()
    X = FeaturePlan(job.columns, job.steps).frame(rows)[-job.window_size :]
    detector = job.build(job.params, job.contamination)
    try:
        detector.fit(X)
    except FIT_ERRORS as exc:
        raise InvalidInput(
            f"backend {job.backend!r} could not fit the window: {fit_error_reason(exc)}") from None
    train_raw = finite_scores(detector.training_scores_)
    raw_threshold = float(np.quantile(train_raw, 1.0 - job.contamination))
    scaler = ScoreScaler.fit(train_raw, threshold=raw_threshold)
    fixed = job.threshold is not None
    return LiveModel(
        version=version,
        detector=detector,
        scaler=scaler,
        raw_threshold=raw_threshold,
        threshold=float(job.threshold) if fixed else scaler.transform_one(raw_threshold, "standardization"),
        fixed_threshold=fixed,
        samples_fitted=int(X.shape[0]),
        training_time_ms=round((time.perf_counter() - started) * 1000.0, 3),
        fitted_at=time.time(),
    )


def fit_window_or_error(job: FitJob, rows: np.ndarray, version: int) -> LiveModel | str:
    """:func:`fit_window` for a worker: a failure comes back as its message, not a raise.

    A plugin's exception type might not unpickle in the parent process; a string always does,
    and the detector only needs the reason to report it.
    """
    try:
        return fit_window(job, rows, version)
    except InvalidInput as exc:
        return exc.detail
    except Exception as exc:  # noqa: BLE001 - a crashing backend must not take the stream down
        return f"backend {job.backend!r} failed while retraining: {type(exc).__name__}: {exc}"


