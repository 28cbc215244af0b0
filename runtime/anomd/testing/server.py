"""A real anomd server in a subprocess on 127.0.0.1, for tests, examples and benchmarks.

Tests exercise the server the way clients do: a separate process, a real socket, real storage.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A running server: its base URL, data folder and process handle."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path

    @property
    def api(self) -> str:
        return self.url + "/v1/ml/anomaly"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode


def start_server(
    data_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Starts ``python -m anomd serve`` on 127.0.0.1 and waits until ``/health`` answers."""
    data = Path(data_dir or tempfile.mkdtemp(prefix="anomd-"))
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data / f"server-{port}.log"
    full_env = {**os.environ, "ANOMD_WARM_UP": "false", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "anomd", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data)],
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=full_env,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", data, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"anomd server exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"anomd server did not answer within {timeout} s:\n{server.log()}")


@contextmanager
def running_server(**kwargs) -> Iterator[ServerProcess]:
    """Context manager around :func:`start_server` that always stops the process."""
    server = start_server(**kwargs)
    try:
        yield server
    finally:
        server.stop()
