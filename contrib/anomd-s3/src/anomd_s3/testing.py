"""A real S3 endpoint on 127.0.0.1 for tests: moto's threaded server, on a free port.

It speaks the S3 HTTP API over a real socket, so the plugin is tested through the same client
code, signing and error paths it uses against AWS or MinIO; only the server is local. Needs
``moto[server]`` (a test dependency, not a runtime one).

Example::

    with local_s3() as s3:
        bucket = s3.create_bucket()
        storage = open_s3(f"s3://{bucket}/models", s3.options())
"""

from __future__ import annotations

import logging
import secrets
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: Dummy credentials: moto accepts any, but the client still signs every request with them.
ACCESS_KEY_ID = "anomd-test-key"
SECRET_ACCESS_KEY = "anomd-test-secret-do-not-show"
REGION = "us-east-1"


@dataclass(frozen=True)
class LocalS3:
    """A running endpoint.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``.
    """

    endpoint: str
    _lines: deque[str] = field(
        default_factory=lambda: deque(maxlen=2000), repr=False, compare=False
    )

    def log(self) -> str:
        """The server's recent access-log and error lines (for debugging a failing test)."""
        return "\n".join(self._lines)

    def env(self) -> dict[str, str]:
        """The standard AWS variables pointing at this endpoint (for a server subprocess)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
        }

    def options(self) -> dict[str, Any]:
        """The same settings as anomd ``storage_options`` (independent of the environment)."""
        return {
            "endpoint": self.endpoint,
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": SECRET_ACCESS_KEY,
            "region": REGION,
            "allow_http": True,
        }

    def create_bucket(self, name: str | None = None) -> str:
        """Creates a bucket (a random name by default) and returns its name."""
        name = name or f"anomd-{secrets.token_hex(6)}"
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return name


@contextmanager
def local_s3() -> Iterator[LocalS3]:
    """Starts moto's S3 server on 127.0.0.1 (a free port) and stops it afterwards.

    All servers in one process share moto's in-memory state, so use a bucket per test.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("local_s3() needs moto's server: pip install 'moto[server]'") from exc
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = LocalS3(endpoint=f"http://{host}:{port}")
    # The HTTP server (werkzeug) runs in this process. Left alone, it attaches a handler bound
    # to whatever sys.stderr is at its first request: under pytest, one test's capture stream,
    # later closed, which turns its log lines into "Logging error" noise in other tests.
    handler = _KeepLines(endpoint._lines)
    werkzeug = logging.getLogger("werkzeug")
    saved = (werkzeug.level, werkzeug.propagate)
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False
    try:
        yield endpoint
    finally:
        server.stop()
        werkzeug.removeHandler(handler)
        werkzeug.setLevel(saved[0])
        werkzeug.propagate = saved[1]


class _KeepLines(logging.Handler):
    """Keeps formatted records in a bounded buffer instead of writing them anywhere."""

    def __init__(self, lines: deque[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
