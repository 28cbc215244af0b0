"""Streaming routes: ``POST /stream`` and detector management. Thin: the manager does the work.

Points are processed on worker threads (a batch, a cold-start fit, a landing retrain or a
restore from storage can take milliseconds), except cheap single points of live streams, which
run on the event loop (``stream_inline``); retrains run in the manager's retrain pool. A bad point anywhere in a
list rejects the whole request with a 422 naming its index, and nothing of the request is
processed, so the detector is exactly as it was; a first request with a bad point creates no
detector at all.

The module also provides the streaming part of the app's lifespan: the idle-eviction sweep
and the checkpoint of every live detector at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import structlog
from litestar import Controller, Litestar, Request, delete, get, post
from msgspec import UNSET

from anomd.docgen.curl_examples import EXAMPLES
from anomd.errors import InvalidInput, TooLarge
from anomd.names import check_name
from anomd.server.body import decode_body
from anomd.server.openapi_body import json_body, operation
from anomd.server.state import AppState, AppStateDep
from anomd.server.stream_admission import admitted_stream
from anomd.server.stream_inline import InlineTicks
from anomd.server.stream_schemas import (
    ResetResponse,
    StreamDeleteResponse,
    StreamIdPath,
    StreamListResponse,
    StreamPoint,
    StreamRequest,
    StreamResponse,
)
from anomd.settings import Settings
from anomd.streaming.config import StreamConfig
from anomd.streaming.detector import StreamingAnomalyDetector
from anomd.streaming.executors import RetrainPool
from anomd.streaming.manager import DetectorClosed, StreamManager
from anomd.streaming.points import reader_for
from anomd.streaming.results import BatchOutcome, StreamingResult
from anomd.streaming.stats import DetectorStats
from anomd.timeseries.timestamps import DEFAULT_FIELD

log = structlog.get_logger("anomd.streaming")

CONFIG_FIELDS = tuple(StreamConfig.__struct_fields__)
DEFAULT_STREAM = "default-stream"
#: Path segment of the listing route; cannot also be a stream id.
RESERVED_IDS = frozenset({"detectors"})


def build_stream_manager(service: Any, settings: Settings) -> StreamManager:
    """The manager the app uses, with its (lazily started) retrain pool."""
    return StreamManager(
        service,
        max_detectors=settings.max_stream_detectors,
        idle_timeout_s=settings.stream_idle_timeout_s,
        executor=RetrainPool(settings.stream_retrain_mode, settings.stream_retrain_workers),
    )


def stream_id(value: str) -> str:
    check_name(value, "stream id")
    if value in RESERVED_IDS:
        raise InvalidInput(f"stream id {value!r} is reserved (it is a route); choose another name")
    return value


def _request_id(req: StreamRequest) -> str:
    if req.model_id is not UNSET and req.model is not UNSET and req.model_id != req.model:
        raise InvalidInput(
            f"model_id {req.model_id!r} and model {req.model!r} disagree; send one of them"
        )
    chosen = req.model_id if req.model_id is not UNSET else req.model
    return stream_id(DEFAULT_STREAM if chosen is UNSET else chosen)  # type: ignore[arg-type]


def check_points(points: list[Any], time_field: str) -> None:
    """Refuses bad points before a detector may be created for them.

    The detector checks its points itself, but only once it exists: a first request with a bad
    point would leave an empty detector behind, whose configuration every later request must
    then match (409). Checked here first, a failed request leaves nothing.

    Raises:
        InvalidInput: Naming the point and the key, as the detector would.
    """
    reader_for(points[0], time_field).matrix(points)


def _response(model_id: str, out: BatchOutcome, warnings: list[str]) -> StreamResponse:
    scored, until = out.scored.tolist(), out.until_ready.tolist()
    score, raw, flag = out.score.tolist(), out.raw.tolist(), out.flag.tolist()
    results = [
        StreamPoint(index=i, score=score[i], is_anomaly=flag[i], raw_score=raw[i], samples_until_ready=until[i])
        if scored[i]
        else StreamPoint(index=i, score=None, is_anomaly=None, raw_score=None, samples_until_ready=until[i])
        for i in range(len(scored))
    ]
    last = len(scored) - 1
    return StreamResponse(
        model=model_id,
        status=("collecting", "ready", "retraining")[int(out.status[last])],
        results=results,
        model_version=out.model_version,
        samples_collected=int(out.collected[last]),
        samples_until_ready=int(out.until_ready[last]),
        threshold=out.threshold,
        anomaly_count=int(out.flag.sum()),
        warnings=warnings,
    )


def _single_response(
    model_id: str, detector: StreamingAnomalyDetector, result: StreamingResult, warnings: list[str]
) -> StreamResponse:
    """The reply to one point; the top-level fields are the detector's after it (built under
    the stream's lock)."""
    return StreamResponse(
        model=model_id,
        status=result.status.value,
        results=[StreamPoint(
            index=0, score=result.score, is_anomaly=result.is_anomaly, raw_score=result.raw_score,
            samples_until_ready=result.samples_until_ready,
        )],
        model_version=detector.model_version,
        samples_collected=result.samples_collected,
        samples_until_ready=result.samples_until_ready,
        threshold=detector.threshold_in_force,
        anomaly_count=1 if result.is_anomaly else 0,
        warnings=warnings,
    )


