"""Adapter from a PyOD estimator to the :class:`anomd.detectors.Detector` contract.

PyOD already follows the contract (``fit`` learns, ``decision_function`` gives raw scores with
higher = more anomalous). The adapter records the training scores PyOD computes during ``fit``
(leave-one-out for the neighbour methods), which the runtime uses for the threshold, and, for
the detectors that take a ``tail`` parameter, adds the tail term beyond the training range
(see ``_range_tails``).

It also caps scikit-learn's chunked computations (pairwise distances for metrics without a
specialised neighbour search, chunked isolation-forest scoring) at :data:`WORKING_MEMORY_MB`
instead of scikit-learn's default of 1 GB per chunk, so the memory a fit or a large batch
takes follows the backends' declared cost models (``anomd.detectors.MemoryCost``) rather than
a global default. The setting is per thread, so it never leaks into the embedding process.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np

from anomd.normalization import ScoreScaler

from ._range_tails import BeyondRange, RangeTails, Tail

#: Largest temporary chunk, in MB, scikit-learn may allocate inside a fit or a batch score.
WORKING_MEMORY_MB = 64
#: Batches up to this many rows cannot reach the cap; they skip the (microseconds of) setup.
_SMALL_BATCH = 256


def bounded_chunks(rows: int) -> Any:
    """scikit-learn's configuration with chunks capped, for work on ``rows`` rows."""
    if rows <= _SMALL_BATCH:
        return nullcontext()
    import sklearn

    return sklearn.config_context(working_memory=WORKING_MEMORY_MB)


class PyODDetector:
    """Wraps an unfitted PyOD estimator.

    Args:
        estimator: The unfitted PyOD estimator.
        tail: ``"extrapolated"`` adds the tail term beyond the training range; ``"capped"``
            keeps the estimator's own scores everywhere.
    """

    #: Raw score per nat of tail; None: the training scores' robust spread / sqrt(d) (for
    #: detectors whose scores are not sums of log-probabilities; see ``_range_tails``).
    nats_to_score: ClassVar[float | None] = None
    #: Score values beyond the training range as if on its end, so the tail term alone decides
    #: how the score grows there (for detectors whose own view there is unreliable).
    clip_beyond_range: ClassVar[bool] = False
    #: The fitted tail, or None for the capped view. A class default: models pickled before
    #: tails existed load and score as they did.
    beyond_: BeyondRange | None = None

    def __init__(self, estimator: Any, tail: Tail = "capped") -> None:
        self.estimator = estimator
        self.tail = tail

    def fit(self, X: np.ndarray) -> PyODDetector:
        self.fit_estimator(X)
        if self.tail == "extrapolated":
            self.beyond_ = BeyondRange(RangeTails(X), self._score_per_nat(X), self.clip_beyond_range)
        return self

    def fit_estimator(self, X: np.ndarray) -> None:
        """Fits the scoring model itself (without the tail) and sets ``training_scores_``."""
        with bounded_chunks(len(X)):
            self.estimator.fit(X)
        self.training_scores_ = np.asarray(self.estimator.decision_scores_, dtype=np.float64)

    def score(self, X: np.ndarray) -> np.ndarray:
        beyond = self.beyond_
        if beyond is None:
            return self.capped_score(X)
        return beyond.score(self.capped_score, X)

    def capped_score(self, X: np.ndarray) -> np.ndarray:
        """The estimator's own scores, without the tail term."""
        with bounded_chunks(len(X)):
            return np.asarray(self.estimator.decision_function(X), dtype=np.float64).reshape(-1)

    def _score_per_nat(self, X: np.ndarray) -> float:
        if self.nats_to_score is not None:
            return self.nats_to_score
        spread = ScoreScaler.fit(self.training_scores_).robust_scale
        return spread / math.sqrt(max(1, X.shape[1]))
