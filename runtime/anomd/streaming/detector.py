"""A streaming anomaly detector with River's shape: ``score_one``, ``learn_one``, ``process``.

* ``score_one(x)`` scores a point on the current model. It is pure: the window, the model, the
  post-processor and every counter stay as they were.
* ``learn_one(x)`` adds a point to the sliding window. The point that brings the window to
  ``min_samples`` fits the first model on the spot (it is small by construction); after that,
  every ``retrain_interval`` points a retrain starts off the calling thread and lands exactly
  ``retrain_lag`` points later (:mod:`anomd.streaming.retraining`). A detector that learns
  online (``learn_row``, such as ``surprise``) also learns every point in between, and a
  post-processor sees every point's raw score.
* ``process(x)`` is ``score_one`` then ``learn_one``, and counts the result in the stats. The
  point that completes the cold start has no model to be scored on before it is learned, so it
  is learned first and scored on the model it completed.

``score_many``, ``learn_many`` and ``process_many`` do the same for a list of points,
vectorised: between two events (a cold fit, a retrain starting or landing) the model is fixed,
so each such span's features are computed in one call. Their results equal a loop of the
one-point forms, and because retrains land at fixed points, a replay of the same points gives
the same results on every run.

The stream's pipeline (time series or tabular, :mod:`anomd.streaming.pipelines`) is settled by
its first point unless the configuration names one; before that, only what the client chose is
known. Points of a time series carry a timestamp that must not go backwards.

A bad point (missing, extra or non-numeric key, a bad or backward timestamp) raises
:class:`~anomd.errors.InvalidInput` before anything changes; a list is checked as a whole first.
A fit that fails keeps the previous model (or the detector collecting), records the reason in
``get_stats()`` and is retried after another ``retrain_interval`` points.

Like River's and scikit-learn's estimators, a detector is used by one thread at a time; the
server's :class:`~anomd.streaming.manager.StreamManager` serialises access to each stream.
Event loops, thread hops and time budgets are the caller's business (the server's is in
``anomd.server.stream_inline``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import msgspec
import numpy as np

from anomd.admission import MemoryEstimate, estimate_stream, rows_shape
from anomd.detectors import DetectorSpec
from anomd.errors import InvalidInput
from anomd.names import check_name
from anomd.normalization import finite_scores
from anomd.settings import Settings
from anomd.streaming.config import StreamConfig
from anomd.streaming.executors import shared_thread_executor
from anomd.streaming.features import FeaturePlan
from anomd.streaming.judge import Judge
from anomd.streaming.pipelines import settle
from anomd.streaming.points import PointReader, order_times, reader_for
from anomd.streaming.results import (
    COLLECTING,
    READY,
    RETRAINING,
    BatchOutcome,
    DetectorStatus,
    StreamingResult,
    StreamingResults,
)
from anomd.streaming.retraining import Retrainer
from anomd.streaming.setup import StreamSetup, check_given
from anomd.streaming.state import DetectorState, PendingFit
from anomd.streaming.stats import DetectorStats
from anomd.streaming.totals import TOTALS
from anomd.streaming.training import FitJob, LiveModel, fit_window
from anomd.streaming.window import SlidingWindow
from anomd.timeseries.timestamps import iso

#: Most points scored in one vectorised step of a batch (bounds the feature matrix's size).
CHUNK = 4096


class Setting:
    """A constructor argument, readable on the detector under its own name, never writable.

    The configuration is fixed when a detector is created (the server compares it with every
    later request), so assigning to one of these raises instead of silently diverging. Before a
    stream's first point settles its pipeline, a setting the client left out reads None.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, detector: Any, owner: type | None = None) -> Any:
        if detector is None:
            return self
        value = getattr(detector.config, self.name)
        return copy.deepcopy(value) if isinstance(value, (list, dict)) else value

    def __set__(self, detector: Any, value: Any) -> None:
        raise AttributeError(
            f"{self.name} is fixed when a detector is created; create a new detector with "
            f"{self.name}={value!r} instead"
        )


