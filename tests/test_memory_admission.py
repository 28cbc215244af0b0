"""Memory admission over HTTP: a request whose estimated working memory is over
``max_request_memory_mb`` gets a 413 naming the estimate, the limit and the setting, before
anything large is allocated; requests in progress share one budget (503 with Retry-After when
it is held). The estimates' honesty against real peak RSS is ``test_admission_rss.py``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import TestClient

from anomd import admission
from anomd.errors import Overloaded, TooLarge
from anomd.plugins import PluginHost
from anomd.server.app import create_app
from anomd.settings import load_settings

LIMIT_MB = 64
BASE = "/v1/ml/anomaly"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("admission")
    settings = load_settings(env={}, data_dir=str(folder), warm_up=False, max_request_memory_mb=LIMIT_MB)
    with TestClient(create_app(settings)) as running:
        yield running


def _rows(n: int, d: int) -> list[list[float]]:
    return np.random.default_rng(0).normal(size=(n, d)).round(4).tolist()


@pytest.mark.parametrize("path", ["/fit", "/detect"])
def test_quadratic_backend_over_the_limit_is_refused_with_413(client: TestClient, path: str) -> None:
    # The SVM's kernel cache alone (200 MB) is over the 64 MB limit.
    body = {"model": "big", "backend": "one_class_svm", "data": _rows(12_000, 40)}
    reply = client.post(BASE + path, json=body)
    assert reply.status_code == 413, reply.text
    detail = reply.json()["detail"]
    assert "max_request_memory_mb" in detail and f"limit of {LIMIT_MB} MB" in detail
    assert "needs an estimated" in detail and "12,000 rows × 40 features" in detail
    assert client.get(BASE + "/models").status_code == 200  # the server stays up


def test_small_request_is_admitted(client: TestClient) -> None:
    reply = client.post(BASE + "/fit", json={"model": "small", "backend": "hbos", "data": _rows(500, 5)})
    assert reply.status_code == 200, reply.text
    scored = client.post(BASE + "/score", json={"model": "small", "data": _rows(50, 5), "explain": True})
    assert scored.status_code == 200, scored.text


def test_estimates_grow_with_the_cost_model() -> None:
    host = PluginHost()

    def fit_total(backend: str, n: int) -> int:
        spec = host.detectors.get(backend)
        shape = admission.RowsShape(rows=n, width=10, decoded_bytes=0)
        return admission.estimate_fit(spec, spec.parse_params({}), shape).total

    # A linear backend about doubles with the rows; every estimate grows with them.
    assert 1.6 < fit_total("hbos", 200_000) / fit_total("hbos", 100_000) < 2.4
    for backend in host.detectors:
        assert fit_total(backend, 20_000) > fit_total(backend, 10_000), backend


def test_requests_share_one_budget() -> None:
    budget = admission.MemoryBudget(100)
    half = admission.MemoryEstimate(operation="fit", backend="hbos", rows=1, features=1,
                                    parts={"backend": 60 * admission.MB})
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with budget.admit(half):
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    with pytest.raises(Overloaded) as busy, budget.admit(half):
        pass
    assert busy.value.headers["Retry-After"].isdigit() and "max_request_memory_mb" in str(busy.value)
    release.set()
    holder.join(10)
    assert budget.in_use == 0
    with budget.admit(half):  # admitted once the first one is done
        assert budget.in_use == 60 * admission.MB
    too_big = admission.MemoryEstimate(operation="fit", backend="hbos", rows=1, features=1,
                                       parts={"backend": 101 * admission.MB})
    with pytest.raises(TooLarge):
        budget.check(too_big)


def _series_rows(n: int, fields: int) -> list[dict[str, float]]:
    values = np.random.default_rng(1).normal(size=(n, fields)).round(3)
    return [{"timestamp": 1_700_000_000 + 60 * i, **{f"f{k}": float(v) for k, v in enumerate(row)}}
            for i, row in enumerate(values)]


def test_a_series_detect_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    from anomd.streaming.detector import StreamingAnomalyDetector
    from anomd.timeseries.series import replay_estimate

    fields, n = 30, 2_000
    replay = StreamingAnomalyDetector("detect", pipeline="series", settings=load_settings(env={}))
    while replay_estimate(replay, _series_rows(n, fields), 0).total <= LIMIT_MB * admission.MB:
        n *= 2
    reply = client.post(BASE + "/detect", json={"data": _series_rows(n, fields)})
    assert reply.status_code == 413, reply.text[:300]
    detail = reply.json()["detail"]
    assert "max_request_memory_mb" in detail and f"{n:,} rows × " in detail
    small = client.post(BASE + "/detect", json={"data": _series_rows(600, 2)})
    assert small.status_code == 200 and small.json()["summary"]["pipeline"] == "series", small.text[:300]


@pytest.mark.parametrize("path", ["/v1/ml/anomaly/timeseries/entire",
                                  "/anomalydetector/v1.1/timeseries/entire/detect"])
def test_a_series_route_over_the_limit_is_refused_with_413(tmp_path: Path, path: str) -> None:
    n = 1_000
    while admission.estimate_series("entire", n).total <= 8 * admission.MB:
        n *= 2
    settings = load_settings(env={}, data_dir=str(tmp_path), warm_up=False, max_request_memory_mb=8,
                             series_max_points=max(n, 12))
    series = [{"timestamp": 1_700_000_000 + 300 * i, "value": float(i % 288)} for i in range(n)]
    if "anomalydetector" in path:  # Azure's shape: ISO timestamps, a granularity
        series = [{"timestamp": _iso(p["timestamp"]), "value": p["value"]} for p in series]
        body = {"series": series, "granularity": "minutely", "customInterval": 5}
    else:
        body = {"series": series}
    with TestClient(create_app(settings)) as running:
        reply = running.post(path, json=body)
        assert reply.status_code == 413, reply.text[:300]
        message = reply.json()["message" if "anomalydetector" in path else "detail"]
        assert "max_request_memory_mb" in message and f"{n:,} points" in message
        if "anomalydetector" in path:
            assert reply.headers["x-ms-error-code"] == reply.json()["code"]
        ok = running.post(path, json={**body, "series": body["series"][:2_000]})
        assert ok.status_code == 200, ok.text[:300]


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_multivariate_body_without_variables_is_a_clear_422(client: TestClient) -> None:
    # The estimate runs before the operation's own checks; it must not trip on nothing to size.
    reply = client.post(BASE + "/timeseries/multivariate",
                        json={"timestamps": ["2026-11-02T00:00:00Z"], "variables": []})
    assert reply.status_code in (400, 422), reply.text
    assert "variables" in reply.text
