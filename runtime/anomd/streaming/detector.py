"""The streaming detector: score each point at once ("tick"), refit in the background ("tock").

Life cycle of a detector:

1. **Cold start** (``collecting``): points fill the window; no scores. The point that brings
   the window to ``min_samples`` triggers the first fit, synchronously on the calling thread
   (it is small by construction), and is the first point scored.
2. **Tick** (``ready``): each point is appended to the window, its features are computed from
   the window's tail, and it is scored on the current model, in microseconds.
3. **Tock** (``retraining``): every ``retrain_interval`` scored points, a snapshot of the window
   is handed to an executor (worker threads or processes, never the event loop) to fit a new
   model. Ticks keep scoring on the old model meanwhile. At most one retrain is in flight per
   detector; if the interval comes round again first, the next retrain starts as soon as the
   current one lands — so a burst of any size runs retrains back to back, never a pile of them.
4. **Landing**: the scoring path checks the retrain's future on every point (a non-blocking
   ``done()``) and swaps the new model in with one attribute assignment. No event-loop callback
   is involved, so a caller that never yields still sees ``model_version`` grow. While a
   retrain runs on a worker thread, the scoring path also hands over the GIL at least every
   :data:`GIL_SHARE_S`: a tick is pure Python and never releases it by itself, and a tight
   loop of ticks would otherwise let the fit advance only at the interpreter's 5 ms switch
   interval, between every numpy call it makes (seconds per retrain instead of milliseconds).

A bad point (missing, extra or non-numeric key) raises :class:`~anomd.errors.InvalidInput`
before any state changes; the detector carries on as if it had never been sent. A batch is
checked as a whole first, so it is processed entirely or not at all. A fit that fails (data
the backend cannot fit) keeps the previous model, records the reason in ``get_stats()``, and
is retried after another ``retrain_interval`` points.
"""

from __future__ import annotations

import asyncio
import math
import pickle
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from anomd.detectors import DetectorSpec
from anomd.errors import InvalidInput, NotFound
from anomd.names import check_name
from anomd.streaming.config import StreamConfig
from anomd.streaming.executors import shared_thread_executor
from anomd.streaming.features import FeaturePlan, TransformStep
from anomd.streaming.points import PointReader, columns_of
from anomd.streaming.results import BatchOutcome, DetectorStatus, StreamingResult
from anomd.streaming.totals import TOTALS
from anomd.streaming.training import FitJob, LiveModel, fit_window, fit_window_or_error
from anomd.streaming.window import SlidingWindow

#: Most rows scored in one vectorised step of a batch; bounds how many points a landed
#: retrain can wait before it is picked up.
CHUNK = 64

#: Longest the scoring path holds the GIL while a retrain is in flight (see the module docstring).
GIL_SHARE_S = 0.001

_COLLECTING, _READY, _RETRAINING = 0, 1, 2  # BatchOutcome.status codes


class DetectorClosed(RuntimeError):
    """The detector was evicted or deleted while a caller still held it; fetch it again."""