class StreamingAnomalyDetector:
    """An online anomaly detector over a stream of dict points.

    Args:
        model_id: The detector's name (letters, digits, ``-``, ``_``, ``.``).
        backend: Detector backend id; the pipeline's by default (``surprise`` for time series,
            ``ecod`` otherwise).
        min_samples: Points to collect before the first fit.
        retrain_interval: Points learned between retrains.
        window_size: Newest rows kept; retrains fit on them.
        rolling_windows: Add rolling mean/std/min/max features over these windows.
        include_lags: Add lagged values of each column.
        lag_periods: Which lags (default ``[1]``); used only with ``include_lags``.
        contamination: Expected share of anomalies; sets the threshold.
        threshold: A fixed threshold on the ``score`` scale instead of the learned one.
        params: The backend's hyper-parameters (validated against its schema).
        retrain_lag: Points between a retrain's start and its landing (default:
            ``retrain_interval``; 0 fits synchronously). See :mod:`anomd.streaming.retraining`.
        transforms: Transforms, e.g. ``[{"transform": "diff", "periods": [1]}]``.
        postprocessor: Turns raw scores into the published score, e.g.
            ``{"postprocessor": "likelihood"}`` (``"none"``: the model's standardised score).
        pipeline: ``auto`` (the first point decides: ``series`` if it has a timestamp),
            ``series`` or ``tabular``; supplies every setting left out
            (:mod:`anomd.streaming.pipelines`).
        timestamp_field: The key of the points' timestamp (never a feature).
        late_points: ``accept`` (a point earlier than the latest is processed in arrival order,
            its time moved up to the latest) or ``reject`` (422).
        plugins: Where backends and transforms come from (default: the installed plugins).
        settings: The operator's rules for backends (allow-list, default params): the server
            passes its own; None outside a server.
        spec: An already resolved backend.
        executor: Where retrains run (default: a shared pool of two threads); any
            ``concurrent.futures.Executor``. It changes how long a landing point may wait,
            never the results.
        default_params: Operator defaults for the backend's params (``params`` wins; else from
            ``settings``). They are not part of the configuration a client is compared against.

    Raises:
        InvalidInput: A bad setting (named), e.g. ``min_samples > window_size``.
        NotFound: Unknown backend, transform or post-processor.
    """

    pipeline = Setting()
    timestamp_field = Setting()
    late_points = Setting()
    backend = Setting()
    min_samples = Setting()
    retrain_interval = Setting()
    retrain_lag = Setting()
    window_size = Setting()
    contamination = Setting()
    threshold = Setting()
    rolling_windows = Setting()
    include_lags = Setting()
    lag_periods = Setting()
    transforms = Setting()
    postprocessor = Setting()
    params = Setting()

    def __init__(
        self,
        model_id: str = "default-stream",
        backend: str | None = None,
        min_samples: int | None = None,
        retrain_interval: int | None = None,
        window_size: int = 1000,
        rolling_windows: Sequence[int] | None = None,
        include_lags: bool = False,
        lag_periods: Sequence[int] | None = None,
        contamination: float | None = None,
        threshold: float | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        retrain_lag: int | None = None,
        transforms: Sequence[Mapping[str, Any]] | None = None,
        postprocessor: Mapping[str, Any] | None = None,
        pipeline: str = "auto",
        timestamp_field: str = "timestamp",
        late_points: str = "accept",
        plugins: Any = None,
        settings: Settings | None = None,
        spec: DetectorSpec | None = None,
        executor: Executor | None = None,
        default_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = build_config(
            pipeline=pipeline, timestamp_field=timestamp_field, late_points=late_points, backend=backend,
            min_samples=min_samples, retrain_interval=retrain_interval, retrain_lag=retrain_lag,
            window_size=window_size, contamination=contamination, threshold=threshold,
            rolling_windows=list(rolling_windows) if rolling_windows is not None else None,
            include_lags=include_lags,
            lag_periods=list(lag_periods) if lag_periods is not None else None,
            transforms=[dict(t) for t in transforms] if transforms is not None else None,
            postprocessor=dict(postprocessor) if postprocessor is not None else None,
            params=dict(params or {}),
        )
        self._model_id = check_name(model_id, "stream id")
        if plugins is None:
            from anomd import _default_plugins

            plugins = _default_plugins()
        self._plugins = plugins
        self._settings = settings
        self._given_spec = spec
        self._default_params = dict(default_params) if default_params is not None else None
        self._executor = executor or shared_thread_executor()
        self._setup: StreamSetup | None = None
        self._retrainer: Retrainer | None = None
        self._judge: Judge | None = None
        self._reader: PointReader | None = None
        self._plan: FeaturePlan | None = None
        self._window: SlidingWindow | None = None
        self._job: FitJob | None = None
        self._resets = 0
        if self.config.settled:
            self._settle(self.config.pipeline == "series")
        else:
            check_given(self.config, plugins, settings, spec)
        self._clear()

    # -- settings and state -----------------------------------------------------------------

    def _settle(self, timed: bool) -> None:
        """Chooses the pipeline (once) and builds the parts of the settled configuration."""
        setup = StreamSetup.of(settle(self.config, timed), self._plugins, self._settings,
                               self._given_spec, self._default_params)
        self._setup = setup
        self.config = setup.config
        self._retrainer = Retrainer(self._executor, setup.config.lag)
        self._judge = Judge(setup.new_postprocessor(), setup.config.contamination, setup.config.threshold)  # type: ignore[arg-type]

    def prepare(self, first: Mapping[str, Any]) -> None:
        """Settles the pipeline for a stream whose first point is ``first`` (not learned).

        The server calls it before it admits a new stream, so a configuration that fails only
        once settled (bad params for the pipeline's detector) creates nothing.
        """
        if self._setup is None:
            self._settle(isinstance(first, Mapping) and self.config.timestamp_field in first)

    def memory_estimate(self, points: Sequence[Mapping[str, Any]], body_bytes: int = 0) -> MemoryEstimate:
        """The working memory feeding ``points`` needs at its peak, for a caller that admits
        work before it starts (``anomd.admission``'s stream model: the points' matrix, the
        window, a fit on it, scoring in chunks), with this stream's real feature width.

        Raises:
            InvalidInput: The first point cannot start this stream (as feeding it would say).
        """
        first = points[0] if points else {}
        self.prepare(first)
        setup = self._setup
        plan = self._plan
        if plan is None and points:
            reader = self._reader_for(first)
            plan = FeaturePlan(reader.columns, setup.steps, reader.timed)  # type: ignore[union-attr]
        window = setup.config.window_size + (plan.lookback - 1 if plan else 0)  # type: ignore[union-attr]
        return estimate_stream(setup.spec, setup.params, rows_shape(points), window,  # type: ignore[union-attr]
                               plan.width if plan else None, body_bytes)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def status(self) -> DetectorStatus:
        if self._model is None:
            return DetectorStatus.COLLECTING
        return DetectorStatus.RETRAINING if self._retrainer.pending else DetectorStatus.READY  # type: ignore[union-attr]

    @property
    def model_version(self) -> int:
        return self._version

    @property
    def threshold_in_force(self) -> float | None:
        """The threshold on the ``score`` scale the next point is judged by (None while
        collecting, unless a fixed ``threshold`` was given or a post-processor sets it)."""
        if self._judge is None:
            return self.config.threshold
        return self._judge.threshold(self._model)

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The stream's keys, fixed by the first point it learned (None before it)."""
        return self._reader.columns if self._reader else None

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever the state does (points, landed retrains, resets): a cheap "has it
        changed since the last checkpoint" test."""
        return (self._total, self._version, self._resets)

    def _clear(self) -> None:
        self._model: LiveModel | None = None
        self._version = 0
        self._total = 0
        self._since = 0
        self._retry_at = 0
        self._scored = 0
        self._flagged = 0
        self._retrains_started = 0
        self._retrains_completed = 0
        self._retrains_failed = 0
        self._last_error: str | None = None
        self._last_fit_ms: float | None = None
        self._last_time: float | None = None
        self._late = 0
        self._late_pending = False
        if self._retrainer is not None:
            self._retrainer.drop()
        if self._setup is not None:
            self._judge.post = self._setup.new_postprocessor()  # type: ignore[union-attr]
        if self._window is not None:
            self._window.clear()

    def _begin(self, reader: PointReader) -> None:
        """Fixes the stream's columns (first learned point) and allocates its window."""
        if self._setup is None:
            self._settle(reader.timed)
        setup = self._setup
        plan = FeaturePlan(reader.columns, setup.steps, reader.timed)  # type: ignore[union-attr]
        self._reader = reader
        self._plan = plan
        self._lookback = plan.lookback
        # Lookback - 1 extra rows give the oldest training row its full history.
        width = len(plan.columns) + reader.timed
        self._window = SlidingWindow(width, self.config.window_size + plan.lookback - 1)
        self._job = setup.job(plan.columns, reader.timed)  # type: ignore[union-attr]
        self._retrainer.use(self._job)  # type: ignore[union-attr]

    def _reader_for(self, first: Any) -> PointReader:
        return self._reader or reader_for(first, self.config.timestamp_field)

    def _row(self, point: Mapping[str, Any]) -> tuple[PointReader, list[float]]:
        """A point read and checked as the stream's next one (late-point policy applied)."""
        reader = self._reader_for(point)
        row = reader.row(point)
        latest = self._last_time
        if reader.timed and latest is not None and row[-1] < latest:
            if self.config.late_points == "reject":
                raise InvalidInput(
                    f"point: {reader.time_field!r} {iso(row[-1])} is earlier than the stream's latest "
                    f"point ({iso(latest)}); send a stream's points in time order (or create the "
                    'stream with late_points "accept")'
                )
            row[-1] = latest
            self._late_pending = True
        return reader, row

    def _next_row(self, point: Mapping[str, Any]) -> list[float]:
        """A point read as the row to learn next; its first one fixes the stream's columns."""
        reader, row = self._row(point)
        if self._reader is None:
            self._begin(reader)
        return row

    # -- one point --------------------------------------------------------------------------

    def score_one(self, point: Mapping[str, Any]) -> StreamingResult:
        """Scores a point on the current model as the stream's next point; changes nothing.

        Raises:
            InvalidInput: A missing, extra or non-numeric key, or a bad timestamp.
        """
        _, row = self._row(point)
        model = self._model
        if model is None:
            return self._collecting_result()
        raw = model.raw_one(self._features(model, row))
        score, flag = self._judge.one(model, raw, update=False)  # type: ignore[union-attr]
        return self._result(model, raw, score, flag)

    def learn_one(self, point: Mapping[str, Any]) -> None:
        """Adds a point to the window; may fit the first model, start or land a retrain.

        A detector that learns online learns the point, and a post-processor sees its raw
        score, exactly as :meth:`process` would have it.

        Raises:
            InvalidInput: A missing, extra or non-numeric key, or a bad timestamp; nothing
                changed.
        """
        row = self._next_row(point)
        model = self._model
        if model is None:
            self._learn_row(row)
            return
        features = None
        if self._judge.post is not None or model.incremental:  # type: ignore[union-attr]
            features = self._features(model, row)
            if self._judge.post is not None:  # type: ignore[union-attr]
                self._judge.one(model, model.raw_one(features), update=True)  # type: ignore[union-attr]
        self._learn_row(row, features)

    def process(self, point: Mapping[str, Any]) -> StreamingResult:
        """Scores a point, then learns it (see the module docstring for the cold start).

        Raises:
            InvalidInput: A missing, extra or non-numeric key, or a bad timestamp; nothing
                changed.
        """
        row = self._next_row(point)
        model = self._model
        if model is None:
            scored = self._learn_row(row)
            if scored is None:
                return self._collecting_result()
            model = self._model
        else:
            # The row joins the window first so its features are read off the window's tail
            # (no copy); the model has not learned it yet, so it is still scored before learning.
            self._window.append(row)  # type: ignore[union-attr]
            features = self._features(model, row, learned=True)
            raw = model.raw_one(features)
            scored = (raw, *self._judge.one(model, raw, update=True))  # type: ignore[union-attr]
            self._learn_row(row, features, appended=True)
        self._count(scored[2])
        return self._result(model, *scored)  # type: ignore[arg-type]

    #: Names of anomd 0.1 (whose ``process`` was a coroutine; results can still be awaited).
    process_sync = process

    def _features(self, model: LiveModel, row: list[float], learned: bool = False) -> list[float]:
        """The features of ``row`` as the newest point (``learned``: it is the window's last)."""
        plan = model.plan
        if not plan.steps:
            return row[: len(plan.columns)]
        history = self._window.tail(self._lookback - (0 if learned else 1))  # type: ignore[union-attr]
        tail = history if learned else np.concatenate((history, np.asarray(row, dtype=np.float64)[None, :]))
        return plan.latest(tail).tolist()

    def _count(self, flag: bool) -> None:
        self._scored += 1
        self._flagged += flag

    def _learn_row(
        self, row: list[float], features: list[float] | None = None, appended: bool = False
    ) -> tuple[float, float, bool] | None:
        """Appends ``row`` (unless ``appended`` already) and moves the schedule on.

        Returns:
            For the point that completes the cold start, its raw score, score and flag on the
            model it completed (the post-processor has seen it); otherwise None.
        """
        if not appended:
            self._window.append(row)  # type: ignore[union-attr]
        self._total += 1
        TOTALS.points += 1
        if self._reader.timed:  # type: ignore[union-attr]
            self._last_time = row[-1]
            if self._late_pending:
                self._late += 1
                self._late_pending = False
        model = self._model
        if model is None:
            if self._until_ready() == 0 and self._cold_start():
                model = self._model
                raw = model.raw_one(self._features(model, row, learned=True))  # type: ignore[union-attr]
                return (raw, *self._judge.one(model, raw, update=True))  # type: ignore[union-attr, arg-type]
            return None
        if model.incremental:
            model.detector.learn_row(features)  # type: ignore[attr-defined]
        self._since += 1
        self._retrainer.share_gil()  # type: ignore[union-attr]
        self._tock()
        return None

    def _collecting_result(self) -> StreamingResult:
        return StreamingResult(
            score=None, is_anomaly=None, raw_score=None, status=DetectorStatus.COLLECTING,
            model_version=self._version, samples_collected=self._collected(),
            samples_until_ready=self._until_ready(), threshold=self.threshold_in_force,
        )

    def _result(self, model: LiveModel, raw: float, score: float, flag: bool) -> StreamingResult:
        return StreamingResult(
            score=score, is_anomaly=flag, raw_score=raw, status=self.status,
            model_version=model.version, samples_collected=self._collected(),
            samples_until_ready=0, threshold=self._judge.threshold(model),  # type: ignore[union-attr]
        )

    def _collected(self) -> int:
        return min(len(self._window), self.config.window_size) if self._window is not None else 0

    def _until_ready(self) -> int:
        if self._model is not None:
            return 0
        min_samples = self.config.min_samples or 0
        return max(0, min_samples - self._collected(), self._retry_at - self._total)

    def work_due(self) -> bool:
        """Whether learning the next point would fit a model or wait for an unfinished retrain.

        For callers that keep cheap work on an event loop and move the rest to a thread (the
        server does); it never changes what the next point's result is.
        """
        if self._model is None:
            return self._window is None or self._until_ready() <= 1
        retrainer = self._retrainer
        starts_now = not retrainer.pending and self._since + 1 >= self.config.retrain_interval  # type: ignore[union-attr, operator]
        return (starts_now and retrainer.lag == 0) or retrainer.would_wait(self._total + 1)  # type: ignore[union-attr]

    # -- fits -------------------------------------------------------------------------------

    def _cold_start(self) -> bool:
        """Fits the first model on the window, synchronously; whether it succeeded."""
        try:
            model = fit_window(self._job, self._window.rows(), self._version + 1)  # type: ignore[arg-type, union-attr]
        except InvalidInput as exc:
            self._fit_failed(exc.detail)
            return False
        except Exception as exc:  # noqa: BLE001 - a crashing backend must not wedge the stream
            self._fit_failed(f"backend {self.config.backend!r} failed: {type(exc).__name__}: {exc}")
            return False
        self._install(model)
        self._since = 0
        return True

    def _fit_failed(self, reason: str) -> None:
        self._last_error = reason
        self._retry_at = self._total + self.config.retrain_interval  # type: ignore[operator]

    def _install(self, model: LiveModel) -> None:
        self._model = model  # the atomic swap
        self._version = model.version
        self._last_error = None
        self._last_fit_ms = model.training_time_ms

    def _tock(self) -> None:
        """Lands the retrain in flight if this is its point, then starts the next if due."""
        retrainer = self._retrainer
        if retrainer.due(self._total):  # type: ignore[union-attr]
            self._land()
        if self._since >= self.config.retrain_interval and not retrainer.pending:  # type: ignore[operator, union-attr]
            self._since = 0
            problem = retrainer.start(self._job, self._window.snapshot(), self._total)  # type: ignore[arg-type, union-attr]
            if problem is not None:
                self._last_error = problem
                return
            self._retrains_started += 1
            if retrainer.due(self._total):  # type: ignore[union-attr]  # retrain_lag 0
                self._land()

    def _land(self) -> None:
        lag = self._retrainer.lag  # type: ignore[union-attr]
        outcome = self._retrainer.collect()  # type: ignore[union-attr]
        if isinstance(outcome, str):
            self._retrains_failed += 1
            TOTALS.retrain_failures += 1
            self._last_error = outcome
            return
        model = replace(outcome, version=self._version + 1)
        if model.incremental and lag:
            # Fitted on the window as it was `lag` points ago: it learns those points now.
            rows = self._window.tail(lag + self._lookback - 1)  # type: ignore[union-attr]
            model.detector.learn_many(model.plan.frame(rows)[-lag:])  # type: ignore[attr-defined]
        carry = getattr(model.detector, "continue_from", None)
        previous = self._model
        if carry is not None and previous is not None and previous.plan.names == model.plan.names:
            # A detector with a history longer than its training window (``surprise``'s long
            # run) takes it over from the model it replaces, feature by feature.
            carry(previous.detector)
        self._install(model)
        self._retrains_completed += 1
        TOTALS.retrains += 1

    # -- many points ------------------------------------------------------------------------

    def _matrix(self, points: Sequence[Mapping[str, Any]]) -> tuple[PointReader, np.ndarray, int]:
        """The points as rows, the late-point policy applied; and how many were late."""
        if not points:
            raise InvalidInput("no points to process; send at least one")
        reader = self._reader_for(points[0])
        X = reader.matrix(points)
        late = 0
        if reader.timed:
            late = order_times(X[:, -1], self._last_time, self.config.late_points, reader.time_field)  # type: ignore[arg-type]
        return reader, X, late

    def score_many(self, points: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        """Scores points as the stream's next ones, in order, on the current model; changes
        nothing. Each point's features see the points before it in the list as history; a
        detector that learns online scores them all against what it has learned so far."""
        _, X, _ = self._matrix(points)
        out = BatchOutcome.empty(X.shape[0], self.threshold_in_force)
        out.collected[:] = self._collected()
        out.model_version = self._version
        model = self._model
        if model is None:
            out.until_ready[:] = self._until_ready()
            out.version[:] = self._version
            return out
        raws = model.raw_many(self._span_features(model, X))
        self._publish(model, raws, 0, out, update=False)
        out.status[:] = RETRAINING if self._retrainer.pending else READY  # type: ignore[union-attr]
        return out

    def learn_many(self, points: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`learn_one` for each point in order, vectorised; all are checked first."""
        self._feed(points, score=False)

    def process_many(self, points: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        """:meth:`process` for each point in order, vectorised; results as arrays.

        Raises:
            InvalidInput: Naming the first bad point's index; nothing was processed.
        """
        return self._feed(points, score=True)

    def process_batch(self, points: Sequence[Mapping[str, Any]]) -> StreamingResults:
        """:meth:`process_many` with one :class:`StreamingResult` per point."""
        return self.process_many(points).results()

    process_batch_sync = process_batch

    def _feed(self, points: Sequence[Mapping[str, Any]], score: bool) -> BatchOutcome:
        reader, X, late = self._matrix(points)
        if self._reader is None:
            self._begin(reader)
        self._late += late
        n = X.shape[0]
        out = BatchOutcome.empty(n, self.threshold_in_force)
        i = 0
        while i < n:
            if self._model is None:
                i = self._feed_cold(X, i, out, score)
            else:
                i = self._feed_ready(X, i, out, score)
        out.threshold, out.model_version = self.threshold_in_force, self._version
        return out

    def _span(self, i: int, n: int) -> int:
        """Points from ``i`` on that share one model, with any event after the last of them."""
        retrainer = self._retrainer
        if retrainer.pending:  # type: ignore[union-attr]
            until_event = retrainer.land_at - self._total  # type: ignore[union-attr]
        else:
            until_event = self.config.retrain_interval - self._since  # type: ignore[operator]
        return max(1, min(n - i, until_event, CHUNK))

    def _span_features(self, model: LiveModel, X: np.ndarray) -> np.ndarray:
        """Features of rows ``X`` arriving after the window, with the model's plan."""
        return model.plan.new_rows(self._window.tail(self._lookback - 1), X)  # type: ignore[union-attr]

    def _feed_ready(self, X: np.ndarray, i: int, out: BatchOutcome, score: bool) -> int:
        model = self._model
        k = self._span(i, X.shape[0])
        end = i + k
        judged = score or self._judge.post is not None  # type: ignore[union-attr]
        if judged or model.incremental:  # type: ignore[union-attr]
            features = self._span_features(model, X[i:end])  # type: ignore[arg-type]
            if model.incremental:  # type: ignore[union-attr]
                if judged:
                    raws = finite_scores(model.detector.score_learn_many(features))  # type: ignore[union-attr]
                else:
                    model.detector.learn_many(features)  # type: ignore[union-attr]
            elif judged:
                raws = model.raw_many(features)  # type: ignore[union-attr]
            if judged:
                flags = self._publish(model, raws, i, out, update=True)  # type: ignore[arg-type]
                if score:
                    self._scored += k
                    self._flagged += int(flags.sum())
        before = len(self._window)  # type: ignore[arg-type]
        self._window.extend(X[i:end])  # type: ignore[union-attr]
        self._total += k
        TOTALS.points += k
        if self._reader.timed:  # type: ignore[union-attr]
            self._last_time = float(X[end - 1, -1])
        self._since += k
        # Events happen only after the span's last point, so only its status can differ.
        out.status[i:end] = RETRAINING if self._retrainer.pending else READY  # type: ignore[union-attr]
        self._tock()
        out.status[end - 1] = RETRAINING if self._retrainer.pending else READY  # type: ignore[union-attr]
        out.collected[i:end] = np.minimum(before + np.arange(1, k + 1), self.config.window_size)
        return end

    def _publish(self, model: LiveModel, raws: np.ndarray, i: int, out: BatchOutcome, update: bool) -> np.ndarray:
        """Judges raw scores into ``out[i:]``; returns the flags."""
        scores, flags = self._judge.many(model, raws, update)  # type: ignore[union-attr]
        end = i + raws.shape[0]
        out.raw[i:end], out.score[i:end], out.flag[i:end] = raws, scores, flags
        out.scored[i:end] = True
        out.version[i:end] = model.version
        out.thresholds[i:end] = self._judge.threshold(model)  # type: ignore[union-attr]
        return flags

    def _feed_cold(self, X: np.ndarray, i: int, out: BatchOutcome, score: bool) -> int:
        """Appends cold-start rows up to the next fit attempt; fits and scores at that row."""
        collected, total = self._collected(), self._total
        min_samples = self.config.min_samples or 0
        need = max(1, min_samples - collected, self._retry_at - total)
        k = min(X.shape[0] - i, need)
        end = i + k
        self._window.extend(X[i : end - 1])  # type: ignore[union-attr]
        self._total += k - 1
        TOTALS.points += k - 1
        steps = np.arange(1, k + 1)
        counts = np.minimum(collected + steps, self.config.window_size)
        out.collected[i:end] = counts
        out.until_ready[i:end] = np.maximum(
            0, np.maximum(min_samples - counts, self._retry_at - (total + steps))
        )
        out.version[i:end] = self._version
        out.status[i:end] = COLLECTING
        last = end - 1
        scored = self._learn_row(X[last].tolist())  # the row that may complete the cold start
        if scored is None:
            out.until_ready[last] = self._until_ready()
            return end
        model = self._model
        out.until_ready[last] = 0
        out.status[last] = RETRAINING if self._retrainer.pending else READY  # type: ignore[union-attr]
        out.version[last] = model.version  # type: ignore[union-attr]
        out.thresholds[last] = self._judge.threshold(model)  # type: ignore[union-attr, assignment]
        if score:
            raw, value, flag = scored
            out.raw[last], out.score[last], out.flag[last], out.scored[last] = raw, value, flag, True
            self._count(flag)
        return end

    # -- lifecycle, reporting and persistence -----------------------------------------------

    def reset(self) -> None:
        """Back to cold start: empties the window, drops the model, zeroes the counters.

        The stream's keys and configuration stay; a retrain still in flight is discarded.
        """
        self._resets += 1
        self._clear()

    def close(self) -> None:
        """Abandons a retrain in flight (the detector is being evicted or deleted)."""
        if self._retrainer is not None:
            self._retrainer.drop()

    def stats(self) -> DetectorStats:
        """Everything known about the detector (the ``GET /stream/{id}`` body)."""
        model = self._model
        config = self.config
        retrainer = self._retrainer
        return DetectorStats(
            model_id=self._model_id,
            backend=config.backend or "",
            pipeline=config.pipeline,
            status=self.status.value,
            is_ready=model is not None,
            model_version=self._version,
            samples_collected=self._collected(),
            samples_until_ready=self._until_ready() if self._window is not None else (config.min_samples or 0),
            total_processed=self._total,
            samples_since_retrain=self._since,
            min_samples=config.min_samples or 0,
            retrain_interval=config.retrain_interval or 0,
            retrain_lag=config.lag if config.retrain_interval is not None else None,
            window_size=config.window_size,
            contamination=config.contamination or 0.0,
            threshold=self.threshold_in_force,
            threshold_mode="fixed" if config.threshold is not None else "learned",
            raw_threshold=model.raw_threshold if model is not None else None,
            points_scored=self._scored,
            anomalies_detected=self._flagged,
            anomaly_rate=self._flagged / self._scored if self._scored else 0.0,
            retrains_started=self._retrains_started,
            retrains_completed=self._retrains_completed,
            retrains_failed=self._retrains_failed,
            next_landing_at=retrainer.land_at if retrainer is not None and retrainer.pending else None,
            last_fit_ms=self._last_fit_ms,
            last_error=self._last_error,
            columns=list(self._reader.columns) if self._reader else None,
            timestamp_field=self._reader.time_field if self._reader else None,
            last_timestamp=iso(self._last_time) if self._last_time is not None else None,
            late_points=self._late,
            features=list(self._plan.names) if self._plan else None,
            # The model's own steps show options settled on the data (a detected period).
            transforms=[step.describe() for step in (model.plan.steps if model else self._setup.steps)]
            if self._setup else [],
            postprocessor=config.postprocessor,
            rolling_windows=self.rolling_windows,
            include_lags=config.include_lags,
            lag_periods=self.lag_periods,
            params=self.params,
            config=config.as_dict(),
        )

    def get_stats(self) -> dict[str, Any]:
        """:meth:`stats` as a plain dict (keyed by the same names)."""
        return msgspec.to_builtins(self.stats())

    def checkpoint_state(self) -> DetectorState:
        """A consistent copy of the state, for :mod:`anomd.streaming.checkpoint`.

        A retrain in flight travels as its rows and landing point, so the restored detector
        starts the same fit and lands it where this one would have.
        """
        retrainer = self._retrainer
        return DetectorState(
            columns=list(self._reader.columns) if self._reader else None,
            rows=self._window.snapshot() if self._window is not None else None,
            model=self._model,
            version=self._version,
            total=self._total,
            since=self._since,
            retry_at=self._retry_at,
            scored=self._scored,
            flagged=self._flagged,
            retrains_started=self._retrains_started,
            retrains_completed=self._retrains_completed,
            retrains_failed=self._retrains_failed,
            last_error=self._last_error,
            last_fit_ms=self._last_fit_ms,
            pending=PendingFit(retrainer.rows, retrainer.land_at)
            if retrainer is not None and retrainer.rows is not None else None,
            stats=self.stats(),
            time_field=self._reader.time_field if self._reader else None,
            last_time=self._last_time,
            late=self._late,
            postprocessor=copy.deepcopy(self._judge.post) if self._judge is not None else None,
        )

    def restore_state(self, state: DetectorState) -> None:
        """Loads a state produced by :meth:`checkpoint_state` into a fresh detector."""
        if state.columns is not None:
            self._begin(PointReader(state.columns, state.time_field))
            self._window.extend(np.asarray(state.rows, dtype=np.float64))  # type: ignore[union-attr]
        self._model = state.model
        self._version = state.version
        self._total = state.total
        self._since = state.since
        self._retry_at = state.retry_at
        self._scored = state.scored
        self._flagged = state.flagged
        self._retrains_started = state.retrains_started
        self._retrains_completed = state.retrains_completed
        self._retrains_failed = state.retrains_failed
        self._last_error = state.last_error
        self._last_fit_ms = state.last_fit_ms
        self._last_time = state.last_time
        self._late = state.late
        if state.postprocessor is not None and self._judge is not None:
            self._judge.post = state.postprocessor
        if state.pending is not None and self._job is not None:
            problem = self._retrainer.start(self._job, state.pending.rows, self._total, state.pending.land_at)  # type: ignore[union-attr]
            if problem is not None:
                self._last_error = problem

    def __repr__(self) -> str:
        return (
            f"StreamingAnomalyDetector({self._model_id!r}, backend={self.config.backend!r}, "
            f"status={self.status.value}, model_version={self._version})"
        )


def build_config(**fields: Any) -> StreamConfig:
    """A checked :class:`StreamConfig` from constructor arguments.

    Raises:
        InvalidInput: Naming the bad field.
    """
    try:
        config = msgspec.convert(fields, StreamConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid streaming configuration: {exc}") from None
    if isinstance(config.threshold, float) and math.isnan(config.threshold):
        raise InvalidInput("threshold must be a finite number, got nan")
    return config.check()
