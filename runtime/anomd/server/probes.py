"""Readiness and metrics: what orchestrators and monitoring ask a server.

``/health`` (in system.py) says the process answers. ``/ready`` says it can do its job: the
storage answers and the default backend is usable; a load balancer should send traffic only
while it says so. ``/metrics`` is the Prometheus scrape target.
"""

from __future__ import annotations

import time
from typing import ClassVar

import anyio
import anyio.to_thread
from litestar import Controller, Response, get

from anomd.errors import AnomdError
from anomd.server.openapi_body import operation
from anomd.server.prometheus import CONTENT_TYPE, render
from anomd.server.schemas import ReadyResponse
from anomd.server.state import AppState, AppStateDep

#: Longest wait for the storage before ``/ready`` says it is unreachable.
STORAGE_TIMEOUT_S = 5.0


async def storage_check(state: AppState) -> dict:
    """Probes the store off the event loop, giving up (not hanging) after a timeout."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(STORAGE_TIMEOUT_S):
            # Its own thread, not a worker slot: a probe must not wait behind long fits, and an
            # abandoned probe (storage hanging) must not hold one.
            await anyio.to_thread.run_sync(state.service.storage.check, abandon_on_cancel=True)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {STORAGE_TIMEOUT_S:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure of the backend is the answer here
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def plugins_check(state: AppState) -> dict:
    """Plugins loaded and the default backend usable (failures elsewhere are only reported)."""
    service = state.service
    failures = [f"{r.name}: {r.error}" for r in service.plugins.failures]
    try:
        service.detector(None)
    except AnomdError as exc:
        return {"ok": False, "error": exc.detail, "failures": failures}
    return {"ok": True, "backends": len(service.plugins.detectors), "failures": failures}


class ProbesController(Controller):
    tags: ClassVar[list[str]] = ["system"]

    @get(["/ready", "/v1/ml/anomaly/ready"], summary="Readiness: storage reachable, plugins loaded",
         operation_class=operation(reply=ReadyResponse, other_replies={
             503: (ReadyResponse, "Not ready: `checks` says which check failed."),
         }))
    async def ready(self, app_state: AppStateDep) -> Response[dict]:
        checks = {"storage": await storage_check(app_state), "plugins": plugins_check(app_state)}
        ready = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not ready", "warmed_up": app_state.warmed_up,
                "checks": checks}
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics", summary="Prometheus metrics of this server process", media_type=CONTENT_TYPE)
    async def metrics(self, app_state: AppStateDep) -> Response[str]:
        return Response(render(app_state), media_type=CONTENT_TYPE)
