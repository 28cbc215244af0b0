"""Job routes: submit, follow, list and cancel dataset jobs (see docs/scaling.md).

Thin like the other controllers: decode strictly, hand to the :class:`JobManager`, shape the
reply. Submitting answers 202 at once with the queued record and its ``Location``; the work runs
on the Dask cluster while ``GET /jobs/{id}`` reports its progress. Submitting and cancelling need
an admin key (a job writes files and models); reading needs a read key (``auth.py``'s default).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, ClassVar

import anyio.to_thread
from litestar import Controller, Litestar, Request, Response, delete, get, post
from litestar.openapi.spec import Example
from litestar.params import PathParameter

from anomd.docgen.curl_examples import EXAMPLES
from anomd.jobs.manager import JobManager
from anomd.jobs.records import JobList, JobRecord
from anomd.jobs.spec import JobRequest
from anomd.server.body import decode_body
from anomd.server.openapi_body import json_body, operation
from anomd.server.state import AppState, AppStateDep

JOBS_PATH = "/v1/ml/anomaly/jobs"
JobIdPath = Annotated[str, PathParameter(
    description="The job's id, as the submit reply gives it.",
    schema_extra={"pattern": r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$"},
    examples=[Example(value="20261204T153012-5f1c9a2e")],
)]
_NO_JOB = (404, "No job has this id.")
_BAD_ID = (422, "Not a job id.")
_SUBMIT_ERRORS = (
    (403, "The backend is disabled by the operator (`enabled_backends`)."),
    (404, "Unknown backend."),
    (409, "The server is shutting down."),
    (422, ("A missing or contradictory field, a location outside `job_roots`, or bad params; "
          "`detail` names it. Problems with the data (a missing file, an unknown model) fail "
          "the job instead: see its `error`.")),
    (501, "Dask's `distributed` package is not installed on the server (`anomd[dask]`)."),
    503,
)


def _manager(state: AppState) -> JobManager:
    assert state.jobs is not None
    return state.jobs


class JobsController(Controller):
    path = JOBS_PATH
    tags: ClassVar[list[str]] = ["jobs"]

    @post("/", status_code=202, summary="Submit a job: score a dataset, fit per group, or detect",
          operation_class=json_body(JobRequest, *_SUBMIT_ERRORS,
                                    example=EXAMPLES[f"POST {JOBS_PATH}"][2]))
    async def submit(self, request: Request, app_state: AppStateDep) -> Response[JobRecord]:
        req, warnings, _ = await decode_body(request, JobRequest)
        record = await app_state.workers.run(_manager(app_state).submit, req, warnings)
        return Response(record, status_code=202, headers={"Location": f"{JOBS_PATH}/{record.id}"})

    @get("/", summary="List jobs, newest first", operation_class=operation(503))
    async def list_jobs(self, app_state: AppStateDep) -> JobList:
        records = await app_state.workers.run(_manager(app_state).list)
        return JobList(data=records, total=len(records))

    @get("/{job_id:str}", summary="A job's status, progress, timings, output and error",
         operation_class=operation(_NO_JOB, _BAD_ID, 503))
    async def get_job(self, job_id: JobIdPath, app_state: AppStateDep) -> JobRecord:
        return await app_state.workers.run(_manager(app_state).get, job_id)

    @delete("/{job_id:str}", status_code=202,
            summary="Cancel a job (it stops after its running tasks; its output is removed)",
            operation_class=operation(
                _NO_JOB, (409, "The job has already finished."), _BAD_ID, 503))
    async def cancel_job(self, job_id: JobIdPath, app_state: AppStateDep) -> JobRecord:
        return await app_state.workers.run(_manager(app_state).cancel, job_id)


def jobs_lifespan(state: AppState) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Stop: cancel this process's jobs, record why, close the Dask cluster."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        yield
        await anyio.to_thread.run_sync(_manager(state).close)

    return lifespan
