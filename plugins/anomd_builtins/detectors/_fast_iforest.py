"""Fast scoring for PyOD's isolation forest from packed trees.

PyOD fits (through scikit-learn) and its ``decision_scores_`` stay the training scores; the
fast path then scores with a :class:`~._packed_forest.PackedForest`, which gives the same
numbers as PyOD's ``decision_function`` (to floating-point rounding, usually bit for bit)
without scikit-learn's per-tree Python overhead. The PyOD estimator is dropped after packing:
the packed arrays are all scoring needs, so the saved artifact holds nothing twice.

No split separates a value beyond a feature's training range from the most extreme training
value (every threshold lies inside the range), so the forest's own score is capped there and
clipping would change nothing; the tail term (``_range_tails``) is added to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._packed_forest import PackedForest
from ._pyod import PyODDetector
from ._range_tails import Tail


class FastIForestDetector(PyODDetector):
    """PyOD ``IForest`` scored from packed trees unless ``fast_scoring`` is off.

    Args:
        estimator: An unfitted PyOD ``IForest``.
        fast_scoring: False keeps PyOD's estimator and its scoring path (the reference).
        tail: ``"extrapolated"`` adds the tail term beyond the training range (``_range_tails``).
    """

    def __init__(self, estimator: Any, fast_scoring: bool = True, tail: Tail = "capped") -> None:
        super().__init__(estimator, tail)
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

    def capped_score(self, X: np.ndarray) -> np.ndarray:
        if not self.fast_scoring:
            return super().capped_score(X)
        return self.forest_.score_samples(X) + self.offset_
