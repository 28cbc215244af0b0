"""One table from failures to HTTP answers: every error is problem-details JSON with a
human-readable ``detail``; a 500 only ever means a bug (and is logged with its traceback)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from anomd.errors import AnomdError
from anomd.server.schemas import Problem

log = structlog.get_logger("anomd.server")

_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Request too large",
           415: "Unsupported media type", 422: "Invalid input", 429: "Too many requests",
           503: "Service unavailable"}


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None
) -> Response[Problem]:
    return Response(
        Problem(title=title, status=status, detail=detail),
        status_code=status,
        media_type="application/problem+json",
        headers=dict(headers or {}),
    )


def on_domain_error(request: Request, exc: AnomdError) -> Response[Problem]:
    return problem(exc.status_code, exc.title, exc.detail, exc.headers)


def on_http_error(request: Request, exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    detail = exc.detail
    if isinstance(exc, ValidationException) and exc.extra:
        detail = f"{detail}: {exc.extra}"
    if status == 413:
        detail = f"request body is over this server's limit ({request.app.request_max_body_size} bytes)"
    if status == 404 and detail in ("", "Not Found"):
        detail = f"no route {request.method} {request.url.path}"
    # Keep the exception's headers: a 405 must say which methods the path allows (RFC 9110).
    return problem(status, _TITLES.get(status, "Error"), detail or _TITLES.get(status, "Error"), exc.headers)


def on_unexpected(request: Request, exc: Exception) -> Response[Problem]:
    log.exception("unhandled error", method=request.method, path=request.url.path)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error",
        f"internal error ({type(exc).__name__}); this is a bug, please report it",
    )


EXCEPTION_HANDLERS = {
    AnomdError: on_domain_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "MediaType", "problem"]
