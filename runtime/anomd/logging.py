"""Structured logging with structlog: human-readable console lines or JSON, one setting.

anomd's own events are structlog events. A server process also hears from the standard
library's loggers (uvicorn's errors, libraries) and from Python warnings (PyOD and scipy warn
about degenerate data during fits); :func:`stdlib_logging_config` renders those with the same
processors and writes them to standard output like structlog, so a log collector reading
``log_format = "json"`` gets one JSON object per line and nothing else. It is applied by
anomd's own process entry points (``anomd serve`` and the ``--workers`` factory), never by
:func:`configure_logging` alone: an application that embeds the app keeps its logging.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )


def stdlib_logging_config(level: str = "info", fmt: str = "console") -> dict[str, Any]:
    """A ``logging.dictConfig`` (also uvicorn's ``log_config``) that renders standard-library
    records, Python warnings included, like anomd's own events.

    uvicorn's loggers stay at ``warning`` (anomd writes its own line per request), except for
    the one line that says where the server listens (:class:`ListeningLine`); warnings
    captured from Python's ``warnings`` module arrive on the ``py.warnings`` logger once
    :func:`capture_warnings` has run.
    """
    threshold = max(getattr(logging, level.upper(), logging.INFO), logging.WARNING)
    loggers = {
        name: {"handlers": ["anomd"], "level": threshold, "propagate": False}
        for name in ("uvicorn", "uvicorn.access", "py.warnings")
    }
    listening = min(threshold, logging.INFO) if level.lower() != "error" else threshold
    loggers["uvicorn.error"] = {
        "handlers": ["anomd"], "level": listening, "propagate": False, "filters": ["listening"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "anomd": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*_shared_processors(), structlog.stdlib.add_logger_name],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _renderer(fmt),
                ],
            },
        },
        "filters": {"listening": {"()": ListeningLine, "threshold": threshold}},
        "handlers": {
            "anomd": {"class": "logging.StreamHandler", "formatter": "anomd", "stream": "ext://sys.stdout"},
        },
        "loggers": loggers,
        "root": {"handlers": ["anomd"], "level": threshold},
    }


class ListeningLine(logging.Filter):
    """Keeps uvicorn's start-up chatter out but its "running on" line in, as anomd's own.

    uvicorn says where it listens only once the socket is bound, at INFO, among other INFO
    lines nobody needs; this passes records at ``threshold`` or above, and turns that one line
    into ``anomd listening on http://127.0.0.1:8000 (API docs: .../schema; Ctrl-C stops)``.
    """

    def __init__(self, threshold: int = logging.WARNING) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.threshold:
            return True
        if not str(record.msg).startswith("Uvicorn running on") or len(record.args or ()) < 3:
            return False
        scheme, host, port = record.args[:3]  # type: ignore[index, misc]
        url = f"{scheme}://{host}:{port}"
        record.msg, record.args = "anomd listening on %s (API docs: %s/schema; Ctrl-C stops)", (url, url)
        record.name = "anomd.server"
        return True


def capture_warnings() -> None:
    """Sends Python warnings to the ``py.warnings`` logger instead of bare stderr lines."""
    logging.captureWarnings(True)