# Error replies of the routes, as the OpenAPI document states them (see openapi_body.py).
_NO_STREAM = (404, "No live or checkpointed stream has this id.")
_BAD_ID = (422, "Not a valid stream id, or the reserved id 'detectors'.")
_REJECTED = (409, "The stream's checkpoint failed its integrity check and was not loaded.")
_CONFIG_CONFLICT = (
    409, "It exists with a different configuration, or its checkpoint failed its integrity check.",
)
_RESET_CONFLICT = (
    409, "Evicted and restored concurrently (retry), or the checkpoint failed its integrity check.",
)

#: Where single points run (event loop or worker thread); one policy for the whole process.
INLINE = InlineTicks()


class StreamController(Controller):
    path = "/v1/ml/anomaly/stream"
    tags = ("streaming",)

    @post("/", status_code=200, summary="Score points on a streaming detector (created on first use)",
          operation_class=json_body(
              StreamRequest, 403, (404, "Unknown backend."), _CONFIG_CONFLICT, 503,
              example=EXAMPLES["POST /v1/ml/anomaly/stream"][2]))
    async def process(self, request: Request, app_state: AppStateDep) -> StreamResponse:
        req, warnings, _ = await decode_body(request, StreamRequest)
        model_id = _request_id(req)
        request.scope.setdefault("state", {})["anomd_model"] = model_id  # for the access log
        points = req.data if isinstance(req.data, list) else [req.data]
        if not points:
            raise InvalidInput("data is empty; send one point or a non-empty list of points")
        if len(points) > app_state.service.settings.max_rows:
            raise TooLarge(f"{len(points)} points is over this server's limit of {app_state.service.settings.max_rows}")
        sent = {f: getattr(req, f) for f in CONFIG_FIELDS if getattr(req, f) is not UNSET}
        if sent.get("lag_periods") and not sent.get("include_lags"):
            warnings.append("lag_periods is used only with include_lags=true; no lags were added")
        manager = app_state.streams

        def respond(detector: StreamingAnomalyDetector, result: StreamingResult) -> StreamResponse:
            app_state.live.publish(model_id, points, result)  # the dashboard's live feed
            return _single_response(model_id, detector, result, warnings)

        stream = manager.live(model_id)
        if stream is None:
            check_points(points, sent.get("timestamp_field") or DEFAULT_FIELD)
        elif len(points) == 1:
            # A plain tick on a live detector: microseconds of work, done right here.
            manager.check_same(stream.detector, sent)
            try:
                reply = INLINE.try_now(stream, points[0], respond)
            except DetectorClosed:
                reply = None  # evicted meanwhile: the worker path restores it
            if reply is not None:
                return reply

        def work() -> StreamResponse:
            if len(points) == 1:
                return manager.run(
                    model_id, sent, lambda d: respond(d, INLINE.process(d, points[0])), first=points[0])[1]
            _, out = manager.run(model_id, sent, lambda detector: detector.process_many(points), first=points[0])
            app_state.live.publish(model_id, points, out)
            return _response(model_id, out, warnings)

        return await admitted_stream(request, app_state, model_id, sent, points, work)

    @get("/detectors", summary="Every streaming detector: live ones and checkpointed ones",
         operation_class=operation(503))
    async def list_detectors(self, app_state: AppStateDep) -> StreamListResponse:
        rows = await app_state.workers.run(app_state.streams.list)
        return StreamListResponse(data=rows, total=len(rows), streaming=app_state.streams.describe())

    @get("/{model_id:str}", summary="Stats of one streaming detector",
         operation_class=operation(_NO_STREAM, _REJECTED, _BAD_ID, 503))
    async def detector_stats(self, model_id: StreamIdPath, app_state: AppStateDep) -> DetectorStats:
        return await app_state.workers.run(app_state.streams.stats, stream_id(model_id))

    @post("/{model_id:str}/reset", status_code=200, summary="Reset a detector to cold start",
          operation_class=operation(
              (403, "The checkpoint's backend is now disabled by the operator."),
              (404, "No live or checkpointed stream has this id, or its backend is gone."),
              _RESET_CONFLICT,
              (422, "Not a valid stream id, or the checkpoint's backend is unavailable."), 503))
    async def reset(self, model_id: StreamIdPath, app_state: AppStateDep) -> ResetResponse:
        await app_state.workers.run(app_state.streams.reset, stream_id(model_id))
        return ResetResponse(model=model_id)

    @delete("/{model_id:str}", status_code=200, summary="Delete a detector and its checkpoint",
            operation_class=operation(_NO_STREAM, _BAD_ID, 503))
    async def delete_detector(self, model_id: StreamIdPath, app_state: AppStateDep) -> StreamDeleteResponse:
        await app_state.workers.run(app_state.streams.delete, stream_id(model_id))
        return StreamDeleteResponse(model=model_id)


