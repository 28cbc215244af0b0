"""A fault-injecting HTTP proxy on 127.0.0.1, in front of a real S3 endpoint, for tests.

The proxy forwards each HTTP/1.1 request to the endpoint (moto, in anomd's tests) and passes
the answer back, except for requests that match a :class:`Rule`, which instead get a fault:

- ``latency``: the answer is held back for ``seconds`` before it is passed on;
- ``slow_down``: S3's throttling answer, ``503 SlowDown``, without asking the endpoint;
- ``internal_error``: ``500 InternalError``, without asking the endpoint;
- ``reset_response``: the endpoint answers (so an upload is stored), the client gets the
  status line, the headers and half of the body (half the headers if there is no body), then a
  TCP reset;
- ``reset_request``: half of the request body reaches the endpoint, then both connections are
  reset (an upload cut off in the middle).

Faults are real bytes on a real socket, so the client's retry logic, timeouts and error
handling run exactly as they would against a failing S3. Everything listens on 127.0.0.1 only.

Example::

    with local_s3() as s3, FaultProxy(s3.endpoint) as proxy:
        proxy.inject(Rule("slow_down", method="PUT", times=2))   # two throttled PUTs, then fine
        storage = open_s3(f"s3://{bucket}", {**s3.options(), "endpoint": proxy.endpoint})
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Self
from urllib.parse import urlsplit

Fault = Literal["latency", "slow_down", "internal_error", "reset_response", "reset_request"]

_ERRORS = {
    "slow_down": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "internal_error": (500, "Internal Server Error", "InternalError",
                       "We encountered an internal error. Please try again."),
}


@dataclass
class Rule:
    """Which requests get which fault.

    Attributes:
        fault: What happens to a matching request.
        method: Only requests with this HTTP method (``GET``, ``PUT``, ``HEAD``...); any if None.
        path: Only requests whose path contains this text; any if None.
        times: How many matching requests get the fault, then the rule is spent; None: all.
        seconds: The delay of ``latency``.
    """

    fault: Fault
    method: str | None = None
    path: str | None = None
    times: int | None = None
    seconds: float = 0.0
    used: int = field(default=0, compare=False)

    def take(self, method: str, path: str) -> bool:
        """Whether this request gets the fault (and counts it)."""
        if self.method and method != self.method:
            return False
        if self.path and self.path not in path:
            return False
        if self.times is not None and self.used >= self.times:
            return False
        self.used += 1
        return True


@dataclass(frozen=True)
class Seen:
    """One request the proxy handled: when, what, and the fault it got (None: passed on)."""

    at: float
    method: str
    path: str
    fault: Fault | None


class FaultProxy:
    """The proxy; a context manager that starts and stops it.

    Args:
        upstream: The real endpoint, ``http://127.0.0.1:<port>``.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only fronts endpoints on the loopback interface")
        self.upstream = (parts.hostname, parts.port or 80)
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self.seen: list[Seen] = []
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the proxy first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, *rules: Rule) -> None:
        """Replaces the rules (the first matching rule applies to a request)."""
        with self._lock:
            self._rules = list(rules)

    def clear(self) -> None:
        self.inject()

    def requests(self, method: str | None = None, fault: Fault | None | Literal["any"] = "any") -> list[Seen]:
        """The requests seen so far, by method and by the fault they got."""
        with self._lock:
            return [s for s in self.seen
                    if (method is None or s.method == method) and (fault == "any" or s.fault == fault)]

    def _choose(self, method: str, path: str) -> Rule | None:
        with self._lock:
            rule = next((r for r in self._rules if r.take(method, path)), None)
            self.seen.append(Seen(time.monotonic(), method, path, rule.fault if rule else None))
            return rule

    def start(self) -> Self:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one client connection: requests one after another (keep-alive) ----------------------

    def _serve(self, client: socket.socket) -> None:
        reader = _Reader(client)
        try:
            while True:
                head = reader.head()
                if head is None:
                    return
                method, path = head.split(b" ", 2)[:2]
                rule = self._choose(method.decode(), path.decode())
                if not self._answer(client, reader, head, rule):
                    return
        except OSError:
            return
        finally:
            client.close()

    def _answer(self, client: socket.socket, reader: _Reader, head: bytes, rule: Rule | None) -> bool:
        """Answers one request; False when the client connection must end."""
        headers = _headers(head)
        fault = rule.fault if rule else None
        if fault in _ERRORS:
            reader.body(headers)  # read (and drop) the upload, as S3 would before answering
            client.sendall(_error_response(*_ERRORS[fault]))
            return True
        upstream = socket.create_connection(self.upstream, timeout=30)
        try:
            if fault == "reset_request":
                body = reader.body(headers)
                upstream.sendall(head + body[: len(body) // 2])
                _reset(upstream)
                _reset(client)
                return False
            upstream.sendall(head + reader.body(headers))
            answer = _Reader(upstream)
            response_head = answer.head()
            if response_head is None:
                return False
            response_body = answer.body(_headers(response_head), response=True,
                                        bodyless=head.startswith(b"HEAD "))
        finally:
            upstream.close()
        if fault == "latency":
            time.sleep(rule.seconds)  # type: ignore[union-attr]
        if fault == "reset_response":
            # Half the body; an answer without one (HEAD, PUT) is cut inside its headers.
            cut = (response_head + response_body[: len(response_body) // 2] if response_body
                   else response_head[: len(response_head) // 2])
            client.sendall(cut)
            _reset(client)
            return False
        client.sendall(response_head + response_body)
        return True


class _Reader:
    """Buffered reads of HTTP/1.1 messages from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def head(self) -> bytes | None:
        """The request or status line and headers, up to and including the blank line."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                return None
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("connection closed in the middle of a body")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("connection closed in the middle of a chunk")
        end = self.buffer.index(b"\r\n") + 2
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def body(self, headers: dict[str, str], response: bool = False, bodyless: bool = False) -> bytes:
        """The body as sent (chunked bodies keep their framing)."""
        if bodyless:
            return b""
        if "chunked" in headers.get("transfer-encoding", ""):
            out = []
            while True:
                size_line = self.line()
                out.append(size_line)
                size = int(size_line.split(b";")[0], 16)
                out.append(self.exactly(size + 2))
                if size == 0:
                    return b"".join(out)
        if "content-length" in headers:
            return self.exactly(int(headers["content-length"]))
        if response:  # no length: the body runs to the end of the connection
            while self._fill():
                pass
            data, self.buffer = self.buffer, b""
            return data
        return b""


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines) if k}


def _error_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>anomd-fault-proxy</RequestId></Error>").encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _reset(sock: socket.socket) -> None:
    """Closes with a TCP reset (RST) instead of an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """:class:`FaultProxy` as a context manager function."""
    with FaultProxy(upstream) as proxy:
        yield proxy
