"""Where retrains ("tocks") run: worker threads, worker processes, or inline.

* Threads (the default for the Python API): no start-up cost and nothing to pickle, but a
  retrain's Python code competes with scoring for the GIL.
* Processes (what the server uses): retrains run truly in parallel with scoring, which keeps
  tick latency flat while a retrain runs; each worker costs one Python process and a start-up.
* Inline: the retrain runs inside the call that triggers it. Deterministic, so replays and
  accuracy benchmarks give the same numbers every run; tick latency then includes fits.

Whatever runs it, a detector has at most one retrain in flight and polls its future on the
scoring path, so a caller that never yields to an event loop still sees retrains land.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Any

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
