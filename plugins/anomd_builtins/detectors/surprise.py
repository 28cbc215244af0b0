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

A feature a transform derives is partial for the first rows of a stream (a 64-point mean of
three points); told so (``set_warmup``), the detector keeps those rows out of that feature's
reference and history and scores nothing on them.

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
        self.warmup_: tuple[int, ...] | None = None  # per feature: the series' rows it is partial for
        self.row_ = 0  # the series' index of the next row to take in (before a fit: the first fitted)
        self.warm_end_ = 0  # from this row on, every feature is whole

    def __setstate__(self, state: dict) -> None:
        # A model pickled before the long-run history (or the warm-up) existed judges records on
        # its reference (and every row as whole).
        self.__dict__.update({"histories_": None, "inputs_": None, "warmup_": None, "row_": 0,
                              "warm_end_": 0, **state})

    def set_inputs(self, count: int) -> None:
        """Says that the first ``count`` features are the stream's own values and the rest are
        derived from them by transforms (the streaming engine calls it before each fit).

        The step floor suits a stream's own values only: a recent mean moves little from one
        point to the next by construction, so its steps would make its every record look
        impossible. Without this call (batch rows, whose order means nothing) every feature
        keeps the spread floor.
        """
        self.inputs_ = count

    def set_warmup(self, rows: Sequence[int], first: int) -> None:
        """Says that feature ``j`` is partial for a series' first ``rows[j]`` rows, and that
        the rows about to be fitted begin at the series' row ``first`` (the streaming engine
        calls it before each fit, from ``FeaturePlan.warmups``).

        A 64-point mean over the first three points of a stream is those points' mean, as
        variable as a single value: a spike at the start of a stream made it a record that
        later bursts could not pass (the long run keeps it for 5,000 points). Such rows neither
        join a feature's reference nor are scored on it. On NAB this alone raised the standard
        score from 68.9 to 69.6 (docs/timeseries.md).
        """
        self.warmup_ = tuple(rows)
        self.row_ = first
        self.warm_end_ = max(self.warmup_, default=0)

    def _skipped(self, j: int, row: int) -> int:
        """How many rows from the series' row ``row`` on feature ``j`` is still partial for."""
        return max(0, self.warmup_[j] - row) if self.warmup_ else 0

    def fit(self, X: np.ndarray) -> SurpriseDetector:
        p = self.params
        capacity = p.reference or max(X.shape[0], p.min_reference)
        own = (self.inputs_ or 0) if p.step_floor else 0
        floors = [(p.flat_floor, p.step_floor) if j < own else (p.tail_floor, 0.0) for j in range(X.shape[1])]
        columns = [X[self._skipped(j, self.row_) :, j] for j in range(X.shape[1])]
        self.windows_ = [TailWindow.of(column, capacity, p.tail_points, floor, p.min_reference, step)
                         for column, (floor, step) in zip(columns, floors)]
        self.histories_ = [
            LongRunExtremes.of(column, p.long_reference, _LONG_BLOCK, _LONG_EXTREMES) for column in columns
        ] if p.long_reference else None
        self.correction_ = math.log(X.shape[1])
        self.row_ += X.shape[0]
        self.training_scores_ = self._in_sample(X[-capacity:], self.row_ - min(capacity, X.shape[0]))
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

    def _in_sample(self, X: np.ndarray, first: int) -> np.ndarray:
        """The training rows' surprises against the reference they are part of (ranks only);
        ``first`` is the series' index of the first of them."""
        if len(self.windows_[0]) < self.params.min_reference:
            return np.zeros(X.shape[0])
        worst = np.zeros(X.shape[0])
        for j, window in enumerate(self.windows_):
            order = np.frombuffer(window.order, dtype=np.float64)
            m = order.size
            at_least = m - np.searchsorted(order, X[:, j], side="left")
            at_most = np.searchsorted(order, X[:, j], side="right")
            tail = 2.0 * (np.minimum(at_least, at_most) + 1) / (m + 1)
            surprise = np.maximum(0.0, -np.log(tail))
            surprise[: self._skipped(j, first)] = 0.0
            worst = np.maximum(worst, surprise)
        return worst - self.correction_

    def _histories(self) -> Iterable[LongRunExtremes | None]:
        """Each feature's long-run history, beside ``windows_`` (None without one)."""
        return self.histories_ or repeat(None)

    def _whole(self, row: int) -> list[bool]:
        """Which features are whole at the series' row ``row``."""
        return [row >= warm for warm in self.warmup_ or ()]

    def score_row(self, row: Sequence[float]) -> float:
        features = zip(self.windows_, self._histories(), row)
        if self.row_ < self.warm_end_:
            return max(_surprise(w, h, float(v)) if whole else 0.0
                       for (w, h, v), whole in zip(features, self._whole(self.row_))) - self.correction_
        return max(_surprise(w, h, float(v)) for w, h, v in features) - self.correction_

    def score(self, X: np.ndarray) -> np.ndarray:
        """Rows scored on the references as they are (in a stream: the rows after the last one
        learned, for the warm-up)."""
        per_feature = [np.array([_surprise(w, h, v) for v in X[:, j].tolist()], dtype=np.float64)
                       for j, (w, h) in enumerate(zip(self.windows_, self._histories()))]
        for j, surprises in enumerate(per_feature):
            surprises[: self._skipped(j, self.row_)] = 0.0
        return np.max(per_feature, axis=0) - self.correction_

    def learn_row(self, row: Sequence[float]) -> None:
        """Adds one row to the references (the streaming engine calls it for every point)."""
        whole = self._whole(self.row_) if self.row_ < self.warm_end_ else repeat(True)
        for w, h, v, ok in zip(self.windows_, self._histories(), row, whole):
            if ok:
                w.add(float(v))
                if h is not None:
                    h.add(float(v))
        self.row_ += 1

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        """Each row scored, then learned, in order (a stream's batch)."""
        out = np.empty(X.shape[0])
        warm = min(X.shape[0], max(0, self.warm_end_ - self.row_))
        for i, row in enumerate(X[:warm].tolist()):  # rows with a partial feature: with the checks
            out[i] = self.score_row(row)
            self.learn_row(row)
        features, correction = list(zip(self.windows_, self._histories())), self.correction_
        for i, row in enumerate(X[warm:].tolist(), start=warm):
            out[i] = max(_surprise(w, h, v) for (w, h), v in zip(features, row)) - correction
            for (w, h), v in zip(features, row):
                w.add(v)
                if h is not None:
                    h.add(v)
        self.row_ += X.shape[0] - warm
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
