"""``kill -9`` while models are being deleted and rewritten, on both storage backends.

Three clients work through two dozen models: some are deleted once, some deleted and refitted
in turn, some overwritten in turn; a fourth client keeps refitting a ~6.6 MB model (``bulk``).
The server is killed in the middle of a bulk write (seen as its temporary file being flushed;
on S3, one part of its multipart upload is held back on the way to the bucket) at a moment
when a delete is being carried out (on S3, the server's delete request to the bucket is on
its way); what is left in the store afterwards proves the write was cut short.

After a restart on the same store, every model must be in a state it was in just before the
crash or would have been in had the unanswered request completed: present and scoring exactly
as that version did, or absent (404 everywhere). Nothing is listed that cannot be read, no
request answers a 500, and the interrupted write left nothing that is listed or loaded (on
files, the restarted server removes the dead writer's temporary file).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from helpers import ok
from storage_backends import StorageBackend
from test_crash_safety import WARM_ECOD, ClientThreads, StoreWatch

from anomd.testing import start_server

#: ECOD with its exact scorer keeps its training matrix: 36,000 x 4 rows make a ~6.6 MB
#: artifact, above the 5 MiB from which S3 uploads go in parts, and ~15 ms of fsync on files.
BULK_ROWS = 36_000
BIG_WRITE = 1_000_000
SMALL_MODELS = 24
PROBE = np.random.default_rng(99).normal(size=(16, 4))
ENV = {"ANOMD_LOG_LEVEL": "warning", **WARM_ECOD}


@dataclass
class Model:
    """A model as its one client knows it.

    Attributes:
        versions: The two fits it alternates between (``"A"``, ``"B"``), as JSON bodies.
        rows: Rows of each version (``samples_fitted`` tells them apart).
        plan: The operations applied in turn: ``"delete"``, ``"A"`` or ``"B"`` (fit that
            version); repeated while ``cycle``.
        state: What the store holds after the last answered operation: a version or None
            (deleted).
        lost: The operation sent when the server died, never answered: the store may hold
            its outcome instead.
        done: Operations answered since the clients started; ``deleted``: deletes among them.
        scores: Probe scores of each version, measured before the crash.
    """

    name: str
    versions: dict[str, bytes]
    rows: dict[str, int]
    plan: list[str]
    cycle: bool = True
    state: str | None = "A"
    step: int = 0
    lost: str | None = None
    done: int = 0
    deleted: int = 0
    scores: dict[str, list[float]] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.name}_ecod.joblib"

    def next_op(self) -> str | None:
        if self.lost is not None or (not self.cycle and self.step >= len(self.plan)):
            return None
        return self.plan[self.step % len(self.plan)]

    def run(self, api: httpx.Client, op: str) -> bool:
        """Applies ``op``; returns False if the server did not answer (it was killed)."""
        try:
            if op == "delete":
                response = api.delete(f"/models/{self.filename}")
            else:
                response = api.post("/fit", content=self.versions[op],
                                    headers={"content-type": "application/json"})
        except httpx.ConnectError:
            return False  # never reached the server
        except httpx.HTTPError:
            self.lost = op
            return False
        ok(response)
        self.state = None if op == "delete" else op
        self.step += 1
        self.done += 1
        self.deleted += op == "delete"
        return True

    def possible(self) -> set[str | None]:
        """States the store may hold after the crash."""
        if self.lost is None:
            return {self.state}
        return {self.state, None if self.lost == "delete" else self.lost}


def fit_body(name: str, data: np.ndarray, params: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"model": name, "backend": "ecod", "data": data.tolist(),
                       "params": params or {}}).encode()


def small_model(number: int) -> Model:
    rng = np.random.default_rng(number)
    a = rng.normal(size=(200 + number, 4))
    b = rng.normal(loc=0.5, scale=2.0, size=(260 + number, 4))
    name = f"m{number:02d}"
    role = number % 3
    plan, cycle = {0: (["delete"], False), 1: (["delete", "B", "delete", "A"], True),
                   2: (["B", "A"], True)}[role]
    return Model(name, {"A": fit_body(name, a), "B": fit_body(name, b)},
                 {"A": len(a), "B": len(b)}, plan, cycle)


@dataclass
class Clients:
    """What the client threads do (apply their models' plans), and what each of them is
    waiting for right now."""

    waiting: dict[int, tuple[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def work(self, api_url: str, worker: int, models: list[Model], stop: threading.Event) -> None:
        with httpx.Client(base_url=api_url, timeout=60) as api:
            while not stop.is_set():
                todo = [(m, op) for m in models if (op := m.next_op()) is not None]
                if not todo:
                    return
                for model, op in todo:
                    with self.lock:
                        self.waiting[worker] = (op, time.monotonic())
                    alive = model.run(api, op)
                    with self.lock:
                        self.waiting.pop(worker, None)
                    if not alive or stop.is_set():
                        return

    def delete_in_flight(self) -> bool:
        """A DELETE has been waiting for its answer for over a millisecond (a loopback round
        trip takes far less), so the server has it in hand."""
        now = time.monotonic()
        with self.lock:
            return any(op == "delete" and now - since > 0.001 for op, since in self.waiting.values())


def test_kill_9_during_deletes_leaves_every_model_whole_or_gone(
    storage_backend: StorageBackend, tmp_path: Path
) -> None:
    store = storage_backend.new_store(tmp_path)
    rng = np.random.default_rng(3)
    bulk_a, bulk_b = rng.normal(size=(BULK_ROWS, 4)), rng.normal(size=(BULK_ROWS + 500, 4))
    exact = {"fast_scoring": False}
    bulk = Model("bulk", {"A": fit_body("bulk", bulk_a, exact), "B": fit_body("bulk", bulk_b, exact)},
                 {"A": len(bulk_a), "B": len(bulk_b)}, ["B", "A"])
    models = [small_model(n) for n in range(SMALL_MODELS)]

    with StoreWatch(storage_backend, store) as watch:
        env = {**watch.env, **ENV}
        server = start_server(tmp_path / "data", env=env)
        try:
            with httpx.Client(base_url=server.api, timeout=120) as api:
                for model in [bulk, *models]:
                    for version in ("B", "A"):  # each version's scores, ending on A
                        assert model.run(api, version) and model.state == version
                        model.scores[version] = probe_scores(api, model)
                    model.done = 0
                assert sorted(m["filename"] for m in ok(api.get("/models"))["data"]) == sorted(
                    m.filename for m in [bulk, *models])

                clients, threads, stop = Clients(), ClientThreads(), threading.Event()
                for k in range(3):
                    threads.start(clients.work, server.api, k, models[k::3], stop)
                threads.start(clients.work, server.api, 3, [bulk], stop)
                deadline = time.monotonic() + 60
                while sum(m.deleted for m in models) < 8 and time.monotonic() < deadline:
                    time.sleep(0.01)
                storage_deletes: list[str] = []

                def deleting() -> bool:
                    """A DELETE is being carried out: on S3, the server's delete request to
                    the bucket is on its way; on files (one unlink, nothing in between), a
                    client's DELETE has been waiting for its answer for over 1 ms."""
                    if watch.relay is None:
                        return clients.delete_in_flight()
                    storage_deletes[:] = watch.deletes_waiting()
                    return bool(storage_deletes)

                # Both must hold at one instant (a ~15 ms flush of the bulk model, a DELETE in
                # flight); on a loaded machine the bulk fits, and so its writes, come rarely.
                unfinished = watch.kill_mid_write(server, f"models/{bulk.filename}", BIG_WRITE,
                                                  also=deleting, timeout=180.0)
                stop.set()
                threads.join()
            assert unfinished, "the bulk model was not being written when the server died"
            assert "delete" in [m.lost for m in models], "no DELETE was under way when it died"
            assert storage_deletes or watch.relay is None
            assert sum(m.deleted for m in models) >= 8  # and many had completed before
        finally:
            server.stop()

        # The bulk write was cut short, so the store must still hold the version before it.
        assert bulk.lost in ("A", "B")
        bulk.lost = None
        again = start_server(tmp_path / "data", env=env)
        try:
            if storage_backend.name == "filesystem":
                # The restarted server removed the dead writer's temporary file.
                assert not [path for path in unfinished if Path(path).exists()]
            else:
                assert watch.unfinished("models") == unfinished  # invisible parts, no object
            with httpx.Client(base_url=again.api, timeout=120) as api:
                listed = ok(api.get("/models"))["data"]
                assert [row for row in listed if "error" in row] == []
                present = {row["filename"] for row in listed}
                assert sorted(o.key for o in store.open().list()) == sorted(
                    f"models/{f}" for f in present)
                for model in [bulk, *models]:
                    check_model(api, model, present)
        finally:
            again.stop()


def probe_scores(api: httpx.Client, model: Model) -> list[float]:
    body = ok(api.post("/score", json={"model": model.name, "backend": "ecod", "data": PROBE.tolist()}))
    return [row["score"] for row in body["data"]]


def check_model(api: httpx.Client, model: Model, present: set[str]) -> None:
    """Present and scoring as one of its possible versions did, or absent everywhere."""
    possible = model.possible()
    if model.filename not in present:
        assert None in possible, (model.name, possible)
        assert api.get(f"/models/{model.filename}").status_code == 404
        response = api.post("/score", json={"model": model.name, "backend": "ecod",
                                            "data": PROBE.tolist()})
        assert response.status_code == 404, response.text
        return
    info = ok(api.get(f"/models/{model.filename}"))
    version = next((v for v, n in model.rows.items() if n == info["samples_fitted"]), None)
    assert version in possible, (model.name, version, possible)
    assert probe_scores(api, model) == model.scores[version]
