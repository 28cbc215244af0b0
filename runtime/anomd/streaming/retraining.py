"""The "tock" machinery: start a stream's retrain off the scoring path, land it at a fixed point.

A retrain starts right after the point that completes a ``retrain_interval`` and lands right
after the point ``retrain_lag`` points later, waiting for the fit there if it is not done yet.
Where the fit runs (a worker thread, a worker process, inline) therefore decides only how long
that one point may wait, never which model scores which point: the same points and
configuration give the same scores on every run, whatever the executor and however loaded the
machine. The earlier rule, "land whenever the thread happens to finish", made replays of one
series flag 207 to 408 points from one run to the next.

A retrain in flight keeps the rows it was started with, so a checkpoint can carry it and a
restored stream starts the same fit again and lands it at the same point.
"""

from __future__ import annotations

import pickle
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor

import numpy as np

from anomd.streaming.executors import shared_thread_executor
from anomd.streaming.training import FitJob, LiveModel, fit_window_or_error

#: Longest the learning path holds the GIL while a fit runs on a thread of this process.
GIL_SHARE_S = 0.001


class Retrainer:
    """At most one retrain of one stream: where it runs, when it lands.

    Args:
        executor: Where fits run. A process pool (or any executor with ``pickles = True``) is
            used only if the stream's fit job pickles; otherwise fits go to the shared threads.
        lag: Points learned between a retrain's start and its landing.
    """

    __slots__ = ("_executor", "_future", "_gil_shared_at", "_threads", "lag", "land_at", "rows")

    def __init__(self, executor: Executor, lag: int) -> None:
        self._executor = executor
        self.lag = lag
        self._future: Future | None = None
        #: The window snapshot the retrain in flight fits on (None when idle).
        self.rows: np.ndarray | None = None
        #: Points learned after which the retrain in flight lands.
        self.land_at = 0
        self._threads = not (isinstance(executor, ProcessPoolExecutor) or getattr(executor, "pickles", False))
        self._gil_shared_at = 0.0

    @property
    def pending(self) -> bool:
        return self._future is not None

    def use(self, job: FitJob) -> None:
        """Moves fits to threads if ``job`` cannot travel to the executor's processes."""
        if self._threads:
            return
        try:
            pickle.dumps(job)
        except Exception:  # noqa: BLE001 - e.g. a plugin whose build is a lambda
            self._executor = shared_thread_executor()
            self._threads = True

    def start(self, job: FitJob, rows: np.ndarray, learned: int, land_at: int | None = None) -> str | None:
        """Submits a fit of ``rows``; it lands after point ``learned + lag`` (or ``land_at``).

        Returns:
            None, or why the retrain could not start (the executor is shut down because the
            process is exiting); the stream then keeps scoring on its current model.
        """
        try:
            self._future = self._executor.submit(fit_window_or_error, job, rows, 0)
        except RuntimeError as exc:
            return f"retrain not started: {exc}"
        self.rows = rows
        self.land_at = learned + self.lag if land_at is None else land_at
        return None

    def due(self, learned: int) -> bool:
        """Whether the retrain in flight lands after point ``learned``."""
        return self._future is not None and learned >= self.land_at

    def would_wait(self, learned: int) -> bool:
        """Whether landing after point ``learned`` would have to wait for an unfinished fit."""
        return self.due(learned) and not self._future.done()  # type: ignore[union-attr]

    def collect(self) -> LiveModel | str:
        """Waits for the retrain in flight and returns its model, or why it failed."""
        future = self._future
        self._future = self.rows = None
        try:
            return future.result()  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - e.g. a worker process died; the stream goes on
            return f"retrain failed: {type(exc).__name__}: {exc}"

    def drop(self) -> None:
        """Forgets the retrain in flight (reset, close); its result is never used."""
        if self._future is not None:
            self._future.cancel()
        self._future = self.rows = None

    def share_gil(self) -> None:
        """Lets a fit on a worker thread run if the learning path has held the GIL a while.

        Learning a point is pure Python and never releases the GIL by itself, so in a tight
        loop a fit on a thread would advance only at the interpreter's 5 ms switch interval,
        between every pair of numpy calls it makes, and the landing point would then wait for
        nearly all of it. Handing the GIL over once a millisecond lets the fit overlap ticks.
        """
        if self._future is None or not self._threads:
            return
        now = time.perf_counter()
        if now - self._gil_shared_at >= GIL_SHARE_S:
            self._gil_shared_at = now
            time.sleep(0)
