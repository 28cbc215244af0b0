"""A job's state as it is stored, listed and shown: ``JobRecord`` and its parts.

A record is written to anomd's store when the job is submitted and again as it progresses, so
``GET /jobs/{id}`` answers from any server process sharing the store, and after a restart.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from anomd.jobs.spec import JobRequest, Kind

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
#: States a job never leaves.
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_job_id() -> str:
    """Sortable by submission time (``20261204T153012-5f1c9a2e``), unique by its random tail."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


class Progress(msgspec.Struct, kw_only=True):
    """How far a job is. Totals are null until known (rows: once every file has been read)."""

    partitions_done: Annotated[int, msgspec.Meta(description="Input files finished.")] = 0
    partitions_total: int | None = None
    rows_done: Annotated[int, msgspec.Meta(description="Rows scored (or read, for fit_groups).")] = 0
    rows_total: int | None = None
    groups_done: Annotated[int, msgspec.Meta(description="fit_groups, detect: groups fitted.")] = 0
    groups_total: int | None = None
    groups_failed: Annotated[int, msgspec.Meta(
        description="Groups that could not be fitted (too few rows...); see warnings.")] = 0
    anomalies: Annotated[int, msgspec.Meta(description="Rows flagged so far.")] = 0


class Timings(msgspec.Struct, kw_only=True):
    created: str
    started: str | None = None
    finished: str | None = None
    queued_s: float | None = None
    running_s: float | None = None
    task_s: Annotated[float, msgspec.Meta(
        description="Time spent in tasks, summed over workers (running_s x workers - task_s is "
                    "what scheduling, transfers and idle workers cost).")] = 0.0


class GroupModels(msgspec.Struct, kw_only=True):
    """The models a fit_groups job stored: ``<model>.<group>`` with one backend."""

    model: str
    backend: str
    naming: str = "{model}.{group}"
    count: int


class JobRecord(msgspec.Struct, kw_only=True):
    object: Literal["job"] = "job"
    id: str
    kind: Kind
    status: Status
    request: JobRequest
    progress: Progress = msgspec.field(default_factory=Progress)
    timings: Timings
    output: Annotated[str | None, msgspec.Meta(
        description="Where the output dataset is (score, detect).")] = None
    models: GroupModels | None = None
    error: Annotated[str | None, msgspec.Meta(
        description="Why the job failed or was cancelled.")] = None
    warnings: list[str] = msgspec.field(default_factory=list)
    cancel_requested: bool = False
    cluster: Annotated[str | None, msgspec.Meta(
        description="Where it runs: a local cluster or a scheduler address.")] = None
    heartbeat: Annotated[str | None, msgspec.Meta(
        description="Last sign of life of the process running it.")] = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class JobList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[JobRecord]
    total: int


def new_record(request: JobRequest, job_id: str | None = None) -> JobRecord:
    stamp = now_iso()
    return JobRecord(id=job_id or new_job_id(), kind=request.kind, status="queued", request=request,
                     timings=Timings(created=stamp), heartbeat=stamp)


def elapsed(start: str | None, end: str) -> float | None:
    if start is None:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
