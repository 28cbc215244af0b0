"""One job from start to end on a Dask client: checks, tasks, progress, faults, clean-up.

The order of work is what makes the guarantees:

1. Everything that can be checked before work starts is (the input lists to at least one file,
   output names do not collide, the model exists, the backend and its params are valid), so
   the commonest mistakes fail the job at once, naming the file or model, with nothing written.
2. One task per input file (score), or per file and then per group bucket (fit_groups,
   detect). Dask reruns a task whose worker died on another worker; a task writes its one
   output file with a single atomic put under a name fixed by its input file, so a rerun
   replaces rather than duplicates, and a job run twice writes the same files.
3. If any task fails, or the job is cancelled, every task still queued is told to stop (the
   job's cancel mark), the runner waits until no task of the job is running, then removes every
   output file the job would have written: a failed or cancelled job leaves no part of its
   output. fit_groups reads and checks every file before the first model is fitted (the bucket
   tasks need all the splits), so bad input never leaves half the group models refitted.
   Memory admission keeps the same promise: each task estimates its file's working memory from
   the file's metadata before reading it, and every group's fit is admitted before the first
   bucket fits (:mod:`anomd.jobs.admission`).
4. On success a small manifest (``_anomd_job.json``) is written last, naming the files.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog

from anomd.backend_catalog import params_for
from anomd.detectors import DetectorSpec
from anomd.errors import AnomdError, InvalidInput, NotFound
from anomd.jobs.cluster import Cluster
from anomd.jobs.dataset import MANIFEST
from anomd.jobs.groups import GROUP_ROOM
from anomd.jobs.locations import (
    Location,
    Partition,
    check_disjoint,
    list_partitions,
    open_location,
    parse,
)
from anomd.jobs.records import GroupModels, JobRecord, elapsed, now_iso
from anomd.jobs.spec import JobRequest
from anomd.jobs.store import JobStore
from anomd.jobs.tasks import (
    BucketStats,
    FitPlan,
    PartitionResult,
    ScorePlan,
    SplitStats,
    admit_groups,
    first,
    fit_bucket,
    piece,
    score_partition,
    split_partition,
)
from anomd.jobs.worker import job_context
from anomd.model_store import storage_errors
from anomd.names import MODELS_PREFIX, SUFFIX, model_filename
from anomd.service import AnomalyService
from anomd.storage import Storage

log = structlog.get_logger("anomd.jobs")

#: How often a running job reports (its heartbeat) and looks for a cancel mark in the store.
TICK_S = 1.0
MARK_CHECK_S = 2.0
#: Group buckets per worker: enough to even out uneven groups, few enough to keep tasks cheap.
BUCKETS_PER_WORKER = 4
MAX_BUCKETS = 512
#: Names of unseen or failed groups quoted in a warning before "and N more".
QUOTED = 10


class Cancelled(Exception):
    """The job was cancelled; ``reason`` goes into the record's ``error``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobControl:
    """How the caller follows and steers a run.

    Attributes:
        cancelled: Returns a reason once the caller wants the job stopped, else None.
        report: Called with the record whenever progress changes, and at least every second
            (the manager persists it; the CLI moves its progress bar).
    """

    cancelled: Callable[[], str | None] = lambda: None
    report: Callable[[JobRecord], None] = lambda record: None


class DatasetManifest(msgspec.Struct, kw_only=True):
    """``_anomd_job.json``: the files of a finished output, and what made them."""

    job: str
    kind: str
    model: str | None
    backend: str | None
    files: list[str]
    rows: int
    anomalies: int
    finished: str


@dataclass
class _Watch:
    """Futures being waited on, each with what to do with its result."""

    handlers: dict[Any, Callable[[Any], None]] = field(default_factory=dict)

    def add(self, future: Any, handler: Callable[[Any], None]) -> None:
        self.handlers[future] = handler


