"""The server's jobs: validated on submit, run on a few threads, persisted as they go.

Each job runs on one of ``max_running_jobs`` threads (later ones wait as ``queued``), driving
tasks on the Dask cluster, which the manager starts (or joins) at the first job and keeps for
the server's lifetime. Records are written to anomd's store on submit, about once a second while
they change, every few seconds as a heartbeat, and at the end, so any server process sharing the
store can answer for any job, and a restart loses none.

A job whose process died cannot say so. Readers therefore judge: a job still ``queued`` or
``running`` whose heartbeat is older than ``job_lost_after_s`` and that no thread of this
process runs is recorded as failed, with the reason. At an orderly shutdown the manager cancels
its jobs (their output is removed as for any cancel) and records why.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import structlog

from anomd.errors import AnomdError, Conflict, NotFound
from anomd.jobs.cluster import Cluster, require_distributed
from anomd.jobs.locations import check_allowed, parse
from anomd.jobs.records import JobRecord, elapsed, new_record, now_iso
from anomd.jobs.runner import JobControl, JobRun, check_backend
from anomd.jobs.spec import JobRequest, check_request
from anomd.jobs.store import JobStore, check_job_id
from anomd.service import AnomalyService

log = structlog.get_logger("anomd.jobs")

SHUTDOWN_REASON = ("the server stopped while the job ran; its output was removed. Submit it "
                   "again: a job run twice writes the same result")
#: How long shutdown waits for running jobs to wind down before it closes the cluster.
SHUTDOWN_GRACE_S = 10.0


@dataclass
class _Active:
    """A job this process runs (or has queued)."""

    record: JobRecord
    cancel_reason: str | None = None
    done: bool = False
    saved_at: float = 0.0


def copy(record: JobRecord) -> JobRecord:
    """A snapshot the job's thread will not change while it is being sent."""
    return msgspec.json.decode(msgspec.json.encode(record), type=JobRecord)


