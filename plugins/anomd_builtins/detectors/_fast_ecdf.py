"""Fast scoring for ECOD and COPOD from an ECDF sketch instead of the training matrix.

PyOD fits (its ``decision_scores_`` stay the reference training scores); afterwards the
detector keeps only a :class:`~._ecdf_sketch.ECDFSketch` and the sign of each column's
training skewness, and drops the PyOD estimator, which holds the training matrix and four
more matrices of the same size. Scoring costs O(d log k) per row whatever the training size.

With ``fast_scoring`` (the default) PyOD is not used at all: the training scores it would
compute are computed the same way by ``_ecdf_training``, so fitting imports neither PyOD nor
scikit-learn. With it off, PyOD fits and scores (the reference).

Semantics: PyOD's ``decision_function`` ranks the new rows *together with* the training rows
and with each other, so a row's score depends on the other rows of its batch. Here each value
is ranked against the training rows alone. A value not present in the training column is
ranked as if it were the only new row — exactly PyOD's computation for a one-row batch, up to
the sketch's interpolation (the skewness sign recomputed with the row appended, as PyOD does;
see ``_appended_skew``). A value present in the training column (exact ties; duplicates of
training rows; categories) scores as the training rows holding it did in PyOD's fit: the
training ECDF and the training skewness sign. So a row scores the same alone, in a batch of
ten or of ten thousand; re-scoring the training data gives PyOD's training scores, whose
quantile set the threshold; and the fidelity tests measure the difference to PyOD's batch
scores.

The per-feature scores follow the papers and PyOD's code: ``U_l = -log F(x)``,
``U_r = -log (1 - F(x-))`` estimated empirically; a column with negative skewness uses the
left tail as its "skewness-corrected" score, positive skewness the right tail, and exactly
zero skewness (e.g. a constant column) both added, as PyOD's sign arithmetic gives.
ECOD takes ``max(U_l, U_r, U_skew)`` per feature, COPOD ``max(U_skew, (U_l + U_r) / 2)``.

Beyond a column's training range those tail probabilities stop falling (a value past the
maximum ranks like the maximum); with ``tail="extrapolated"`` the row's score adds the tail
model's nats of every value beyond its range (``_range_tails``), on both paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ._appended_skew import AppendedSkew
from ._ecdf_row import MAX_FEATURES, ECDFRowScorer
from ._ecdf_sketch import ECDFSketch
from ._ecdf_training import training_scores
from ._pyod import PyODDetector
from ._range_tails import Tail

Rule = Literal["ecod", "copod"]


def combine_tails(left: np.ndarray, right: np.ndarray, signs: np.ndarray, rule: Rule) -> np.ndarray:
    """Row scores from tail probabilities, per ECOD's or COPOD's combination rule."""
    u_left = -np.log(left)
    u_right = -np.log(right)
    # sign -1 -> left tail, +1 -> right tail, 0 -> both (PyOD's sign(s-1), sign(s+1) arithmetic).
    u_skew = u_left * (signs <= 0) + u_right * (signs >= 0)
    if rule == "ecod":
        per_feature = np.maximum(np.maximum(u_left, u_right), u_skew)
    else:
        per_feature = np.maximum(u_skew, (u_left + u_right) / 2.0)
    return per_feature.sum(axis=1)


class ECDFTailDetector(PyODDetector):
    """ECOD or COPOD scored from a sketch; with ``fast_scoring`` off, PyOD fits and scores.

    Args:
        estimator: An unfitted PyOD ``ECOD`` or ``COPOD``; None with ``fast_scoring``.
        rule: Which combination rule applies (``estimator``'s).
        fast_scoring: False keeps PyOD's estimator and its scoring path (the reference).
        tail: ``"extrapolated"`` adds the tail's nats beyond the training range; ``"capped"``
            keeps PyOD's scores there.
    """

    #: The scores are sums of ``-log`` tail probabilities: a tail nat adds as it is.
    nats_to_score = 1.0

    def __init__(self, estimator: Any, rule: Rule, fast_scoring: bool = True, tail: Tail = "capped") -> None:
        super().__init__(estimator, tail)
        self.rule = rule
        self.fast_scoring = fast_scoring

    def fit_estimator(self, X: np.ndarray) -> None:
        if not self.fast_scoring:
            super().fit_estimator(X)
            return
        X = np.asarray(X, dtype=np.float64)
        self.training_scores_ = training_scores(X, self.rule)
        self.sketch_ = ECDFSketch(X)
        self.skew_ = AppendedSkew(X)
        self.estimator = None  # PyOD's would hold the training matrix; the sketch replaces it

    def capped_score(self, X: np.ndarray) -> np.ndarray:
        if not self.fast_scoring:
            return super().capped_score(X)
        left, right, seen = self.sketch_.tail_probabilities(X)
        # A value seen in training keeps the training column's skewness, as its tails do.
        signs = np.where(seen, self.skew_.training_signs(), self.skew_.signs(X))
        return combine_tails(left, right, signs, self.rule)

    def score_row(self, row: Sequence[float]) -> float:
        """:meth:`score` of one row of plain floats, without numpy's per-call overhead.

        What keeps a streaming tick in microseconds (see ``_ecdf_row``); rows wider than
        ``MAX_FEATURES``, and the reference path, go through :meth:`score`.
        """
        if self.fast_scoring and len(row) <= MAX_FEATURES:
            scorer = self.__dict__.get("_row_scorer")
            if scorer is None:
                tails = self.beyond_.tails if self.beyond_ is not None else None
                scorer = self.__dict__["_row_scorer"] = ECDFRowScorer(
                    self.sketch_, self.skew_, self.rule == "ecod", tails
                )
            return scorer.score(row)
        return float(self.score(np.asarray(row, dtype=np.float64).reshape(1, -1))[0])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_row_scorer", None)  # derived from the sketch; memoryviews do not pickle
        return state
