"""Starting or joining the Dask cluster that runs jobs (``distributed`` is an optional extra).

Without a scheduler address, a ``LocalCluster`` is started on 127.0.0.1: one worker process per
CPU core (``dask_workers``), one thread each, so the detectors' NumPy code runs in parallel
without fighting over the GIL, and no port is reachable from other machines (the dashboard is
bound to loopback too). With an address (``dask_scheduler`` / ``--scheduler``), the same jobs
run on an existing cluster: Kubernetes through the Dask operator, HPC through dask-jobqueue, or
``dask scheduler`` and ``dask worker`` started by hand (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from anomd.errors import AnomdError

if TYPE_CHECKING:
    from distributed import Client

INSTALL_HINT = "pip install 'anomd[dask]' (or: uv sync --extra dask)"
#: ``--scheduler`` value that means "start a local cluster".
LOCAL = "local"


class JobsUnavailable(AnomdError):
    """Jobs need Dask's ``distributed`` package, which is not installed (501)."""

    status_code = 501
    title = "Jobs unavailable"


class ClusterUnreachable(AnomdError):
    """The configured scheduler did not answer (503)."""

    status_code = 503
    title = "Cluster unavailable"


def require_distributed() -> Any:
    """Imports ``distributed``, or says how to install it."""
    try:
        import distributed
    except ImportError:
        raise JobsUnavailable(
            f"jobs run on Dask, and its 'distributed' package is not installed: {INSTALL_HINT}"
        ) from None
    return distributed


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Cluster:
    """A Dask client, connected on first use and kept until :meth:`close`.

    Args:
        scheduler: A scheduler address, or None / ``"local"`` for a LocalCluster.
        workers: LocalCluster workers (None or 0: one per CPU core).
        secret_key: The configured artifact key, handed to local workers through their
            environment (never through a Dask message); empty when the key file is used.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 secret_key: str = "") -> None:
        self.scheduler = None if scheduler in (None, "", LOCAL) else scheduler
        self.workers = workers or cpu_cores()
        self._secret_key = secret_key
        self._client: Client | None = None
        self._local: Any = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        if self.scheduler:
            return self.scheduler
        return f"local cluster: {self.workers} worker processes on 127.0.0.1"

    def client(self) -> Client:
        """The client, starting the local cluster or connecting to the scheduler if needed.

        Raises:
            JobsUnavailable: ``distributed`` is not installed.
            ClusterUnreachable: The scheduler address does not answer.
        """
        with self._lock:
            if self._client is not None:
                return self._client
            distributed = require_distributed()
            if self.scheduler:
                try:
                    self._client = distributed.Client(self.scheduler, timeout=30)
                except (OSError, TimeoutError) as exc:
                    raise ClusterUnreachable(
                        f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
            else:
                self._local = self._start_local(distributed)
                self._client = distributed.Client(self._local)
            return self._client

    def _start_local(self, distributed: Any) -> Any:
        import dask

        env = {"ANOMD_SECRET_KEY": self._secret_key} if self._secret_key else {}
        # One thread per worker, as Dask does for BLAS and OpenMP: Polars' own pool (one thread
        # per core in every worker) would put cores x workers threads on the cores.
        env.setdefault("POLARS_MAX_THREADS", os.environ.get(
            "POLARS_MAX_THREADS", str(max(1, cpu_cores() // self.workers))))
        # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers to hand freed memory back to the
        # system sooner. Setting it also fixes glibc's mmap threshold, so every large NumPy
        # temporary is a fresh mmap whose pages fault in again: measured here, an isolation
        # forest scored 2.5 x slower in a worker than in this process. Left unset, workers
        # allocate like any other Python process.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return distributed.LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address="127.0.0.1:0", env=env,
                # A task's error is the job's error, reported in its record; the workers'
                # own log lines would repeat it on the server's stderr.
                silence_logs=logging.CRITICAL,
            )

    @property
    def address(self) -> str:
        """The scheduler's address (starting the cluster if needed)."""
        return str(self.client().scheduler.address)

    def worker_count(self) -> int:
        return len(self.client().scheduler_info(n_workers=-1)["workers"]) or 1

    def close(self) -> None:
        with self._lock:
            client, local = self._client, self._local
            self._client = self._local = None
        if client is not None:
            client.close()
        if local is not None:
            local.close()
