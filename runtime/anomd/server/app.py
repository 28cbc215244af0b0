"""The Litestar application factory.

State (the service, worker pool) is built once when the app is created and handed to handlers
through dependency injection; start-up warms compiled backends on a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from anomd.jobs.manager import JobManager
from anomd.logging import configure_logging
from anomd.server.auth import KeyTable, api_key_guard, check_exposure
from anomd.server.azure import AzureController, AzureV10Controller
from anomd.server.batch import BatchController
from anomd.server.errors import EXCEPTION_HANDLERS
from anomd.server.jobs import JobsController, jobs_lifespan
from anomd.server.models import ModelsController
from anomd.server.observe import observed
from anomd.server.openapi_body import request_components
from anomd.server.openapi_security import document_api_keys
from anomd.server.probes import ProbesController
from anomd.server.startup import check_startup
from anomd.server.state import AppState
from anomd.server.streaming import StreamController, build_stream_manager, stream_lifespan
from anomd.server.system import SystemController
from anomd.server.timeseries import TimeseriesController
from anomd.server.warmup import warm_up
from anomd.server.workers import Workers
from anomd.service import AnomalyService
from anomd.settings import Settings, load_settings
from anomd.ui.exposure import ui_enabled
from anomd.ui.live import LiveFeed
from anomd.ui.routes import schema_asset_routes, ui_lifespan, ui_routes
from anomd.ui.schema_page import offline_redoc
from anomd.versions import anomd_version

ROUTE_HANDLERS: list = [
    BatchController, ModelsController, SystemController, ProbesController, StreamController,
    JobsController, TimeseriesController, AzureController, AzureV10Controller,
]


def create_app(settings: Settings | None = None, service: AnomalyService | None = None) -> Litestar:
    """Builds the app.

    Args:
        settings: Configuration; defaults to the TOML file and ``ANOMD_*`` environment.
        service: A ready service (tests and embedding); defaults to one built from ``settings``.

    Raises:
        ConfigError: A bad setting, including an open API on a non-loopback interface.
    """
    settings = settings or (service.settings if service else load_settings())
    check_exposure(settings)
    keys = KeyTable.from_settings(settings)
    configure_logging(settings.log_level, settings.log_format)
    check_startup(settings)
    service = service or AnomalyService(settings)
    state = AppState(service=service, workers=Workers(settings.worker_threads))
    state.streams = build_stream_manager(service, settings)
    dashboard = state.dashboard = ui_enabled(settings)
    state.live = LiveFeed(settings.ui_live_points, keep=dashboard)
    state.jobs = JobManager(service)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.warm_up:
            # A daemon thread, not a worker: warm-up must neither take a request slot nor hold
            # up shutdown (a thread cannot be cancelled, and compiling can take seconds).
            def warm() -> None:
                warm_up(service)
                state.warmed_up = True

            threading.Thread(target=warm, name="anomd-warm-up", daemon=True).start()
        yield
        await anyio.to_thread.run_sync(service.close)

    app = Litestar(
        route_handlers=[*ROUTE_HANDLERS, *schema_asset_routes(), *(ui_routes() if dashboard else [])],
        dependencies={"app_state": Provide(lambda: state, use_cache=True, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # Exited in reverse order: jobs are cancelled and streams checkpointed before the
        # service closes storage. The dashboard's part ends its live charts' event streams when a
        # stop signal arrives: the server waits for open responses before it runs this shutdown.
        lifespan=[lifespan, stream_lifespan(state), jobs_lifespan(state),
                  *([ui_lifespan(state)] if dashboard else [])],
        cors_config=CORSConfig(allow_origins=settings.cors_origins) if settings.cors_origins else None,
        # Logging is structlog's (configure_logging above). Litestar's default config would add a
        # handler to the root logger of whatever process builds the app, bound to the stderr of
        # that moment: an embedding application's (or a test's) logging is not ours to change.
        logging_config=None,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="anomd", version=anomd_version(), path="/schema", render_plugins=[offline_redoc()],
        ),
        debug=False,
    )
    # Litestar builds the OpenAPI document from handler signatures; request bodies are decoded
    # by hand (strictly), so their schemas are added to the generated components here.
    app.openapi_schema.components.schemas.update(request_components())  # type: ignore[union-attr, arg-type]
    if keys.enabled:
        document_api_keys(app.openapi_schema)
    # Outside Litestar's routing, so refused, unrouted and oversized requests are also logged,
    # counted and given a request id; the key check sits inside that, in front of everything.
    app.asgi_handler = observed(api_key_guard(app.asgi_handler, keys), state.http)
    return app