def stream_lifespan(state: AppState) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The streaming part of the app's lifespan.

    Start: warm the retrain pool (in the background), start the idle-eviction sweep and the
    periodic checkpoint of changed detectors.
    Stop: checkpoint every live detector (unless disabled) and stop the retrain pool.
    """
    settings = state.service.settings

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        manager = state.streams
        pool = manager.executor

        async def every(seconds: float, job: Callable[[], int], done: str, failed: str) -> None:
            """Runs ``job`` on a worker thread every ``seconds``; logs what it did or why not."""
            while True:
                await anyio.sleep(seconds)
                try:
                    count = await state.workers.run(job)
                    if count:
                        log.info(done, count=count)
                except Exception:
                    log.exception(failed)

        async def warm() -> None:
            try:
                await anyio.to_thread.run_sync(pool.warm)
            except Exception:
                log.exception("retrain pool warm-up failed")

        async with anyio.create_task_group() as tasks:
            if settings.stream_idle_timeout_s > 0:
                tasks.start_soon(
                    every, max(1.0, min(60.0, settings.stream_idle_timeout_s / 4)), manager.evict_idle,
                    "idle stream detectors evicted", "idle eviction sweep failed",
                )
            if settings.stream_checkpoint_interval_s > 0:
                tasks.start_soon(
                    every, settings.stream_checkpoint_interval_s, manager.checkpoint_changed,
                    "changed stream detectors checkpointed", "periodic stream checkpoint failed",
                )
            if settings.warm_up and isinstance(pool, RetrainPool):
                tasks.start_soon(warm)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
        if settings.stream_checkpoint_on_shutdown:
            written = await anyio.to_thread.run_sync(manager.checkpoint_all)
            if written:
                log.info("stream detectors checkpointed", count=written)
        await anyio.to_thread.run_sync(lambda: pool.shutdown(wait=True, cancel_futures=True))

    return lifespan
