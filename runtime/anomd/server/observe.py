"""What every request leaves behind: a request id, one access-log line and HTTP metrics.

This wraps the whole application (not one route), so requests that match no route, fail
authentication or exceed the body limit are logged and counted like the rest.

The request id is the caller's ``X-Request-ID`` when it is a sane token (so a trace can cross a
proxy), a fresh random one otherwise. It is sent back in the ``X-Request-ID`` response header
and bound to the logging context, so every log event written while the request runs, in a worker
thread too, carries it.
"""

from __future__ import annotations

import os
import re
import time

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from anomd.metrics import Counter, Histogram

log = structlog.get_logger("anomd.access")

HEADER = b"x-request-id"
_ACCEPTED_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


class HttpMetrics:
    """Requests by route template (never the raw path: names would explode the series)."""

    def __init__(self) -> None:
        self.requests = Counter("anomd_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"])
        self.errors = Counter("anomd_http_errors_total",
                              "HTTP requests answered with a 4xx or 5xx status.",
                              ["method", "route", "status"])
        self.seconds = Histogram("anomd_http_request_duration_seconds",
                                 "Time from request start to the last byte of the answer.",
                                 ["method", "route"])
        self.in_flight = 0

    def all(self) -> list[Counter | Histogram]:
        return [self.requests, self.errors, self.seconds]


def request_id(scope: Scope) -> bytes:
    """The caller's request id if it is a plain token, else a new random one."""
    for name, value in scope["headers"]:
        if name == HEADER and _ACCEPTED_ID.fullmatch(value):
            return value
    return os.urandom(8).hex().encode()


def route_of(scope: Scope) -> str:
    """The matched route's template, e.g. ``/v1/ml/anomaly/models/{filename:str}``."""
    return scope.get("path_template") or "unmatched"


def observed(app: ASGIApp, metrics: HttpMetrics) -> ASGIApp:
    """Wraps the application with request ids, the access log and HTTP metrics."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=rid.decode())
        metrics.in_flight += 1
        try:
            await app(scope, receive, capture)
        finally:
            metrics.in_flight -= 1
            elapsed = time.perf_counter() - started
            method, route, code = scope["method"], route_of(scope), str(status)
            metrics.requests.inc(method, route, code)
            if status >= 400:
                metrics.errors.inc(method, route, code)
            metrics.seconds.observe(elapsed, method, route)
            log.info(
                "request", method=method, path=scope["path"], status=status,
                duration_ms=round(elapsed * 1000, 2),
                model=scope.get("state", {}).get("anomd_model"),
            )
            structlog.contextvars.reset_contextvars(**tokens)

    return middleware