class StreamingAnomalyDetector:
    """An online anomaly detector over a stream of dict points.

    Args:
        model_id: The detector's name (letters, digits, ``-``, ``_``, ``.``).
        backend: Detector backend id; ``ecod`` by default.
        min_samples: Points to collect before the first fit.
        retrain_interval: Scored points between background retrains.
        window_size: Newest rows kept; retrains fit on them.
        rolling_windows: Add rolling mean/std/min/max features over these windows.
        include_lags: Add lagged values of each column.
        lag_periods: Which lags (default ``[1]``); used only with ``include_lags``.
        contamination: Expected share of anomalies; the threshold is the ``1 - contamination``
            quantile of the training scores of the current window.
        threshold: A fixed threshold on the ``score`` scale instead of the learned one.
        params: The backend's hyper-parameters (validated against its schema).
        transforms: More transforms, e.g. ``[{"transform": "diff", "periods": [1]}]``.
        plugins: Where backends and transforms come from (default: the installed plugins).
        spec: An already resolved backend (the server passes the one its service checked).
        executor: Where retrains run (default: a shared pool of two threads). A process pool
            keeps ticks fast while retrains run; :class:`~anomd.streaming.InlineExecutor`
            makes retrains deterministic.
        default_params: Operator defaults for the backend's params (``params`` wins). They
            are not part of the configuration a client is compared against.

    Raises:
        InvalidInput: A bad setting (named), e.g. ``min_samples > window_size``.
        NotFound: Unknown backend.
    """

    def __init__(
        self,
        model_id: str = "default-stream",
        backend: str = "ecod",
        min_samples: int = 50,
        retrain_interval: int = 100,
        window_size: int = 1000,
        rolling_windows: Sequence[int] | None = None,
        include_lags: bool = False,
        lag_periods: Sequence[int] | None = None,
        contamination: float = 0.1,
        threshold: float | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        transforms: Sequence[Mapping[str, Any]] | None = None,
        plugins: Any = None,
        spec: DetectorSpec | None = None,
        executor: Executor | None = None,
        default_params: Mapping[str, Any] | None = None,
    ) -> None:
        config = _build_config(
            backend=backend, min_samples=min_samples, retrain_interval=retrain_interval,
            window_size=window_size, contamination=contamination, threshold=threshold,
            rolling_windows=list(rolling_windows) if rolling_windows is not None else None,
            include_lags=include_lags,
            lag_periods=list(lag_periods) if lag_periods is not None else None,
            transforms=[dict(t) for t in transforms or ()], params=dict(params or {}),
        )
        self.model_id = check_name(model_id, "stream id")
        self.config = config
        if plugins is None:
            from anomd import _default_plugins

            plugins = _default_plugins()
        if spec is None:
            spec = plugins.detectors.get(config.backend)
            if spec is None:
                known = ", ".join(plugins.detectors)
                raise NotFound(f"unknown backend {config.backend!r}; available backends: {known}")
            spec.require_available()
        parsed = spec.parse_params({**(default_params or {}), **config.params})
        needed = spec.min_samples(parsed)
        if config.min_samples < needed:
            raise InvalidInput(
                f"backend {spec.id!r} needs at least {needed} rows with these params; "
                f"min_samples is {config.min_samples}"
            )
        self._spec = spec
        self._params = parsed
        self._steps: tuple[TransformStep, ...] = config.steps(plugins.transforms)
        self._executor = executor or shared_thread_executor()
        self._lock = threading.Lock()
        self._closed = False
        #: Moving average of the seconds one scoring call takes (decides inline vs thread);
        #: None until measured, so a backend of unknown speed never starts on an event loop.
        self._tick_cost: float | None = None
        self._gil_shared_at = 0.0
        self._interval = config.retrain_interval
        self._window_size = config.window_size
        self._min_samples = config.min_samples
        self.last_used = time.monotonic()
        self._epoch = 0
        self._pending: Future | None = None
        self._pending_epoch = 0
        self._reader: PointReader | None = None
        self._plan: FeaturePlan | None = None
        self._window: SlidingWindow | None = None
        self._job: FitJob | None = None
        self._clear()

    # -- state ----------------------------------------------------------------------------

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
        if self._window is not None:
            self._window.clear()

    def _begin(self, reader: PointReader, plan: FeaturePlan) -> None:
        """Fixes the stream's columns (first point) and allocates its window."""
        self._reader = reader
        self._plan = plan
        self._plain = not plan.steps
        self._lookback = plan.lookback
        # Lookback - 1 extra rows give the oldest training row its full history.
        self._window = SlidingWindow(len(plan.columns), self._window_size + plan.lookback - 1)
        self._job = FitJob(
            backend=self._spec.id, build=self._spec.build, params=self._params,
            contamination=self.config.contamination, threshold=self.config.threshold,
            columns=plan.columns, steps=self._steps, window_size=self._window_size,
        )
        if isinstance(self._executor, ProcessPoolExecutor) or getattr(self._executor, "pickles", False):
            try:
                pickle.dumps(self._job)
            except Exception:  # noqa: BLE001 - e.g. a plugin whose build is a lambda
                self._executor = shared_thread_executor()

    def _reader_for(self, first: Any) -> tuple[PointReader, FeaturePlan | None]:
        if self._reader is not None:
            return self._reader, None
        reader = PointReader(columns_of(first))
        return reader, FeaturePlan(reader.columns, self._steps)

    # -- the public API --------------------------------------------------------------------

    @property
    def status(self) -> DetectorStatus:
        if self._model is None:
            return DetectorStatus.COLLECTING
        return DetectorStatus.RETRAINING if self._pending is not None else DetectorStatus.READY

    def cheap_tick(self, budget_s: float = 0.001) -> bool:
        """Whether the next single point is a plain tick that fits a small time budget.

        True when a model is fitted, no fit would be triggered, no other thread holds the
        detector and scoring has recently taken less than ``budget_s``. The server then
        scores the point on the event loop instead of paying a thread hop that costs more
        than the tick itself; anything else goes to a worker thread.
        """
        return (
            self._model is not None
            and not self._closed
            and not self._lock.locked()
            and self._tick_cost is not None
            and self._tick_cost < budget_s
        )

    @property
    def model_version(self) -> int:
        return self._version

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The stream's keys, fixed by its first point (None before it)."""
        return self._reader.columns if self._reader else None

    async def process(self, point: Mapping[str, Any]) -> StreamingResult:
        """Processes one point; see :meth:`process_sync`.

        A tick runs inline (it costs microseconds); when this point would trigger the first
        fit, or another thread holds the detector, the work moves to a thread so the event
        loop is never blocked on a fit.
        """
        if self._lock.locked() or self._fit_due_after_one():
            return await asyncio.to_thread(self.process_sync, point)
        return self.process_sync(point)

    async def process_batch(self, points: Sequence[Mapping[str, Any]]) -> list[StreamingResult]:
        """Processes points in arrival order, on a worker thread; see :meth:`process_batch_sync`."""
        return await asyncio.to_thread(self.process_batch_sync, points)

    def process_sync(self, point: Mapping[str, Any]) -> StreamingResult:
        """Processes one point: collect it (cold start) or score it on the current model.

        Raises:
            InvalidInput: A missing, extra or non-numeric key; the detector is unchanged.
        """
        with self._lock:
            return self._process_locked(point)

    def try_process_now(self, point: Mapping[str, Any], budget_s: float = 0.001) -> StreamingResult | None:
        """:meth:`process_sync` if that is a plain, cheap tick right now, else None (untouched).

        For an event loop: it never waits for the detector's lock (another thread may be
        running a batch) and never runs a fit; the caller then hands the point to a thread.
        See :meth:`cheap_tick` for ``budget_s``.
        """
        if not self.cheap_tick(budget_s) or not self._lock.acquire(blocking=False):
            return None
        try:
            if self._model is None:
                return None
            return self._process_locked(point)
        finally:
            self._lock.release()

    def _process_locked(self, point: Mapping[str, Any]) -> StreamingResult:
        if self._closed:
            raise DetectorClosed(self.model_id)
        self.last_used = time.monotonic()
        reader, plan = self._reader_for(point)
        row = reader.row(point)
        if plan is not None:
            self._begin(reader, plan)
        return self._tick(row)

    def process_batch_sync(self, points: Sequence[Mapping[str, Any]]) -> list[StreamingResult]:
        """Processes points in arrival order; all are checked before any is used.

        Raises:
            InvalidInput: Naming the first bad point's index; nothing was processed.
        """
        return self.ingest(points).results()

    def ingest(self, points: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        """:meth:`process_batch_sync` with results as arrays (cheaper for large batches)."""
        if not points:
            raise InvalidInput("no points to process; send at least one")
        with self._lock:
            if self._closed:
                raise DetectorClosed(self.model_id)
            self.last_used = time.monotonic()
            reader, plan = self._reader_for(points[0])
            X = reader.matrix(points)
            if plan is not None:
                self._begin(reader, plan)
            return self._ingest(X)

    def reset(self) -> None:
        """Back to cold start: empties the window, drops the model, zeroes the counters.

        The stream's keys and configuration stay; a retrain still in flight is discarded.

        Raises:
            DetectorClosed: The detector was closed (evicted or deleted by its manager).
        """
        with self._lock:
            if self._closed:
                raise DetectorClosed(self.model_id)
            self._epoch += 1
            self._clear()

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever the detector's state does (points, landed retrains, resets):
        a cheap "has it changed since the last checkpoint" test, read without the lock."""
        return (self._total, self._version, self._epoch)

    def get_stats(self) -> dict[str, Any]:
        """Everything known about the detector (the ``GET /stream/{id}`` body)."""
        with self._lock:
            return self._stats()

    # -- tick -------------------------------------------------------------------------------

    def _tick(self, row: list[float]) -> StreamingResult:
        window = self._window
        window.append(row)  # type: ignore[union-attr]
        self._total += 1
        TOTALS.points += 1
        if self._pending is not None:
            self._poll_retrain()
        model = self._model
        if model is None:
            model = self._cold_start()
            if model is None:
                return StreamingResult(
                    score=None, is_anomaly=None, raw_score=None, status=DetectorStatus.COLLECTING,
                    model_version=self._version, samples_collected=self._collected(),
                    samples_until_ready=self._until_ready(), threshold=self.config.threshold,
                )
        raw, score, flag = self._score_newest(model, row)
        return StreamingResult(
            score=score, is_anomaly=flag, raw_score=raw,
            status=DetectorStatus.RETRAINING if self._pending is not None else DetectorStatus.READY,
            model_version=model.version, samples_collected=self._collected(),
            samples_until_ready=0, threshold=model.threshold,
        )

    def _score_newest(self, model: LiveModel, row: list[float]) -> tuple[float, float, bool]:
        """Scores the window's newest row (``row``) and counts it towards the next retrain."""
        if self._plain:
            x = row
        else:
            x = self._plan.latest(self._window.tail(self._lookback)).tolist()  # type: ignore[union-attr]
        started = time.perf_counter()
        raw, score, flag = model.score_one(x)
        took = time.perf_counter() - started
        cost = self._tick_cost
        self._tick_cost = took if cost is None else cost + (took - cost) * 0.05
        self._scored += 1
        self._flagged += flag
        self._since += 1
        if self._since >= self._interval and self._pending is None:
            self._start_retrain()
        return raw, score, flag

    def _collected(self) -> int:
        return min(len(self._window), self._window_size)  # type: ignore[arg-type]

    def _until_ready(self) -> int:
        if self._model is not None:
            return 0
        return max(0, self._min_samples - self._collected(), self._retry_at - self._total)

    def _fit_due_after_one(self) -> bool:
        """Whether the next point would trigger the first fit (cheap, lock-free estimate)."""
        if self._model is not None or self._window is None:
            return False
        collected = min(len(self._window) + 1, self._window_size)
        return collected >= self._min_samples and self._total + 1 >= self._retry_at

    # -- cold start -------------------------------------------------------------------------

    def _cold_start(self) -> LiveModel | None:
        """Fits the first model when enough points are in; None while still collecting."""
        if self._until_ready() > 0:
            return None
        try:
            model = fit_window(self._job, self._window.rows(), self._version + 1)  # type: ignore[arg-type, union-attr]
        except InvalidInput as exc:
            return self._cold_start_failed(exc.detail)
        except Exception as exc:  # noqa: BLE001 - a crashing backend must not wedge the stream
            return self._cold_start_failed(f"backend {self._spec.id!r} failed: {type(exc).__name__}: {exc}")
        self._model = model
        self._version = model.version
        self._since = 0
        self._last_error = None
        self._last_fit_ms = model.training_time_ms
        return model

    def _cold_start_failed(self, reason: str) -> None:
        self._last_error = reason
        self._retry_at = self._total + self._interval

    # -- tock -------------------------------------------------------------------------------

    def _start_retrain(self) -> None:
        rows = self._window.snapshot()  # type: ignore[union-attr]
        self._since = 0
        try:
            self._pending = self._executor.submit(fit_window_or_error, self._job, rows, 0)
        except RuntimeError as exc:  # executor shut down (process exiting); keep scoring
            self._last_error = f"retrain not started: {exc}"
            return
        self._pending_epoch = self._epoch
        self._retrains_started += 1

    def _poll_retrain(self) -> None:
        """Lands the retrain in flight if it is done; otherwise lets its thread run a while."""
        if self._pending.done():  # type: ignore[union-attr]
            self._land()
        else:
            self._share_gil()

    def _share_gil(self) -> None:
        """Lets a retrain thread run if the scoring path has held the GIL for a while."""
        now = time.perf_counter()
        if now - self._gil_shared_at >= GIL_SHARE_S:
            self._gil_shared_at = now
            time.sleep(0)  # releases the GIL; a waiting thread takes it

    def _land(self) -> None:
        """Swaps in the finished retrain (or records why it failed)."""
        future, self._pending = self._pending, None
        if self._pending_epoch != self._epoch:
            return  # started before a reset
        try:
            outcome = future.result()  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - e.g. a worker process died; the stream goes on
            outcome = f"retrain failed: {type(exc).__name__}: {exc}"
        if isinstance(outcome, str):
            self._retrains_failed += 1
            TOTALS.retrain_failures += 1
            self._last_error = outcome
            return
        model = replace(outcome, version=self._version + 1)
        self._model = model  # the atomic swap
        self._version = model.version
        self._retrains_completed += 1
        TOTALS.retrains += 1
        self._last_error = None
        self._last_fit_ms = model.training_time_ms

    # -- batches ----------------------------------------------------------------------------

    def _ingest(self, X: np.ndarray) -> BatchOutcome:
        n = X.shape[0]
        out = BatchOutcome(
            raw=np.full(n, np.nan), score=np.full(n, np.nan), flag=np.zeros(n, dtype=bool),
            scored=np.zeros(n, dtype=bool), until_ready=np.zeros(n, dtype=np.int64),
            version=np.zeros(n, dtype=np.int64), status=np.zeros(n, dtype=np.int8),
            collected=np.zeros(n, dtype=np.int64),
            thresholds=np.full(n, np.nan if self.config.threshold is None else self.config.threshold),
            threshold=None,
        )
        window = self._window
        i = 0
        while i < n:
            if self._pending is not None:
                self._poll_retrain()
            model = self._model
            if model is None:
                i = self._ingest_cold(X, i, out)
                continue
            room = self._interval - self._since if self._pending is None else CHUNK
            k = min(n - i, max(1, room), CHUNK)
            chunk = X[i : i + k]
            before = len(window)  # type: ignore[arg-type]
            features = chunk if self._plain else self._plan.new_rows(window.tail(self._lookback - 1), chunk)  # type: ignore[union-attr]
            window.extend(chunk)  # type: ignore[union-attr]
            self._total += k
            TOTALS.points += k
            raw, score, flag = model.score_many(features)
            end = i + k
            out.raw[i:end], out.score[i:end], out.flag[i:end] = raw, score, flag
            out.scored[i:end] = True
            out.version[i:end] = model.version
            out.status[i:end] = _RETRAINING if self._pending is not None else _READY
            out.collected[i:end] = np.minimum(before + np.arange(1, k + 1), self._window_size)
            out.thresholds[i:end] = model.threshold
            self._scored += k
            self._flagged += int(flag.sum())
            self._since += k
            if self._since >= self._interval and self._pending is None:
                self._start_retrain()
                out.status[end - 1] = _RETRAINING if self._pending is not None else _READY
            i = end
        model = self._model
        out.threshold = model.threshold if model is not None else self.config.threshold
        return out

    def _ingest_cold(self, X: np.ndarray, i: int, out: BatchOutcome) -> int:
        """Appends cold-start rows up to the next fit attempt; fits and scores at that row."""
        window = self._window
        collected, total = self._collected(), self._total
        need = max(1, self._min_samples - collected, self._retry_at - total)
        k = min(X.shape[0] - i, need)
        window.extend(X[i : i + k])  # type: ignore[union-attr]
        self._total += k
        TOTALS.points += k
        steps = np.arange(1, k + 1)
        counts = np.minimum(collected + steps, self._window_size)
        out.collected[i : i + k] = counts
        out.until_ready[i : i + k] = np.maximum(
            0, np.maximum(self._min_samples - counts, self._retry_at - (total + steps))
        )
        out.version[i : i + k] = self._version
        out.status[i : i + k] = _COLLECTING
        end = i + k
        model = self._cold_start()
        if model is not None:
            raw, score, flag = self._score_newest(model, X[end - 1].tolist())
            last = end - 1
            out.raw[last], out.score[last], out.flag[last], out.scored[last] = raw, score, flag, True
            out.version[last] = model.version
            out.thresholds[last] = model.threshold
            out.until_ready[last] = 0
            out.status[last] = _RETRAINING if self._pending is not None else _READY
        else:
            out.until_ready[end - 1] = self._until_ready()
        return end

    # -- reporting and persistence ----------------------------------------------------------

    def _stats(self) -> dict[str, Any]:
        model = self._model
        threshold = model.threshold if model is not None else self.config.threshold
        collected = self._collected() if self._window is not None else 0
        return {
            "object": "streaming_detector",
            "model_id": self.model_id,
            "backend": self._spec.id,
            "status": self.status.value,
            "is_ready": model is not None,
            "model_version": self._version,
            "samples_collected": collected,
            "samples_until_ready": self._until_ready() if self._window is not None else self._min_samples,
            "total_processed": self._total,
            "samples_since_retrain": self._since,
            "min_samples": self._min_samples,
            "retrain_interval": self._interval,
            "window_size": self._window_size,
            "contamination": self.config.contamination,
            "threshold": threshold,
            "threshold_mode": "fixed" if self.config.threshold is not None else "learned",
            "raw_threshold": model.raw_threshold if model is not None else None,
            "points_scored": self._scored,
            "anomalies_detected": self._flagged,
            "anomaly_rate": self._flagged / self._scored if self._scored else 0.0,
            "retrains_started": self._retrains_started,
            "retrains_completed": self._retrains_completed,
            "retrains_failed": self._retrains_failed,
            "last_fit_ms": self._last_fit_ms,
            "last_error": self._last_error,
            "columns": list(self._reader.columns) if self._reader else None,
            "features": list(self._plan.names) if self._plan else None,
            "transforms": [step.describe() for step in self._steps],
            "config": self.config.as_dict(),
            "idle_s": round(time.monotonic() - self.last_used, 3),
        }

    def checkpoint_state(self, close: bool = False) -> dict[str, Any]:
        """A consistent copy of the detector's state, for :mod:`anomd.streaming.checkpoint`.

        A retrain still in flight is not waited for: its points are counted as due, so the
        restored detector simply retrains again.

        Args:
            close: Also close the detector in the same critical section (eviction), so no
                point can slip in between the copy and the close and be lost.
        """
        with self._lock:
            state = self._state()
            if close:
                self._close()
            return state

    def reopen(self) -> None:
        """Undoes :meth:`close` (an eviction whose checkpoint could not be written)."""
        with self._lock:
            self._closed = False

    def _state(self) -> dict[str, Any]:
        # A retrain in flight is dropped; counting its interval as due makes the restored
        # detector start it again on its first point.
        since = max(self._since, self._interval) if self._pending is not None else self._since
        return {
            "columns": list(self._reader.columns) if self._reader else None,
            "rows": self._window.snapshot() if self._window is not None else None,
            "model": self._model,
            "version": self._version,
            "total": self._total,
            "since": since,
            "retry_at": self._retry_at,
            "scored": self._scored,
            "flagged": self._flagged,
            "retrains_started": self._retrains_started,
            "retrains_completed": self._retrains_completed,
            "retrains_failed": self._retrains_failed,
            "last_error": self._last_error,
            "last_fit_ms": self._last_fit_ms,
            "stats": self._stats(),
        }

    def restore_state(self, state: Mapping[str, Any]) -> None:
        """Loads a state produced by :meth:`checkpoint_state` into a fresh detector."""
        with self._lock:
            if state["columns"] is not None:
                reader = PointReader(state["columns"])
                self._begin(reader, FeaturePlan(reader.columns, self._steps))
                self._window.extend(np.asarray(state["rows"], dtype=np.float64))  # type: ignore[union-attr]
            self._model = state["model"]
            self._version = int(state["version"])
            self._total = int(state["total"])
            self._since = int(state["since"])
            self._retry_at = int(state["retry_at"])
            self._scored = int(state["scored"])
            self._flagged = int(state["flagged"])
            self._retrains_started = int(state["retrains_started"])
            self._retrains_completed = int(state["retrains_completed"])
            self._retrains_failed = int(state["retrains_failed"])
            self._last_error = state["last_error"]
            self._last_fit_ms = state["last_fit_ms"]

    def close(self) -> None:
        """Stops the detector: later calls raise :class:`DetectorClosed`; a retrain in flight
        is abandoned (the detector is being evicted or deleted)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._closed = True
        if self._pending is not None:
            self._pending.cancel()

    def __repr__(self) -> str:
        return (
            f"StreamingAnomalyDetector({self.model_id!r}, backend={self._spec.id!r}, "
            f"status={self.status.value}, model_version={self._version})"
        )


def _build_config(**fields: Any) -> StreamConfig:
    import msgspec

    try:
        config = msgspec.convert(fields, StreamConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid streaming configuration: {exc}") from None
    if isinstance(config.threshold, float) and math.isnan(config.threshold):
        raise InvalidInput("threshold must be a finite number, got nan")
    return config.check()
