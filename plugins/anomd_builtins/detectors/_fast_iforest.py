"""Fast scoring for PyOD's isolation forest from packed trees.

PyOD fits (through scikit-learn) and its ``decision_scores_`` stay the training scores; the
fast path then scores with a :class:`~._packed_forest.PackedForest`, which gives the same
numbers as PyOD's ``decision_function`` (to floating-point rounding, usually bit for bit)
without scikit-learn's per-tree Python overhead. The PyOD estimator is dropped after packing:
the packed arrays are all scoring needs, so the saved artifact holds nothing twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._packed_forest import PackedForest
from ._pyod import PyODDetector


class FastIForestDetector(PyODDetector):
    """PyOD ``IForest`` scored from packed trees unless ``fast_scoring`` is off.

    Args:
        estimator: An unfitted PyOD ``IForest``.
        fast_scoring: False keeps PyOD's estimator and its scoring path (the reference).
    """

    def __init__(self, estimator: Any, fast_scoring: bool = True) -> None:
        super().__init__(estimator)
        self.fast_scoring = fast_scoring

    def fit(self, X: np.ndarray) -> FastIForestDetector:
        super().fit(X)
        if self.fast_scoring:
            forest = self.estimator.detector_
            self.forest_ = PackedForest(forest)
            # PyOD's score is scikit-learn's decision_function negated: s(x) + offset_.
            self.offset_ = float(forest.offset_)
            self.estimator = None
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        if not self.fast_scoring:
            return super().score(X)
        return self.forest_.score_samples(X) + self.offset_
