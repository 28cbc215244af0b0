"""Surprise: how improbable each feature's value is against that feature's own recent values.

For every feature (a stream's value, its seasonal residual, its recent mean...) the detector
keeps the newest ``reference`` values, sorted, and scores a row by the most surprising of its
features: ``S = max_j(-ln p_j) - ln d``, where ``p_j`` is the two-sided tail probability of
feature ``j`` (exact ranks inside the data, an exponential tail beyond it; see
``_tail_window``) and ``- ln d`` is the Bonferroni correction for looking at ``d`` features. ``S``
is a surprise in nats: ``exp(-S)`` is (a bound on) how often a row this unusual occurs, on every
stream, which is what makes one threshold work across a fleet.

It learns online: in a stream, every point's features join the reference as soon as the point
is learned (``learn_row``), so a new level or rhythm stops being surprising as it becomes the
norm, and the first points of an episode are the surprising ones. Refreshing the reference only
every 10 points instead costs 6 points of NAB score (docs/timeseries.md). In batch use
(``/fit`` then ``/score``) the reference is the training rows.

A record of the reference (a value past its range) must also be rare over the longer run: its
surprise is at most its rank among the extremes of the values before the reference, up to
``long_reference`` values back (``_long_run``). A long, bursty stream sets a record of its last
1,000 values every few days; the ones as extreme as something seen a few thousand points ago
are not incidents. On NAB this halves the false alarms (docs/timeseries.md). A refitted model
takes that history over from the one it replaces (``continue_from``).

How far past the range a record must go to count is measured, for the stream's own values, by
how far the stream ordinarily moves from one point to the next (``step_floor``, with a tenth of
the spread as the least, ``flat_floor``), and for features derived from them by half their
spread (``tail_floor``); ``_tail_window`` says why. On NAB this raised the standard score from
66.7 to 68.9, and on SKAB, which played no part in choosing it, from 87.1 to 89.0
(docs/timeseries.md).

It is the detector of anomd's time-series pipeline (docs/timeseries.md); it also works on plain
tabular rows, as a per-feature tail test (like ECOD, with a maximum instead of a sum).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Annotated

import msgspec
import numpy as np

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._long_run import LongRunExtremes
from ._tail_window import TailWindow

#: Values per block of the long-run history, and extremes kept at each end of a block.
_LONG_BLOCK, _LONG_EXTREMES = 1000, 8


class SurpriseParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Newest values each feature is compared with; null: as many as the training rows.
    reference: Annotated[int, msgspec.Meta(ge=10, le=1_000_000)] | None = None
    #: Extreme values the scale of each tail is estimated from.
    tail_points: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 20
    #: Least tail scale of a feature derived by a transform, as a fraction of its 5-95 % spread.
    tail_floor: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.5
    #: Least tail scale of a stream's own values, in mean steps between consecutive values;
    #: 0: they get ``tail_floor`` like derived features (as batch rows, which have no order, do).
    step_floor: Annotated[float, msgspec.Meta(ge=0, le=100)] = 1.5
    #: With ``step_floor``: the own values' least tail scale is also at least this fraction of
    #: their 5-95 % spread (a stream flat but for rare jumps has almost no mean step).
    flat_floor: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.1
    #: Values a feature needs before it can be surprising.
    min_reference: Annotated[int, msgspec.Meta(ge=2, le=100_000)] = 30
    #: Values a record of the reference must also be rare among (the reference included),
    #: kept as the extremes of each 1,000; 0: records are judged on the reference alone.
    long_reference: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 5000


class SurpriseDetector:
    """Per-feature tail surprise against trailing, online-updated references."""

    def __init__(self, params: SurpriseParams, contamination: float) -> None:
        del contamination  # thresholds are the runtime's job
        self.params = params
        self.histories_: list[LongRunExtremes] | None = None
        self.inputs_: int | None = None

    def __setstate__(self, state: dict) -> None:
        # A model pickled before the long-run history existed judges records on its reference.
        self.__dict__.update({"histories_": None, "inputs_": None, **state})

    def set_inputs(self, count: int) -> None:
        """Says that the first ``count`` features are the stream's own values and the rest are
        derived from them by transforms (the streaming engine calls it before each fit).

        The step floor suits a stream's own values only: a recent mean moves little from one
        point to the next by construction, so its steps would make its every record look
        impossible. Without this call (batch rows, whose order means nothing) every feature
        keeps the spread floor.
        """
        self.inputs_ = count

    def fit(self, X: np.ndarray) -> SurpriseDetector:
        p = self.params
        capacity = p.reference or max(X.shape[0], p.min_reference)
        own = (self.inputs_ or 0) if p.step_floor else 0
        floors = [(p.flat_floor, p.step_floor) if j < own else (p.tail_floor, 0.0) for j in range(X.shape[1])]
        self.windows_ = [TailWindow.of(X[:, j], capacity, p.tail_points, floor, p.min_reference, step)
                         for j, (floor, step) in enumerate(floors)]
        self.histories_ = [
            LongRunExtremes.of(X[:, j], p.long_reference, _LONG_BLOCK, _LONG_EXTREMES)
            for j in range(X.shape[1])
        ] if p.long_reference else None
        self.correction_ = math.log(X.shape[1])
        self.training_scores_ = self._in_sample(X[-capacity:])
        return self

    def continue_from(self, previous: object) -> None:
        """Takes the long-run history over from the model this one replaces.

        A refit rebuilds the references from the training rows, which reach back only a
        window; the history of the values before it lives on in the previous model. The
        streaming engine calls this when a refitted model with the same features lands.
        """
        histories = getattr(previous, "histories_", None)
        if self.histories_ is not None and histories is not None and len(histories) == len(self.histories_):
            self.histories_ = copy.deepcopy(histories)

    def _in_sample(self, X: np.ndarray) -> np.ndarray:
        """The training rows' surprises against the reference they are part of (ranks only)."""
        if len(self.windows_[0]) < self.params.min_reference:
            return np.zeros(X.shape[0])
        worst = np.zeros(X.shape[0])
        for j, window in enumerate(self.windows_):
            order = np.frombuffer(window.order, dtype=np.float64)
            m = order.size
            at_least = m - np.searchsorted(order, X[:, j], side="left")
            at_most = np.searchsorted(order, X[:, j], side="right")
            tail = 2.0 * (np.minimum(at_least, at_most) + 1) / (m + 1)
            worst = np.maximum(worst, np.maximum(0.0, -np.log(tail)))
        return worst - self.correction_

    def _histories(self) -> Iterable[LongRunExtremes | None]:
        """Each feature's long-run history, beside ``windows_`` (None without one)."""
        return self.histories_ or repeat(None)

    def score_row(self, row: Sequence[float]) -> float:
        return max(_surprise(w, h, float(v)) for w, h, v in zip(self.windows_, self._histories(), row)) - self.correction_

    def score(self, X: np.ndarray) -> np.ndarray:
        per_feature = [np.array([_surprise(w, h, v) for v in X[:, j].tolist()], dtype=np.float64)
                       for j, (w, h) in enumerate(zip(self.windows_, self._histories()))]
        return np.max(per_feature, axis=0) - self.correction_

    def learn_row(self, row: Sequence[float]) -> None:
        """Adds one row to the references (the streaming engine calls it for every point)."""
        for w, h, v in zip(self.windows_, self._histories(), row):
            w.add(float(v))
            if h is not None:
                h.add(float(v))

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        """Each row scored, then learned, in order (a stream's batch)."""
        out = np.empty(X.shape[0])
        features, correction = list(zip(self.windows_, self._histories())), self.correction_
        for i, row in enumerate(X.tolist()):
            out[i] = max(_surprise(w, h, v) for (w, h), v in zip(features, row)) - correction
            for (w, h), v in zip(features, row):
                w.add(v)
                if h is not None:
                    h.add(v)
        return out

    def learn_many(self, X: np.ndarray) -> None:
        for row in X.tolist():
            self.learn_row(row)