class JobRun:
    """Runs ``record``'s job on ``cluster`` and keeps ``record`` up to date."""

    def __init__(self, service: AnomalyService, cluster: Cluster, record: JobRecord,
                 control: JobControl | None = None) -> None:
        self.service = service
        self.settings = service.settings
        self.cluster = cluster
        self.record = record
        self.request: JobRequest = record.request
        self.control = control or JobControl()
        self.store = JobStore(service.storage)
        self.context = job_context(record.id, service.settings)
        self._held: list[Any] = []  # futures that may still write: waited for before clean-up
        self._next_mark_check = 0.0
        self._last_report = 0.0
        #: Removes what the job wrote; set once the output folder is known.
        self._cleanup: Callable[[], None] | None = None

    # -- the whole run ---------------------------------------------------------------------

    def run(self) -> JobRecord:
        record = self.record
        record.status = "running"
        record.timings.started = now_iso()
        record.timings.queued_s = elapsed(record.timings.created, record.timings.started)
        self._report(force=True)
        try:
            self._check_cancelled()
            if self.request.kind == "score":
                self._score()
            elif self.request.kind == "fit_groups":
                self._fit_groups()
            else:
                self._detect()
            record.status = "succeeded"
        except Cancelled as stop:
            self._stop()
            record.status, record.error = "cancelled", stop.reason
        except AnomdError as exc:
            self._stop()
            record.status, record.error = "failed", exc.detail
        except Exception as exc:  # a job never takes its caller down
            self._stop()
            record.status, record.error = "failed", _unexpected(exc)
            if not _is_killed_worker(exc):
                log.exception("job failed unexpectedly", job=record.id)
        finally:
            self._clear_mark()
        record.timings.finished = now_iso()
        record.timings.running_s = elapsed(record.timings.started, record.timings.finished)
        record.timings.task_s = round(record.timings.task_s, 3)
        self._report(force=True)
        return record

    # -- kinds ---------------------------------------------------------------------------------

    def _score(self) -> None:
        req = self.request
        parts, target = self._dataset_io()
        backend = req.backend or self.settings.default_backend
        self._check_models(req.model or "", backend)
        output = self._prepare_output(target, parts)
        plan = self._score_plan(target, req.model, backend)
        client = self._client()
        futures = [client.submit(score_partition, self.context, plan, part,
                                 key=f"anomd-{self.record.id}-score-{part.index}")
                   for part in parts]
        self._score_phase(futures, parts, output)

    def _fit_groups(self) -> None:
        req = self.request
        _, parts = self._input()
        spec = self._check_fit()
        assert spec is not None
        plan = self._fit_plan(spec.id, req.model or "", store=True)
        client = self._client()
        self._fit_phase(client, plan, parts)
        fitted = self.record.progress.groups_done
        if fitted == 0:
            raise InvalidInput("no group could be fitted: " + "; ".join(self.record.warnings[-1:]))
        self.record.models = GroupModels(model=plan.model, backend=spec.id, count=fitted)

    def _detect(self) -> None:
        parts, target = self._dataset_io()
        spec = self._check_fit()
        assert spec is not None
        output = self._prepare_output(target, parts)
        plan = self._fit_plan(spec.id, "detect", store=False)
        client = self._client()
        buckets = self._fit_phase(client, plan, parts)
        if self.record.progress.groups_done == 0:
            raise InvalidInput("no group could be fitted: " + "; ".join(self.record.warnings[-1:]))
        score_plan = self._score_plan(target, "detect", spec.id)
        futures = [client.submit(score_partition, self.context, score_plan, part, *buckets,
                                 key=f"anomd-{self.record.id}-score-{part.index}")
                   for part in parts]
        self._score_phase(futures, parts, output)

    # -- checks before any task ----------------------------------------------------------------

    def _input(self) -> tuple[Location, list[Partition]]:
        source = parse(self.request.input, "input")
        parts = list_partitions(source, self.context.data_options, self.service.plugins.storage)
        self.record.progress.partitions_total = len(parts)
        return source, parts

    def _dataset_io(self) -> tuple[list[Partition], Location]:
        source, parts = self._input()
        target = parse(self.request.output or "", "output")
        check_disjoint(source, target)
        seen: dict[str, str] = {}
        for part in parts:
            other = seen.setdefault(part.output_key, part.uri)
            if other != part.uri:
                raise InvalidInput(f"input files {other!r} and {part.uri!r} would both be written "
                                   f"as {part.output_key!r}; rename one")
        self.record.output = target.uri
        return parts, target

    def _check_models(self, model: str, backend: str) -> None:
        """The model (or, with group_by, at least one group model) exists and its manifest
        verifies; workers verify each model again before they unpickle it."""
        if self.request.group_by is None:
            try:
                self.service.models.manifest(model_filename(model, backend))
            except NotFound:
                raise NotFound(f"model {model!r} with backend {backend!r} not found "
                               f"({model_filename(model, backend)}); fit it first") from None
            return
        prefix = f"{MODELS_PREFIX}{model}."
        suffix = f"_{backend}{SUFFIX}"
        with storage_errors("listing the group models"):
            found = any(o.key.endswith(suffix) for o in self.service.storage.list(prefix))
        if not found:
            raise NotFound(f"no group models {model}.<group> with backend {backend!r} are stored; "
                           "fit them with a fit_groups job first")

    def _check_fit(self) -> DetectorSpec:
        return check_backend(self.service, self.request)

    def _prepare_output(self, target: Location, parts: list[Partition]) -> Storage:
        output = open_location(target.uri, self.context.data_options, self.service.plugins.storage)
        with storage_errors(f"preparing {target.uri}"):
            output.delete(MANIFEST)  # the folder is being rewritten: no stale "finished" mark
        self._cleanup = lambda: _remove_outputs(output, parts)
        return output

    # -- plans ---------------------------------------------------------------------------------

    def _score_plan(self, target: Location, model: str | None, backend: str) -> ScorePlan:
        req = self.request
        return ScorePlan(output=target.uri, model=model, backend=backend, columns=req.columns,
                         keep=req.keep, group_by=req.group_by, threshold=req.threshold,
                         normalization=req.normalization if req.kind == "score" else None,
                         unseen=req.unseen, name_limit=self.settings.max_name_length)

    def _fit_plan(self, backend: str, model: str, store: bool) -> FitPlan:
        req = self.request
        buckets = min(MAX_BUCKETS, BUCKETS_PER_WORKER * self.cluster.worker_count())
        if req.group_by is None:
            buckets = 1
        return FitPlan(model=model, backend=backend, params=req.params,
                       contamination=req.contamination,
                       normalization=req.normalization or "standardization", columns=req.columns,
                       group_by=req.group_by, buckets=buckets, store=store, job_id=self.record.id,
                       name_limit=self.settings.max_name_length)

    # -- phases --------------------------------------------------------------------------------

    def _client(self) -> Any:
        self.record.cluster = self.cluster.describe()
        client = self.cluster.client()
        self._report(force=True)
        return client

    def _fit_phase(self, client: Any, plan: FitPlan, parts: list[Partition]) -> list[Any]:
        """Splits every file by group bucket, then fits each bucket; returns the bucket futures
        (a detect job scores with their models)."""
        job = self.record.id
        splits = [client.submit(split_partition, self.context, plan, part,
                                key=f"anomd-{job}-split-{part.index}") for part in parts]
        split_stats = [client.submit(first, s, key=f"anomd-{job}-splitstats-{i}")
                       for i, s in enumerate(splits)]
        # Every group's fit is admitted (memory) before any bucket fits: a group too large
        # fails the job before the first model is stored.
        admitted = client.submit(admit_groups, self.context, plan, *split_stats,
                                 key=f"anomd-{job}-admit")
        buckets = []
        for b in range(plan.buckets):
            pieces = [client.submit(piece, s, b, key=f"anomd-{job}-piece-{i}-{b}")
                      for i, s in enumerate(splits)]
            buckets.append(client.submit(fit_bucket, self.context, plan, b, admitted, *pieces,
                                         key=f"anomd-{job}-fit-{b}"))
        self._held = list(buckets)
        progress = self.record.progress
        groups: set[str] = set()
        failed: list[tuple[str, str]] = []

        def on_split(stats: SplitStats) -> None:
            self.record.timings.task_s += stats.seconds
            progress.partitions_done += 1
            progress.rows_done += stats.rows
            groups.update(stats.groups)
            if progress.partitions_done == progress.partitions_total:
                progress.rows_total = progress.rows_done
                progress.groups_total = len(groups)

        def on_bucket(stats: BucketStats) -> None:
            self.record.timings.task_s += stats.seconds
            progress.groups_done += stats.groups
            progress.groups_failed += len(stats.failed)
            failed.extend(stats.failed)

        watch = _Watch()
        for stats in split_stats:
            watch.add(stats, on_split)
        for b, bucket in enumerate(buckets):
            watch.add(client.submit(first, bucket, key=f"anomd-{job}-fitstats-{b}"), on_bucket)
        del splits, split_stats, admitted
        self._drain(watch)
        if failed:
            failed.sort()
            quoted = "; ".join(f"{g!r}: {reason}" for g, reason in failed[:QUOTED])
            more = f"; and {len(failed) - QUOTED} more" if len(failed) > QUOTED else ""
            self.record.warnings.append(
                f"{len(failed)} group(s) could not be fitted and have no model: {quoted}{more}")
        return buckets

    def _score_phase(self, futures: list[Any], parts: list[Partition], output: Storage) -> None:
        self._held = self._held + futures
        progress = self.record.progress
        unseen: set[str] = set()
        unseen_rows = 0

        def on_part(result: PartitionResult) -> None:
            nonlocal unseen_rows
            self.record.timings.task_s += result.seconds
            progress.partitions_done += 1
            progress.rows_done += result.rows
            progress.anomalies += result.anomalies
            unseen_rows += result.unseen_rows
            unseen.update(result.unseen_groups)

        if self.request.kind == "detect":
            progress.partitions_done = 0
            progress.rows_done = 0
        watch = _Watch()
        for future in futures:
            watch.add(future, on_part)
        self._drain(watch)
        progress.rows_total = progress.rows_done
        if unseen:
            names = sorted(unseen)
            quoted = ", ".join(map(repr, names[:QUOTED]))
            more = f" and {len(names) - QUOTED} more" if len(names) > QUOTED else ""
            verb = "dropped" if self.request.unseen == "drop" else "given null scores"
            self.record.warnings.append(
                f"{unseen_rows} row(s) of {len(names)} group(s) without a model were {verb}: "
                f"{quoted}{more}")
        manifest = DatasetManifest(
            job=self.record.id, kind=self.request.kind, model=self.request.model,
            backend=self.request.backend, files=sorted(p.output_key for p in parts),
            rows=progress.rows_done, anomalies=progress.anomalies, finished=now_iso())
        with storage_errors(f"finishing {self.record.output}"):
            output.put(MANIFEST, msgspec.json.encode(manifest))
        self._cleanup = None
        # A filesystem output sweeps temporary files of writers that died (a killed worker's
        # unfinished put) when it is opened; open it once more now that every task is done.
        open_location(self.record.output or "", self.context.data_options,
                      self.service.plugins.storage)

    # -- waiting, stopping ---------------------------------------------------------------------

    def _drain(self, watch: _Watch) -> None:
        from distributed import wait

        pending = set(watch.handlers)
        while pending:
            try:
                done, pending = wait(list(pending), timeout=TICK_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                handler = watch.handlers.pop(future)
                result = future.result()  # raises the task's own error
                future.release()
                handler(result)
            self._check_cancelled()
            self._report(force=bool(done))

    def _check_cancelled(self) -> None:
        reason = self.control.cancelled()
        if reason is None and time.monotonic() >= self._next_mark_check:
            self._next_mark_check = time.monotonic() + MARK_CHECK_S
            if self.store.cancel_requested(self.record.id):
                reason = "cancelled on request"
        if reason is not None:
            self.record.cancel_requested = True
            raise Cancelled(reason)

    def _stop(self) -> None:
        """Stops the job's tasks, waits until none runs, then removes its output."""
        held = [f for f in self._held if not f.done()]
        if held:
            try:
                self.store.request_cancel(self.record.id)
            except AnomdError:
                pass  # the tasks then run to the end; the wait below still holds
            from distributed import wait

            # A cluster closing under us (shutdown) ends the wait: nothing runs anymore.
            with contextlib.suppress(Exception):
                wait(held)
        self._held = []
        if self._cleanup is not None:
            try:
                self._cleanup()
            except AnomdError as exc:
                self.record.warnings.append(f"could not remove the partial output: {exc.detail}")
            self._cleanup = None

    def _clear_mark(self) -> None:
        try:
            self.store.clear_cancel(self.record.id)
        except AnomdError:
            pass

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_report >= TICK_S:
            self._last_report = now
            self.record.heartbeat = now_iso()
            self.control.report(self.record)


def check_backend(service: AnomalyService, request: JobRequest) -> DetectorSpec | None:
    """The backend a job fits with (None for score jobs, whose model names it) and its params,
    refused clearly: unknown (404), disabled (403), bad params or name too long (422)."""
    if request.kind == "score":
        if request.backend is not None:
            service.detector(request.backend)
        return None
    spec = service.detector(request.backend)
    spec.parse_params(params_for(service.settings, spec.id, request.params))
    limit = service.settings.max_name_length - GROUP_ROOM
    if request.kind == "fit_groups" and len(request.model or "") > limit:
        raise InvalidInput(f"model name {request.model!r} leaves no room for group names: "
                           f"use at most {limit} characters")
    return spec


def _remove_outputs(output: Storage, parts: list[Partition]) -> None:
    with storage_errors("removing the partial output"):
        for part in parts:
            output.delete(part.output_key)
        output.delete(MANIFEST)


def _is_killed_worker(exc: BaseException) -> bool:
    return type(exc).__name__ == "KilledWorker"


def _unexpected(exc: BaseException) -> str:
    if _is_killed_worker(exc):
        return (f"workers kept dying while running a task ({exc}); a file may need more memory "
                "than a worker has")
    return f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it"
