"""``anomd.Client`` and ``anomd.AsyncClient`` against real servers on 127.0.0.1.

Frames in and frames out, Arrow on the wire by default (and the same answers over JSON), typed
results, API keys, and retries only where nothing reached the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import polars as pl
import pytest

import anomd
from anomd.client import ApiError, DetectResult, ScoreResult, StreamResult, Unreachable
from anomd.model import ModelDetails
from anomd.model_store import ModelRow
from anomd.server.schemas import FitResponse
from anomd.testing import ServerProcess, start_server
from anomd.testing.server import free_port

on_filesystem = pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)
ADMIN = "client-test-admin-key-0123456789"
READ = "client-test-read-key-0123456789"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 3))
    X[:5] += 7.0
    return pd.DataFrame(X, columns=["amount", "items", "risk"])


@on_filesystem
def test_fit_score_detect_with_frames(server: ServerProcess, frame: pd.DataFrame) -> None:
    with anomd.Client(server.url) as client:
        fitted = client.fit(frame, model="client-frames", backend="isolation_forest", contamination=0.02,
                            params={"n_estimators": 50}, description="from the client")
        assert isinstance(fitted, FitResponse)
        assert fitted.model_params["feature_names"] == ["amount", "items", "risk"]
        assert fitted.filename == "client-frames_isolation_forest.joblib"

        result = client.score(frame, model="client-frames")  # backend found by name
        assert isinstance(result, ScoreResult) and result.backend == "isolation_forest"
        assert len(result) == 400 and result.is_anomaly[:5].all()
        assert result.anomaly_count == int(result.is_anomaly.sum()) and result.total_points == 400
        assert ((result.score > result.threshold) == result.is_anomaly).all()
        local = anomd.Detector("isolation_forest", contamination=0.02, n_estimators=50).fit(frame)
        np.testing.assert_array_equal(result.raw_score, local.score(frame))

        out = result.to_pandas()
        assert list(out.columns) == ["raw_score", "score", "is_anomaly"] and out.index.name == "index"
        assert result.to_polars().columns == ["index", "raw_score", "score", "is_anomaly"]
        reordered = client.score(pl.DataFrame(frame[["risk", "amount", "items"]].to_dict("list")),
                                 model="client-frames")
        np.testing.assert_array_equal(reordered.raw_score, result.raw_score)

        explained = client.score(frame.head(20), model="client-frames", explain=True)
        assert set(explained.explanations) == set(np.flatnonzero(explained.is_anomaly).tolist())
        assert set(explained.explanations[0]) == {"amount", "items", "risk"}

        found = client.detect(frame.to_numpy(), contamination=0.02)
        assert isinstance(found, DetectResult) and found.total_points == 400
        assert {0, 1, 2, 3, 4} <= set(found.index.tolist()) and found.is_anomaly.all()
        assert found.training_time_ms > 0

        listed = client.models()
        assert all(isinstance(m, ModelRow) for m in listed)
        assert "client-frames_isolation_forest.joblib" in {m.filename for m in listed}
        details = client.model("client-frames_isolation_forest.joblib")
        assert isinstance(details, ModelDetails) and details.description == "from the client"
        assert client.load("client-frames").backend == "isolation_forest"
        assert {b.backend for b in client.backends()} >= {"ecod", "isolation_forest"}
        assert client.health().status == "ok"
        assert client.delete_model("client-frames_isolation_forest.joblib").deleted
        with pytest.raises(ApiError) as gone:
            client.score(frame, model="client-frames")
        assert gone.value.status_code == 404 and "no stored model is named 'client-frames'" in gone.value.detail


@on_filesystem
def test_json_transport_gives_the_same_answers(server: ServerProcess, frame: pd.DataFrame) -> None:
    with anomd.Client(server.url) as arrow, anomd.Client(server.url, transport="json") as plain:
        arrow.fit(frame, model="client-wire")
        by_arrow = arrow.score(frame, model="client-wire", explain=True)
        by_json = plain.score(frame, model="client-wire", explain=True)
        for field in ("index", "raw_score", "score", "is_anomaly"):
            np.testing.assert_array_equal(getattr(by_arrow, field), getattr(by_json, field))
        assert by_arrow.explanations == by_json.explanations and by_arrow.threshold == by_json.threshold
        assert by_arrow.causes == by_json.causes and set(by_arrow.causes) == set(by_arrow.explanations)
        assert by_arrow.causes and all(c in {"amount", "items", "risk"} for c in by_arrow.causes.values())
        rows = [{"amount": 1.0, "items": 2.0, "risk": 0.1}, {"amount": 9.0, "items": 8.0, "risk": 7.0}]
        assert plain.score(rows, model="client-wire").is_anomaly.tolist() == \
            arrow.score(rows, model="client-wire").is_anomaly.tolist() == [False, True]


@on_filesystem
def test_errors_carry_the_servers_status_and_detail(server: ServerProcess, frame: pd.DataFrame) -> None:
    with anomd.Client(server.url) as client:
        client.fit(frame, model="client-errors")
        with pytest.raises(ApiError) as refused:
            client.score(frame[["amount", "items"]], model="client-errors")
        assert refused.value.status_code == 422
        assert "missing 'risk'" in refused.value.detail
        with pytest.raises(ApiError, match="unknown backend 'nope'"):
            client.fit(frame, model="x", backend="nope")
        with pytest.raises(anomd.errors.InvalidInput, match="not finite"):
            client.score(np.array([[1.0, np.nan, 2.0]]), model="client-errors")  # checked before sending


@on_filesystem
def test_stream_points_and_frames(server: ServerProcess) -> None:
    rng = np.random.default_rng(2)
    readings = pl.DataFrame({"temp": rng.normal(45, 0.5, 40), "vibration": rng.normal(0.5, 0.02, 40)})
    with anomd.Client(server.url) as client:
        warmup = client.stream("client-sensor", readings, min_samples=30)
        assert isinstance(warmup, StreamResult) and len(warmup.results) == 40 and warmup.status == "ready"
        spike = client.stream("client-sensor", {"temp": 71.0, "vibration": 2.9})
        assert spike.results[0].is_anomaly is True and spike.anomaly_count == 1


@on_filesystem
def test_async_client(server: ServerProcess, frame: pd.DataFrame) -> None:
    async def main() -> tuple[ScoreResult, ScoreResult]:
        async with anomd.AsyncClient(server.url) as client:
            await client.fit(frame, model="client-async", contamination=0.02)
            return await asyncio.gather(client.score(frame, model="client-async"),
                                        client.score(frame.head(10), model="client-async"))

    whole, head = asyncio.run(main())
    assert whole.is_anomaly[:5].all() and len(head) == 10
    np.testing.assert_array_equal(head.raw_score, whole.raw_score[:10])


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("client-keys"),
                          env={"ANOMD_ADMIN_KEYS": ADMIN, "ANOMD_READ_KEYS": READ})
    yield server
    server.stop()


def test_api_keys(keyed: ServerProcess, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    with anomd.Client(keyed.url) as anonymous:
        with pytest.raises(ApiError) as refused:
            anonymous.fit(frame, model="keyed")
        assert refused.value.status_code == 401
    with anomd.Client(keyed.url, api_key=ADMIN) as admin:
        admin.fit(frame, model="keyed")
    monkeypatch.setenv("ANOMD_API_KEY", READ)
    with anomd.Client(keyed.url) as reader:  # the key from the environment
        assert reader.score(frame, model="keyed").total_points == 400
        with pytest.raises(ApiError) as forbidden:
            reader.fit(frame, model="keyed")
        assert forbidden.value.status_code == 403


def test_connection_errors_are_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with anomd.Client(url, retries=3, backoff=0.1) as client, pytest.raises(Unreachable) as failed:
        client.health()
    assert time.perf_counter() - started >= 0.1 + 0.2 + 0.4  # three waits: 3 retries were made
    assert f"cannot reach anomd at {url}" in str(failed.value)


def test_a_server_that_comes_up_during_the_retries_is_reached(tmp_path) -> None:
    port = free_port()
    holder: dict[str, ServerProcess] = {}

    async def late_start() -> None:
        await asyncio.sleep(0.5)
        holder["server"] = await asyncio.to_thread(start_server, tmp_path, port=port)

    async def main() -> str:
        async with anomd.AsyncClient(f"http://127.0.0.1:{port}", retries=8, backoff=0.5) as client:
            starting = asyncio.create_task(late_start())
            health = await client.health()
            await starting
            return health.status

    try:
        assert asyncio.run(main()) == "ok"
    finally:
        if "server" in holder:
            holder["server"].stop()


@on_filesystem
def test_refusals_are_not_retried(server: ServerProcess, frame: pd.DataFrame) -> None:
    """A 4xx means the server acted on the request: sending it again could repeat a fit."""

    def requests_seen() -> float:
        import httpx

        text = httpx.get(server.url + "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("anomd_http_requests_total{") and 'status="422"' in line)

    before = requests_seen()
    with anomd.Client(server.url, retries=5) as client, pytest.raises(ApiError):
        client.fit(frame, model="bad name!")
    assert requests_seen() - before == 1
