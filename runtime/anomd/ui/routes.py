"""The dashboard's routes: the page, its assets, and the data only it needs.

The page itself, its script, styles and the vendored libraries hold no data, so they are served
without a key (see :func:`anomd.server.auth.required_scope`); a browser cannot attach a bearer
key to a page it navigates to. The page asks for a key when the API answers 401 and sends it
on every call. Everything it shows comes either from the public API (models, backends, health)
or from the few read-scope routes here, which are left out of the OpenAPI document: they are
the dashboard's, not a contract.

The live chart's route answers with Server-Sent Events: the stream's kept points first, then,
at most ten times a second, the points published since. A stopping server ends these
responses (:func:`ui_lifespan`): an event stream never finishes on its own, and the server
waits for open responses before it exits.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Litestar, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.static_files import create_static_files_router

from anomd.server.state import AppState, AppStateDep
from anomd.server.stream_schemas import StreamIdPath
from anomd.server.streaming import stream_id
from anomd.ui.figures import key_figures, stream_rows
from anomd.ui.live import LiveFeed
from anomd.ui.ring import RingSlice

STATIC = Path(__file__).resolve().parent / "static"
#: The Redoc bundle /schema loads; served whether or not the dashboard is on.
REDOC = STATIC / "vendor" / "redoc"
#: Seconds between two messages of a live chart, at most: points published meanwhile go in one.
BATCH_S = 0.1
#: Seconds of silence after which a comment line keeps proxies from closing the connection.
KEEPALIVE_S = 15.0
#: Points in one message at most (the page keeps no more per stream either).
MAX_MESSAGE_POINTS = 20_000

#: Revalidate on every load: a new anomd version must not run yesterday's script.
_REVALIDATE = CacheControlHeader(no_cache=True)
#: The page loads nothing from elsewhere and runs no inline script; nothing may frame it.
_PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
_INDEX = (STATIC / "index.html").read_bytes()
#: First point wanted (a reconnecting page sends the one after its last); default: all kept.
Since = Annotated[int | None, QueryParameter(ge=0)]


def chunk_message(chunk: RingSlice) -> ServerSentEventMessage:
    """One ``points`` event: columns and per-point arrays (NaN becomes null in JSON)."""
    body = {
        "columns": chunk.columns,
        "seq": int(chunk.seq[0]) if len(chunk.seq) else None,
        "time": chunk.time.round(3).tolist(),
        "values": chunk.values.tolist(),
        "score": chunk.score.tolist(),
        "threshold": chunk.threshold.tolist(),
        "flag": chunk.flag.astype("u1").tolist(),
        "dropped": chunk.dropped,
    }
    return ServerSentEventMessage(data=msgspec.json.encode(body).decode(), event="points")


async def live_events(feed: LiveFeed, model_id: str, since: int | None) -> AsyncIterator[Any]:
    """The event stream of one live chart, until the client leaves or the server stops."""
    with feed.watch(model_id, since) as watcher:
        yield ServerSentEventMessage(event="hello", data=msgspec.json.encode(
            {"model_id": model_id, "batch_s": BATCH_S}).decode())
        woken = True
        while not feed.closed:
            if woken:
                chunk = feed.read(watcher, MAX_MESSAGE_POINTS)
                if chunk is not None:
                    yield chunk_message(chunk)
            woken = await watcher.wait(KEEPALIVE_S)
            if not woken:
                yield ServerSentEventMessage(comment="keep-alive", data=None)
            elif not feed.closed:
                await asyncio.sleep(BATCH_S)  # let a burst of requests land in one message


class DashboardController(Controller):
    include_in_schema = False

    @get("/ui", cache_control=_REVALIDATE)
    async def page(self) -> Response[bytes]:
        return Response(_INDEX, media_type="text/html", headers=_PAGE_HEADERS)

    @get("/ui/api/figures")
    async def figures(self, app_state: AppStateDep) -> dict:
        return key_figures(app_state)

    @get("/ui/api/streams")
    async def streams(self, app_state: AppStateDep) -> dict:
        rows = await app_state.workers.run(stream_rows, app_state)
        return {"data": rows, "total": len(rows)}

    @get("/ui/api/transforms")
    async def transforms(self, app_state: AppStateDep) -> dict:
        rows = [
            {"transform": entry.item.id, "description": entry.item.description,
             "options": entry.item.options_schema(), "plugin": entry.plugin}
            for _, entry in app_state.service.plugins.transforms.entries()
        ]
        return {"data": rows, "total": len(rows)}

    @get("/ui/api/streams/{model_id:str}/live")
    async def live(self, model_id: StreamIdPath, app_state: AppStateDep,
                   since: Since = None) -> ServerSentEvent:
        stream_id(model_id)
        return ServerSentEvent(live_events(app_state.live, model_id, since))


def ui_routes() -> list[Any]:
    """The dashboard's handlers and its static files."""
    return [
        DashboardController,
        create_static_files_router("/ui/static", [STATIC], cache_control=_REVALIDATE,
                                   name="ui-static", include_in_schema=False),
    ]


def schema_asset_routes() -> list[Any]:
    """Redoc for ``/schema``, from this package (always served: the API docs are not the UI)."""
    return [create_static_files_router("/schema/static", [REDOC], name="schema-static",
                                       include_in_schema=False)]


def _on_stop_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Runs ``callback`` too when SIGINT or SIGTERM arrives; returns what undoes that.

    The server (uvicorn) handles these signals by waiting for open responses to finish before
    it shuts the application down, so the application cannot learn of the stop any other way.
    The server's own handler still runs, after ours. Only possible in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed: dict[int, tuple[Any, Any]] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # default or ignored: no graceful stop to join

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            callback()
            previous(signum, frame)

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def restore() -> None:
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return restore


def ui_lifespan(state: AppState) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Ends every live chart's event stream when the server is told to stop."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        # A signal handler runs between two bytecodes of the loop's own thread, maybe while the
        # feed's lock is held: it only schedules the close.
        restore = _on_stop_signals(lambda: loop.call_soon_threadsafe(state.live.close))
        try:
            yield
        finally:
            restore()
            state.live.close()

    return lifespan