class JobManager:
    """Submit, follow, list and cancel jobs; one per server process."""

    def __init__(self, service: AnomalyService) -> None:
        self.service = service
        self.settings = service.settings
        self.store = JobStore(service.storage)
        self.cluster = Cluster(self.settings.dask_scheduler or None, self.settings.dask_workers or None,
                               self.settings.secret_key)
        self._pool = ThreadPoolExecutor(self.settings.max_running_jobs, thread_name_prefix="anomd-job")
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._beat: threading.Thread | None = None
        self.beat_s = min(5.0, self.settings.job_lost_after_s / 4)

    # -- submit ------------------------------------------------------------------------------

    def validate(self, request: JobRequest) -> JobRequest:
        """Checks that need no data: fields, locations and their roots, backend and params.

        Raises:
            AnomdError: 422 for a bad field, 403/404 for the backend, 501 without ``distributed``.
        """
        require_distributed()
        check_request(request, self.settings.max_name_length)
        roots = self.settings.job_roots
        check_allowed(parse(request.input, "input"), roots, "input")
        if request.output is not None:
            check_allowed(parse(request.output, "output"), roots, "output")
        check_backend(self.service, request)
        return request

    def submit(self, request: JobRequest, warnings: list[str] | None = None) -> JobRecord:
        if self._closing.is_set():
            raise Conflict("the server is shutting down; submit the job to another one")
        record = new_record(self.validate(request))
        record.warnings = list(warnings or [])
        record.cluster = self.cluster.describe()
        self.store.save(record)
        active = _Active(record)
        with self._lock:
            self._active[record.id] = active
            if self._beat is None:
                self._beat = threading.Thread(target=self._heartbeats, name="anomd-job-heartbeat",
                                              daemon=True)
                self._beat.start()
        queued = copy(record)  # as stored: the thread may start it at once
        self._pool.submit(self._run, active)
        return queued

    def _run(self, active: _Active) -> None:
        record = active.record
        try:
            if active.cancel_reason is not None:  # cancelled (or shut down) while queued
                record.status, record.error = "cancelled", active.cancel_reason
                record.timings.finished = now_iso()
            else:
                control = JobControl(cancelled=lambda: active.cancel_reason,
                                     report=lambda _: self._save(active))
                JobRun(self.service, self.cluster, record, control).run()
        except Exception:  # JobRun catches job errors; this is a bug in the manager itself
            log.exception("job thread failed", job=record.id)
            record.status, record.error = "failed", "internal error running the job; see the server log"
        finally:
            with self._lock:
                active.done = True
                self._active.pop(record.id, None)
                self._save_now(record)

    # -- persistence -------------------------------------------------------------------------

    def _save(self, active: _Active, every: float = 1.0) -> None:
        now = datetime.now(UTC).timestamp()
        with self._lock:
            if active.done or now - active.saved_at < every:
                return
            active.saved_at = now
            active.record.heartbeat = now_iso()
            self._save_now(active.record)

    def _save_now(self, record: JobRecord) -> None:
        try:
            self.store.save(record)
        except AnomdError as exc:  # the store is down: the next save will try again
            log.warning("could not save job record", job=record.id, error=exc.detail)

    def _heartbeats(self) -> None:
        while not self._closing.wait(self.beat_s):
            with self._lock:
                active = list(self._active.values())
            for job in active:
                self._save(job, every=self.beat_s / 2)

    # -- read ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        check_job_id(job_id)
        with self._lock:
            active = self._active.get(job_id)
            if active is not None:
                return copy(active.record)
        record = self.store.get(job_id)
        if record is None:
            raise NotFound(f"no job {job_id!r}")
        return self._judge(record)

    def list(self) -> list[JobRecord]:
        records = self.store.list()
        with self._lock:
            live = {job_id: copy(a.record) for job_id, a in self._active.items()}
        return [live.get(r.id) or self._judge(r) for r in records]

    def _judge(self, record: JobRecord) -> JobRecord:
        """Records a job as failed when the process running it has stopped reporting."""
        if record.finished or record.heartbeat is None:
            return record
        silent = elapsed(record.heartbeat, now_iso()) or 0.0
        if silent < self.settings.job_lost_after_s:
            return record
        record.status = "failed"
        record.error = (f"lost: no sign of life from the process running it since {record.heartbeat} "
                        "(it crashed or was killed); its output may be incomplete. Submit it "
                        "again: a job run twice writes the same result")
        record.timings.finished = now_iso()
        self._save_now(record)
        return record

    # -- cancel --------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobRecord:
        """Asks the job to stop; it ends as ``cancelled`` once its running tasks have finished.

        Raises:
            NotFound: No such job.
            Conflict: It has already finished.
        """
        check_job_id(job_id)
        with self._lock:
            active = self._active.get(job_id)
            if active is not None:
                active.cancel_reason = active.cancel_reason or "cancelled on request"
                active.record.cancel_requested = True
                return copy(active.record)
        record = self.get(job_id)
        if record.finished:
            raise Conflict(f"job {job_id!r} has already {record.status}; there is nothing to cancel")
        self.store.request_cancel(job_id)  # the process running it looks for this mark
        record.cancel_requested = True
        return record

    # -- shutdown --------------------------------------------------------------------------------

    def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Cancels this process's jobs, waits for them a little, then closes the cluster."""
        self._closing.set()
        with self._lock:
            active = list(self._active.values())
            for job in active:
                job.cancel_reason = SHUTDOWN_REASON
        self._pool.shutdown(wait=False, cancel_futures=False)
        deadline = datetime.now(UTC).timestamp() + grace_s
        for thread in list(getattr(self._pool, "_threads", ())):
            thread.join(max(0.0, deadline - datetime.now(UTC).timestamp()))
        self.cluster.close()  # ends any wait still going: the local workers are gone
        for thread in list(getattr(self._pool, "_threads", ())):
            thread.join(5.0)
        with self._lock:
            for job in list(self._active.values()):
                job.done = True
                job.record.status, job.record.error = "cancelled", SHUTDOWN_REASON
                job.record.timings.finished = now_iso()
                self._save_now(job.record)
            self._active.clear()