def _surprise(window: TailWindow, history: LongRunExtremes | None, v: float) -> float:
    """``v``'s surprise against ``window``; for a record of it, at most its long-run surprise."""
    s = window.surprise(v)
    if history is None:
        return s
    order = window.order
    if len(order) >= window.minimum and not order[0] <= v <= order[-1]:
        long_run = history.surprise(v, order[0], order[-1], len(order))
        if long_run is not None and long_run < s:
            return long_run
    return s


SPEC = DetectorSpec(
    id="surprise",
    name="Tail surprise",
    description="Scores a row by its most improbable feature against that feature's recent values (rank tails, extrapolated beyond the data), learning online.",
    category="probabilistic",
    speed="fast",
    memory="low",
    best_for="Time series and streams: the detector of the time-series pipeline; calibrated scores comparable across streams.",
    params=SurpriseParams,
    build=SurpriseDetector,
    min_samples=lambda params: 2,
    # Scoring builds one surprise column per feature and their maximum: a few copies of the
    # rows plus per-row work, not the default's ten copies (measured by
    # tests/test_admission_rss.py: 40,000 x 10 and explanation blocks of 26,214 x 40; scoring
    # 40,000 rows grew a fresh process by 38 MB, and one that had served other backends by 30).
    memory_cost=MemoryCost(
        fit=lambda n, d, p: 10 * n * d * CELL + (1 << 20),
        score=lambda m, d, n, p: 2 * m * d * CELL + 500 * m + (1 << 20),
        model=lambda n, d, p: n * d * CELL + (1 << 20),
    ),
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
