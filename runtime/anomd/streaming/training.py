"""The "tock": fitting a stream's model on a snapshot of its window.

This runs off the scoring path, on a worker thread or in a worker process, so everything it
needs travels as plain picklable arguments (the backend's ``build`` function, parsed params,
the feature plan's columns and transform steps, and the window rows) and it returns a
self-contained :class:`LiveModel`. Swapping it in is one attribute assignment on the detector.

The threshold follows the batch runtime's rule (:func:`anomd.model.train`): the
``1 - contamination`` quantile of the training rows' raw scores, here the most recent
``window_size`` rows, so it follows the data as it drifts. (A stream with a post-processor
publishes the post-processor's score and threshold instead; see ``anomd.postprocessors``.)

A model carries its own :class:`FeaturePlan`: transforms that settle options on the data (a
period) are resolved on the rows the model is fitted on, and the live features of the points it
scores use the same resolution.
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
        plan: The features this model was fitted on (transform options settled on its rows).
        raw_threshold: Learned threshold on the raw score scale.
        threshold: The threshold on the ``score`` scale (fixed by the user, or learned).
        fixed_threshold: True when the user gave ``threshold``; flags then compare ``score``.
    """

    version: int
    detector: Detector
    plan: FeaturePlan
    scaler: ScoreScaler
    raw_threshold: float
    threshold: float
    fixed_threshold: bool
    samples_fitted: int
    training_time_ms: float
    fitted_at: float

    @property
    def incremental(self) -> bool:
        """Whether the detector learns point by point between fits (``learn_row``)."""
        return hasattr(self.detector, "learn_row")

    def raw_one(self, row: Sequence[float]) -> float:
        """The raw score of one row of features (finite: unexplained = most anomalous).

        A detector with a ``score_row`` method (see :class:`anomd.detectors.RowScorer`) scores
        the plain floats directly, skipping the matrix round trip that dominates a tick.
        """
        score_row = getattr(self.detector, "score_row", None)
        if score_row is not None:
            raw = float(score_row(row))
        else:
            raw = float(self.detector.score(np.asarray(row, dtype=np.float64).reshape(1, -1))[0])
        if not math.isfinite(raw):  # same policy as finite_scores
            raw = -_FLOAT_MAX if raw == -math.inf else _FLOAT_MAX
        return raw

    def judge(self, raw: float) -> tuple[float, bool]:
        """A raw score's standardised score and flag (streams without a post-processor)."""
        z = (raw - self.scaler.median) / self.scaler.robust_scale
        score = 0.0 if z < -700.0 else 1.0 / (1.0 + math.exp(-z))
        if self.fixed_threshold:
            return score, score > self.threshold
        # The decision is exact on the raw scale; keep ``score > threshold`` saying the same
        # where rounding put a score on the wrong side (see normalization.agree_with_flags).
        flag = raw > self.raw_threshold
        if flag and score <= self.threshold:
            score = math.nextafter(self.threshold, math.inf)
        elif not flag and score > self.threshold:
            score = self.threshold
        return score, flag

    def raw_many(self, X: np.ndarray) -> np.ndarray:
        """Raw scores of rows (n × width) on the model as it is."""
        return finite_scores(self.detector.score(X))

    def judge_many(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`judge` for many raw scores."""
        score = self.scaler.transform(raw, "standardization")
        if self.fixed_threshold:
            return score, score > self.threshold
        flags = raw > self.raw_threshold
        return agree_with_flags(score, flags, self.threshold), flags


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
    timed: bool = False


def fit_window(job: FitJob, rows: np.ndarray, version: int) -> LiveModel:
    """Builds the features of ``rows`` and fits a model on the newest ``window_size`` of them.

    Raises:
        InvalidInput: The backend cannot fit these data (its reason is passed on).
    """
    started = time.perf_counter()
    plan = FeaturePlan(job.columns, job.steps, job.timed).resolved(rows)
    X = plan.frame(rows)[-job.window_size :]
    detector = job.build(job.params, job.contamination)
    tell_inputs = getattr(detector, "set_inputs", None)
    if tell_inputs is not None:  # optional: which features are the stream's own (the rest derived)
        tell_inputs(len(job.columns))
    tell_warmup = getattr(detector, "set_warmup", None)
    if tell_warmup is not None:  # optional: which rows' features are partial (see FeaturePlan.warmups)
        # The window keeps lookback - 1 rows before its newest window_size, so while it is not
        # full its first row is the series' first, and once it is, X begins past every warm-up.
        tell_warmup(plan.warmups, len(rows) - X.shape[0])
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
        plan=plan,
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


