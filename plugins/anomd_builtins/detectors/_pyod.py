"""Adapter from a PyOD estimator to the :class:`anomd.detectors.Detector` contract.

PyOD already follows the contract (``fit`` learns, ``decision_function`` gives raw scores with
higher = more anomalous). The adapter only records the training scores PyOD computes during
``fit`` (leave-one-out for the neighbour methods), which the runtime uses for the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class PyODDetector:
    """Wraps an unfitted PyOD estimator."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray) -> PyODDetector:
        self.estimator.fit(X)
        self.training_scores_ = np.asarray(self.estimator.decision_scores_, dtype=np.float64)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.decision_function(X), dtype=np.float64).reshape(-1)
