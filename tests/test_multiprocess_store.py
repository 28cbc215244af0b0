"""Many processes, one store: two servers sharing a folder (or a bucket) see each other's
models without ``/load``, pick up each other's refits, and refuse artifacts signed with a key
they do not share."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows
from storage_backends import StorageBackend

from anomd.errors import ArtifactRejected
from anomd.service import AnomalyService
from anomd.settings import load_settings
from anomd.testing import start_server

FILENAME = "shared_ecod.joblib"


def _scores(api: httpx.Client, X: np.ndarray) -> list[float]:
    return [
        row["raw_score"]
        for row in ok(api.post("/score", json={"model": "shared", "data": rows(X)}))["data"]
    ]


def test_two_servers_share_models_and_refits(
    storage_backend: StorageBackend, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    first_data, second_data = (
        rng.normal(size=(200, 3)),
        rng.normal(loc=4.0, scale=3.0, size=(260, 3)),
    )
    probe = rng.normal(size=(15, 3))
    store = storage_backend.new_store(tmp_path)
    # Separate data folders, as on two machines: the store and the signing key are shared.
    env = {**store.env, "ANOMD_SECRET_KEY": secrets.token_hex(32)}
    with ThreadPoolExecutor(2) as pool:
        servers = list(pool.map(lambda name: start_server(tmp_path / name, env=env), ["a", "b"]))
    try:
        with (
            httpx.Client(base_url=servers[0].api, timeout=120) as a,
            httpx.Client(base_url=servers[1].api, timeout=120) as b,
        ):
            ok(a.post("/fit", json={"model": "shared", "data": rows(first_data)}))
            from_a = _scores(a, probe)
            assert _scores(b, probe) == from_a  # fitted in A, scored in B, no /load
            assert ok(b.get(f"/models/{FILENAME}"))["samples_fitted"] == 200
            assert FILENAME in {m["filename"] for m in ok(b.get("/models"))["data"]}

            ok(a.post("/fit", json={"model": "shared", "data": rows(second_data)}))  # refit in A
            refit_in_a = _scores(a, probe)
            assert refit_in_a != from_a
            assert _scores(b, probe) == refit_in_a  # B's cached copy was replaced
            assert ok(b.get(f"/models/{FILENAME}"))["samples_fitted"] == 260

            ok(b.delete(f"/models/{FILENAME}"))  # deleted in B, gone in A
            problem(a.post("/score", json={"model": "shared", "data": rows(probe)}), 404)
    finally:
        for server in servers:
            server.stop()


def test_a_process_with_another_signing_key_refuses_the_models(
    storage_backend: StorageBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sharing a store needs a shared key (docs/storage.md); without one the error says so."""
    store = storage_backend.new_store(tmp_path)
    for name, value in store.env.items():  # obstore reads the AWS variables from the process
        monkeypatch.setenv(name, value)
    X = np.random.default_rng(9).normal(size=(100, 3))

    def service(key: str) -> AnomalyService:
        settings = load_settings(
            env={**store.env, "ANOMD_SECRET_KEY": key}, data_dir=str(tmp_path / key[:6])
        )
        return AnomalyService(settings)

    service("writer-key-" + "w" * 20).fit(X, model="shared")
    with pytest.raises(ArtifactRejected, match="shared_ecod.joblib.*another key"):
        service("reader-key-" + "r" * 20).score(X[:3], model="shared")
