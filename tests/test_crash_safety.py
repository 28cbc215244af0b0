"""``kill -9`` of a server in the middle of a refit leaves the previous model intact and
scorable after a restart, on both storage backends."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from helpers import ok, rows
from storage_backends import StorageBackend

from anomd.testing import running_server, start_server

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
