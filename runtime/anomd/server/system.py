"""Health, backends and the plugin report."""

from __future__ import annotations

import time
from typing import ClassVar

from litestar import Controller, get

from anomd.server.openapi_body import operation
from anomd.server.schemas import (
    BackendListResponse,
    HealthResponse,
    IndexResponse,
    PluginListResponse,
)
from anomd.server.state import AppState, AppStateDep
from anomd.versions import anomd_version


def health_body(state: AppState) -> HealthResponse:
    service = state.service
    return HealthResponse(
        status="ok",
        version=anomd_version(),
        uptime_s=round(time.time() - state.started, 3),
        storage=service.storage.describe(),
        backends=len(service.plugins.detectors),
        plugin_failures=len(service.plugins.failures),
        warmed_up=state.warmed_up,
    )


class SystemController(Controller):
    tags: ClassVar[list[str]] = ["system"]

    # None of these routes fails (outside of bugs): they read what the process already holds.
    @get("/", summary="What this server is, and links to its documentation",
         operation_class=operation(reply=IndexResponse))
    async def index(self, app_state: AppStateDep) -> IndexResponse:
        return IndexResponse(version=anomd_version(), ui="/ui" if app_state.dashboard else None)

    @get(["/health", "/v1/ml/anomaly/health"], summary="Liveness and what this server runs on",
         operation_class=operation(reply=HealthResponse))
    async def health(self, app_state: AppStateDep) -> HealthResponse:
        return health_body(app_state)

    @get("/v1/ml/anomaly/backends", summary="Registered detectors, their parameters and availability",
         operation_class=operation(reply=BackendListResponse))
    async def backends(self, app_state: AppStateDep) -> BackendListResponse:
        rows = app_state.service.backends()
        return BackendListResponse(data=rows, total=len(rows))

    @get("/v1/plugins", summary="What loaded, from which distribution, and what failed",
         operation_class=operation(reply=PluginListResponse))
    async def plugins(self, app_state: AppStateDep) -> PluginListResponse:
        rows = app_state.service.plugins.report()
        return PluginListResponse(data=rows, total=len(rows))
