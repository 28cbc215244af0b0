"""``kill -9`` of a server in the middle of a refit leaves the previous model intact and
scorable after a restart, on both storage backends.

Also home of what the other crash tests (``test_crash_safety_*.py``) share: seeing, from
outside the server, that a write to the store is under way, and killing the server right then.
"""

from __future__ import annotations

import importlib
import os
import signal
import socket
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Self
from urllib.parse import quote, unquote, urlparse

import httpx
import numpy as np
from helpers import ok, rows
from storage_backends import StorageBackend, StoreUnderTest

from anomd.testing import ServerProcess, running_server, start_server

FILENAME = "survivor_isolation_forest.joblib"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_kill_9_during_a_refit_keeps_the_previous_version(
    storage_backend: StorageBackend, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    small = rng.normal(size=(300, 4))
    probe = rng.normal(size=(20, 4))
    store = storage_backend.new_store(tmp_path)
    data_dir = tmp_path / "data"

    server = start_server(data_dir, env=store.env)
    try:
        with httpx.Client(base_url=server.api, timeout=120) as api:
            ok(
                api.post(
                    "/fit",
                    json={
                        "model": "survivor",
                        "backend": "isolation_forest",
                        "data": rows(small),
                        "params": {"n_estimators": 20},
                    },
                )
            )
            before = ok(
                api.post(
                    "/score",
                    json={"model": "survivor", "backend": "isolation_forest", "data": rows(probe)},
                )
            )["data"]

        # A refit big enough to take minutes: 10,000 trees scored over 20,000 rows.
        outcome: dict[str, object] = {}

        def refit() -> None:
            try:
                outcome["response"] = httpx.post(
                    server.api + "/fit",
                    timeout=600,
                    json={
                        "model": "survivor",
                        "backend": "isolation_forest",
                        "data": rows(rng.normal(size=(20_000, 4))),
                        "params": {"n_estimators": 10_000},
                    },
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        cpu_at_start = _cpu_seconds(server.process.pid)
        thread = threading.Thread(target=refit)
        thread.start()
        deadline = time.monotonic() + 120
        while _cpu_seconds(server.process.pid) - cpu_at_start < 2.0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert thread.is_alive(), f"the refit finished before the kill: {outcome}"
        server.stop(signal.SIGKILL)
        thread.join(60)
        assert server.process.returncode == -signal.SIGKILL
        assert "error" in outcome, "the refit answered although its server was killed"
    finally:
        server.stop(signal.SIGKILL)

    with (
        running_server(data_dir=data_dir, env=store.env) as again,
        httpx.Client(base_url=again.api, timeout=120) as api,
    ):
        after = ok(
            api.post(
                "/score",
                json={"model": "survivor", "backend": "isolation_forest", "data": rows(probe)},
            )
        )["data"]
        assert after == before
        info = ok(api.get(f"/models/{FILENAME}"))
        assert info["samples_fitted"] == 300 and info["params"]["n_estimators"] == 20
        assert [m["filename"] for m in ok(api.get("/models"))["data"]] == [FILENAME]
    assert [o.key for o in store.open().list()] == [f"models/{FILENAME}"]


# -- shared by the other crash tests -------------------------------------------------------


#: Settings for the servers of the crash tests: they use ECOD only, so only ECOD is warmed up,
#: and warming up (importing PyOD takes seconds here) runs while the test does its own work
#: instead of inside the first request after a restart.
WARM_ECOD = {"ANOMD_WARM_UP": "true", "ANOMD_ENABLED_BACKENDS": "ecod"}


def import_pyod_in_background() -> None:
    """Starts importing what unpickling a stored ECOD model needs, on a daemon thread.

    A test that decodes checkpoints or artifacts itself would otherwise spend seconds on the
    import (scikit-learn and PyOD compiled from source when no bytecode cache is written) at
    the moment it reads them; begun early, the import overlaps the server's work.
    """
    threading.Thread(target=importlib.import_module, args=("pyod.models.ecod",), daemon=True).start()


class ClientThreads:
    """Client threads whose failures (an unexpected status, a failed assertion) fail the test
    rather than dying silently with their thread."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[..., object], *args: object) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by join()
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=getattr(target, "__name__", "client"))
        thread.start()
        self._threads.append(thread)

    def join(self, timeout: float = 60.0) -> None:
        """Waits for every thread and fails with the first error any of them met."""
        for thread in self._threads:
            thread.join(timeout)
        assert not [t.name for t in self._threads if t.is_alive()], "a client thread hangs"
        if self.errors:
            raise self.errors[0]


class S3Relay:
    """A TCP relay on 127.0.0.1 between a server and the S3 endpoint, through which the test
    sees the server's storage requests as they happen, and can hold one back.

    Every request passes unchanged, except that once :meth:`hold` is given the start of a
    request line, the first request beginning with it goes no further: the write it carries
    stays unfinished for as long as the test wants (until it kills the server), like a slow
    upload at the moment of a crash. Both ends are real: the server's S3 client and the S3
    endpoint; only the timing is chosen. obstore speaks HTTP/1.1 without pipelining, so a
    request's first bytes are the first bytes a connection sends after the previous answer.
    """

    def __init__(self, upstream: str) -> None:
        url = urlparse(upstream)
        self._upstream = (url.hostname or "127.0.0.1", url.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._hold: bytes | None = None
        self.held = threading.Event()
        self.held_request = ""
        self._waiting: dict[int, str] = {}  # connection -> request line sent, not yet answered
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, request_start: str) -> None:
        """Holds back the next request whose request line starts with ``request_start``."""
        self._hold = request_start.encode()

    def waiting(self) -> list[str]:
        """Request lines sent by the server and not yet answered."""
        with self._lock:
            return list(self._waiting.values())

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._upstream)
            except OSError:
                return
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        with suppress(OSError):
            while data := client.recv(1 << 16):
                with self._lock:
                    if id(client) not in self._waiting:  # the first bytes of a new request
                        line = data.split(b"\r\n", 1)[0].decode("latin-1")
                        self._waiting[id(client)] = line
                        if self._hold and data.startswith(self._hold) and not self.held.is_set():
                            self.held_request = line
                            self.held.set()
                            return  # never forwarded; the connection stays open and silent
                upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        with suppress(OSError):
            while data := upstream.recv(1 << 16):
                with self._lock:
                    self._waiting.pop(id(client), None)
                client.sendall(data)
            client.shutdown(socket.SHUT_WR)


class StoreWatch:
    """Sees, from outside the server, the writes it has begun and not finished in its store.

    Filesystem: the ``.tmp-*`` file a put fills and flushes before renaming it into place.
    S3: a multipart upload begun and not completed (``ListMultipartUploads``; obstore uploads
    objects over 5 MiB that way). Each is exactly what a SIGKILL in the middle of a write leaves
    behind, so finding one after the kill proves that the kill landed mid-write. On S3 the
    server talks to the endpoint through an :class:`S3Relay`, so its requests can be seen too.

    Attributes:
        env: What ``start_server`` needs to use the store (through the relay on S3).
    """

    def __init__(self, backend: StorageBackend, store: StoreUnderTest) -> None:
        self.backend, self.store = backend, store
        self.relay: S3Relay | None = None
        self.env = dict(store.env)
        if backend.name == "s3":
            self.relay = S3Relay(backend.s3_env["AWS_ENDPOINT_URL"])
            self.env["AWS_ENDPOINT_URL"] = self.relay.endpoint
            location = urlparse(store.uri)
            self.bucket, self.prefix = location.netloc, location.path.strip("/")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.relay is not None:
            self.relay.close()

    def root(self) -> Path:
        """The filesystem store's folder."""
        return Path(unquote(urlparse(self.store.uri).path))

    def unfinished(self, folder: str, min_bytes: int = 0) -> list[str]:
        """Unfinished writes below ``folder`` (e.g. ``streams``): temporary file paths with at
        least ``min_bytes`` written, or the keys and ids of incomplete multipart uploads."""
        if self.relay is None:
            found = []
            with suppress(FileNotFoundError):
                for entry in os.scandir(self.root() / folder):
                    with suppress(FileNotFoundError):  # renamed into place meanwhile
                        if entry.name.startswith(".tmp-") and entry.stat().st_size >= min_bytes:
                            found.append(entry.path)
            return found
        url = (f"{self.backend.s3_env['AWS_ENDPOINT_URL']}/{self.bucket}"
               f"?uploads&prefix={quote(f'{self.prefix}/{folder}/')}")
        with urllib.request.urlopen(url, timeout=10) as response:
            tree = ET.fromstring(response.read())
        uploads = [{child.tag.rpartition("}")[2]: child.text for child in upload}
                   for upload in tree.iter() if upload.tag.rpartition("}")[2] == "Upload"]
        return [f"{upload['Key']} (upload {upload['UploadId']})" for upload in uploads]

    def deletes_waiting(self) -> list[str]:
        """S3 deletes the server has sent and not had an answer to (S3 only): while one is
        waiting, the server is inside a storage delete."""
        assert self.relay is not None
        starts = (f"POST /{self.bucket}?delete", f"DELETE /{self.bucket}/{self.prefix}/")
        return [line for line in self.relay.waiting() if line.startswith(starts)]

    def kill_mid_write(
        self, server: ServerProcess, key: str, min_bytes: int,
        also: Callable[[], bool] = lambda: True, timeout: float = 60.0,
    ) -> list[str]:
        """SIGKILLs the server in the middle of writing the (multi-megabyte) object ``key``,
        once ``also()`` holds too; returns the unfinished writes left in the store.

        Filesystem: the store's folder is polled (microseconds) until a temporary file holds
        at least ``min_bytes``, i.e. the object is being written and then flushed (~15 ms
        for 6 MB here), and the kill follows at once. S3: the relay holds back one part
        of the object's multipart upload, so the upload cannot complete before the kill.
        """
        folder = key.rpartition("/")[0]
        deadline = time.monotonic() + timeout
        if self.relay is not None:
            self.relay.hold(f"PUT /{self.bucket}/{self.prefix}/{key}?partNumber=")
            assert self.relay.held.wait(timeout), f"no upload of {key} began"
        while time.monotonic() < deadline and server.process.poll() is None:
            if (self.relay is not None or self.unfinished(folder, min_bytes)) and also():
                os.kill(server.process.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)  # leave the GIL to the clients feeding the server
        server.stop(signal.SIGKILL)
        assert server.process.returncode == -signal.SIGKILL, server.log()[-3000:]
        return self.unfinished(folder)
