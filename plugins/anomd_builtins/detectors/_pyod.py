"""Adapter from a PyOD estimator to the :class:`anomd.detectors.Detector` contract.

PyOD already follows the contract (``fit`` learns, ``decision_function`` gives raw scores with
higher = more anomalous). The adapter only records the training scores PyOD computes during
``fit`` (leave-one-out for the neighbour methods), which the runtime uses for the threshold.

It also caps scikit-learn's chunked computations (pairwise distances for metrics without a
specialised neighbour search, chunked isolation-forest scoring) at :data:`WORKING_MEMORY_MB`
instead of scikit-learn's default of 1 GB per chunk, so the memory a fit or a large batch
takes follows the backends' declared cost models (``anomd.detectors.MemoryCost``) rather than
a global default. The setting is per thread, so it never leaks into the embedding process.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np

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
    """Wraps an unfitted PyOD estimator."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray) -> PyODDetector:
        with bounded_chunks(len(X)):
            self.estimator.fit(X)
        self.training_scores_ = np.asarray(self.estimator.decision_scores_, dtype=np.float64)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        with bounded_chunks(len(X)):
            return np.asarray(self.estimator.decision_function(X), dtype=np.float64).reshape(-1)
