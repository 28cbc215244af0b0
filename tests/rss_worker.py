"""A process that measures the peak RSS of single requests to the real anomd app.

Run by ``test_admission_rss.py`` as a subprocess (never in the test process). It builds the
app exactly as ``anomd serve`` does, warms every backend up (imports, compiled code, first-use
allocations), and then, for each request it is asked to measure, forks: the child hands the
allocators' free pages back to the kernel, resets the kernel's high-water mark, feeds the
request to the app through ASGI in 64 KB chunks (as the HTTP server would), and reports how far
its RSS rose. Every request therefore starts from the same warmed, clean process: memory freed
by an earlier request (measured or not) and kept by the allocator cannot hide part of the next
one's peak, as it would in one long-lived server.

A session (``{"session": "begin"}`` ... ``{"session": "end"}``) runs in a forked copy of the
process as it was after start-up (imports done, nothing served): the tests open one per backend,
so what one backend's requests left in the heap never shapes another's figures, without paying
a new interpreter and its imports each time.

Protocol: one JSON object per line on stdin, one per line on stdout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

CHUNK = 64 * 1024


def rss() -> tuple[int, int]:
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


async def _call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }
    offset = 0

    async def receive() -> dict[str, Any]:
        nonlocal offset
        chunk = body[offset:offset + CHUNK]
        offset += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": offset < len(body)}

    status, parts = 0, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(parts)


def call(app: Any, path: str, body: bytes) -> tuple[int, bytes]:
    return asyncio.run(_call(app, path, body))


def fresh_threads(app: Any) -> None:
    """Gives a forked child its own retrain pool: the parent's worker threads do not exist in
    the child, and a pool that believes it has an idle one would never run a job."""
    from anomd.streaming.executors import RetrainPool

    state = app.dependencies["app_state"].dependency()
    state.streams.executor = RetrainPool("thread", 1)


def rewarm_after_fork() -> None:
    """Pays PyTorch's first use in a forked child before the high-water mark is reset.

    Measured: the first tensor operation after ``fork`` raises a child's RSS by about 60 MB
    whatever its size (10 rows or 10,000), while the same operation in the parent, in a fresh
    thread, adds under 2 MB. That is the fork's cost (torch re-initialises its per-process
    state in the child), not the request's, and a server never forks per request; one tiny
    operation here moves it out of the measurement.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        layer = torch.nn.Linear(2, 2)
        layer(torch.zeros(4, 2)).sum().backward()


def release_free_memory() -> None:
    """Hands back to the kernel every page the allocators hold free, before a measurement.

    A page that an earlier, unmeasured request of the session used and freed stays resident
    unless it was at the top of the heap; a measured request that reuses it adds nothing to
    the RSS, so its peak reads lower than the same request's in a fresh process, by an amount
    that depends on the heap's history and the machine's allocator (one-class SVM streaming
    measured 32 MB here and 10.5 MB on CI). ``malloc_trim(0)`` releases the free pages inside
    the heap as well, so every request is measured as the first large request of a process.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim, measure as is
        pass


def measured(app: Any, path: str, body: bytes) -> dict[str, Any]:
    """Runs the request in a forked child and returns its status, reply and RSS growth."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, leave without running any cleanup
        try:
            os.close(read)
            fresh_threads(app)
            rewarm_after_fork()
            release_free_memory()
            Path("/proc/self/clear_refs").write_text("5")
            before, _ = rss()
            status, reply = call(app, path, body)
            _, peak = rss()
            out = msgspec.json.encode({"status": status, "growth": peak - before,
                                       "reply": msgspec.json.decode(reply)})
            os.write(write, out)
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while data := os.read(read, 1 << 20):
        chunks.append(data)
    os.close(read)
    os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError(f"the measuring child for {path} died without a report")
    return msgspec.json.decode(b"".join(chunks))


def main() -> None:
    # Replies go to the original stdout; anything else the app prints (logs) to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("ANOMD_DATA_DIR", tempfile.mkdtemp(prefix="anomd-rss-"))
    from anomd.server.app import create_app
    from anomd.settings import load_settings

    app = create_app(load_settings(warm_up=False, worker_threads=1, stream_retrain_workers=1))
    in_session = False
    for line in sys.stdin:
        command = msgspec.json.decode(line)
        session = command.get("session")
        if session == "begin" and not in_session:
            pid = os.fork()
            if pid:  # the parent waits, untouched, for the session to end
                os.waitpid(pid, 0)
                continue
            in_session = True
            fresh_threads(app)
            rewarm_after_fork()
        if session is not None:
            protocol.write(msgspec.json.encode({"status": 200, "reply": {}}).decode() + "\n")
            protocol.flush()
            if session == "end" and in_session:
                os._exit(0)
            continue
        body = command["body"].encode()
        if command.get("measure"):
            out = measured(app, command["path"], body)
        else:
            status, reply = call(app, command["path"], body)
            out = {"status": status, "reply": msgspec.json.decode(reply)}
        protocol.write(msgspec.json.encode(out).decode() + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
