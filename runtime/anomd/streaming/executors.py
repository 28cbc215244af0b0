"""Where retrains ("tocks") run: worker threads, worker processes, or inline.

* Threads (the default, for the server and the Python API): no start-up cost and nothing to
  pickle; a retrain's Python code shares the GIL with scoring.
* Processes (``stream_retrain_mode = "process"``): retrains run in parallel with scoring
  without the GIL; each worker costs one Python process and seconds to start.
* Inline: the retrain runs inside the call that starts it (no thread at all; the one landing
  point then never waits).

Whatever runs it, a detector has at most one retrain in flight and lands it at the same point
(``retrain_lag`` points after it started, :mod:`anomd.streaming.retraining`), so the executor
changes how long that point may wait, never a result.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

#: Seconds worker processes get to finish their task and exit at shutdown before termination.
WORKER_EXIT_S = 3.0

_shared: ThreadPoolExecutor | None = None
_shared_lock = threading.Lock()


class InlineExecutor(Executor):
    """Runs each task at submission, in the submitting thread (deterministic retrains)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as pools do
            future.set_exception(exc)
        return future


def shared_thread_executor() -> ThreadPoolExecutor:
    """The process-wide retrain pool of standalone detectors (2 threads, created lazily)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ThreadPoolExecutor(max_workers=2, thread_name_prefix="anomd-retrain")
        return _shared


def _warm() -> bool:
    """Imports the plugins and fits the default backend once, in a fresh worker process."""
    import numpy as np

    from anomd.plugins import PluginHost

    host = PluginHost()
    spec = host.detectors.get("ecod")
    if spec is not None and spec.available:
        X = np.random.default_rng(0).normal(size=(64, 2))
        spec.build(spec.parse_params({}), 0.1).fit(X).score(X[:1])
    return True


def process_executor(workers: int, warm: bool = True) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes for retrains.

    ``spawn`` rather than ``fork``: the server has threads running, and forking a threaded
    process can inherit locks held by threads that do not exist in the child.

    Args:
        workers: Number of processes.
        warm: Start every worker now and fit once in each (imports, JIT), so the first
            retrains are not slow; blocks until they are up.
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    if warm:
        wait([pool.submit(_warm) for _ in range(workers)])
    return pool


class RetrainPool(Executor):
    """The server's retrain executor: started on first use, repaired if a worker dies.

    In ``process`` mode a fresh worker process needs seconds to import the backends. Until the
    workers have started and fitted once, retrains run on threads, so a stream on a server that
    just started is never left on a stale model while its workers come up. A process pool
    whose worker was killed (out of memory, a signal) refuses all further work; the next
    submission then starts a new pool (threads again until it is up).

    Args:
        mode: ``process`` or ``thread``.
        workers: Pool size (processes, and threads for the fallback or ``thread`` mode).
    """

    def __init__(self, mode: str, workers: int) -> None:
        self.mode = mode
        self.workers = workers
        #: Tells detectors their fit jobs must pickle (they fall back to threads otherwise).
        self.pickles = mode == "process"
        self._threads: ThreadPoolExecutor | None = None
        self._processes: ProcessPoolExecutor | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def processes_ready(self) -> bool:
        """Whether retrains go to the worker processes (rather than the thread fallback)."""
        return self._ready.is_set()

    def _thread_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the retrain pool is shut down")
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="anomd-retrain")
            return self._threads

    def _process_pool(self) -> ProcessPoolExecutor:
        """The process pool, started (and its warm-up sent) on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the retrain pool is shut down")
            if self._processes is None:
                pool = process_executor(self.workers, warm=False)
                self._processes = pool
                warming = [pool.submit(_warm) for _ in range(self.workers)]
                remaining = [len(warming)]

                def one_done(_: Future) -> None:
                    with self._lock:
                        remaining[0] -= 1
                        if remaining[0] == 0 and self._processes is pool:
                            self._ready.set()

                for future in warming:
                    future.add_done_callback(one_done)
            return self._processes

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if not self.pickles:
            return self._thread_pool().submit(fn, *args, **kwargs)
        pool = self._process_pool()
        if self._ready.is_set():
            try:
                return pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                with self._lock:
                    if self._processes is pool:
                        self._processes = None
                        self._ready.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                self._process_pool()  # start a new one; threads until it is up
        return self._thread_pool().submit(fn, *args, **kwargs)

    def warm(self, timeout: float | None = None) -> bool:
        """Starts the workers and waits until they have fitted once (call off the event loop)."""
        if not self.pickles:
            self._thread_pool()
            return True
        self._process_pool()
        return self._ready.wait(timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stops both pools without waiting long for worker processes.

        A retrain in flight only matters to a detector that is being checkpointed anyway (its
        checkpoint carries the retrain, which the restored detector starts again), so workers
        get :data:`WORKER_EXIT_S` to finish their task and exit, then are terminated: one still
        importing the backends would otherwise hold up shutdown for seconds. They are not
        terminated at once because a worker killed while it writes a result leaves a partial
        message in the result pipe, on which the pool's manager thread (joined at interpreter
        exit) would block forever.
        """
        with self._lock:
            self._closed = True
            processes, threads = self._processes, self._threads
            self._processes = self._threads = None
        if processes is not None:
            workers = list(getattr(processes, "_processes", {}).values())  # no public handle
            processes.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + WORKER_EXIT_S
            for worker in workers:
                worker.join(max(0.0, deadline - time.monotonic()))
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join(5)
        if threads is not None:
            threads.shutdown(wait=wait, cancel_futures=cancel_futures)
