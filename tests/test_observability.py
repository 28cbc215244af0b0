"""``/metrics`` counters move with real work, ``/ready`` tells a dead store, request ids flow."""

from __future__ import annotations

import re
import time
from collections import defaultdict

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows

from anomd.testing import running_server
from anomd.testing.server import free_port

SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, dict[frozenset, float]]:
    """Prometheus text → {sample name: {labels: value}}, checking the format as it goes."""
    samples: dict[str, dict[frozenset, float]] = defaultdict(dict)
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in typed, f"family {name} declared twice"
            typed[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.fullmatch(line)
        assert match, f"not a sample line: {line!r}"
        name, _, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed, f"{name} has no TYPE line"
        samples[name][frozenset(LABEL.findall(labels or ""))] = float(value)
    for name, kind in typed.items():
        if kind == "histogram":
            for labels, count in samples[name + "_count"].items():
                buckets = sorted(
                    (float(dict(k)["le"]), v) for k, v in samples[name + "_bucket"].items()
                    if k - {("le", dict(k)["le"])} == labels
                )
                values = [v for _, v in buckets]
                assert values == sorted(values), f"{name} buckets not cumulative"
                assert buckets[-1] == (float("inf"), count)
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(frozenset(labels.items()), 0.0)


def scrape(server) -> dict[str, dict[frozenset, float]]:
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def test_metrics_count_real_work(server, api: httpx.Client, planted) -> None:
    X, _ = planted
    before = scrape(server)
    ok(api.post("/fit", json={"model": "counted", "backend": "hbos", "data": rows(X)}))
    ok(api.post("/score", json={"model": "counted", "backend": "hbos", "data": rows(X[:40])}))
    ok(api.post("/detect", json={"backend": "ecod", "data": rows(X[:50])}))
    problem(api.post("/score", json={"model": "nobody", "data": rows(X[:2])}), 404)
    assert httpx.get(server.url + "/no-such-route").status_code == 404
    rng = np.random.default_rng(1)
    stream = {"model": "counted-stream", "min_samples": 20, "window_size": 50, "retrain_interval": 20,
              "data": [{"v": float(x)} for x in rng.normal(size=200)]}
    sent = len(stream["data"])
    version = ok(api.post("/stream", json=stream))["model_version"]
    deadline = time.monotonic() + 60
    while version < 2 and time.monotonic() < deadline:  # retrains land on a later call
        time.sleep(0.05)
        more = {**stream, "data": [{"v": float(x)} for x in rng.normal(size=5)]}
        version = ok(api.post("/stream", json=more))["model_version"]
        sent += 5
    assert version >= 2, "no retrain landed within a minute"
    after = scrape(server)

    def grew(name: str, by: float | None = None, **labels: str) -> float:
        delta = value(after, name, **labels) - value(before, name, **labels)
        assert delta > 0 if by is None else delta == by, (name, labels, delta)
        return delta

    grew("anomd_fits_total", 1, backend="hbos")
    grew("anomd_fit_duration_seconds_count", 1, backend="hbos")
    grew("anomd_scored_rows_total", 40, backend="hbos")
    grew("anomd_detected_rows_total", 50, backend="ecod")
    grew("anomd_http_requests_total", 1, method="POST", route="/v1/ml/anomaly/score", status="200")
    grew("anomd_http_errors_total", 1, method="POST", route="/v1/ml/anomaly/score", status="404")
    grew("anomd_http_errors_total", 1, method="GET", route="unmatched", status="404")
    grew("anomd_http_request_duration_seconds_count", method="POST", route="/v1/ml/anomaly/fit")
    grew("anomd_stream_points_total", sent)
    grew("anomd_stream_retrains_total")
    assert value(after, "anomd_stream_detectors_live") >= 1
    assert value(after, "anomd_model_cache_models") >= 1
    assert value(after, "anomd_http_requests_in_flight") == 1  # the scrape itself
    assert value(after, "anomd_build_info", version=ok(httpx.get(server.url + "/health"))["version"]) == 1


def test_request_ids_are_echoed_or_made_and_logged(server) -> None:
    given = httpx.get(server.url + "/health", headers={"x-request-id": "trace-42.abc"})
    assert given.headers["x-request-id"] == "trace-42.abc"
    made = httpx.get(server.url + "/health", headers={"x-request-id": "bad id\twith spaces"})
    fresh = made.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", fresh)
    other = httpx.get(server.url + "/health").headers["x-request-id"]
    assert other != fresh
    error = httpx.post(server.api + "/score", json={"model": "nobody", "data": [[1.0]]},
                       headers={"x-request-id": "failing-call-7"})
    assert error.status_code == 404 and error.headers["x-request-id"] == "failing-call-7"
    log = server.log()
    assert re.search(r"request_id=failing-call-7\b.*status=404|status=404.*request_id=failing-call-7", log)
    assert f"request_id={fresh}" in log


def test_ready_reports_a_live_store(server) -> None:
    body = ok(httpx.get(server.url + "/ready"))
    assert body["status"] == "ready"
    assert body["checks"]["storage"]["ok"] and body["checks"]["plugins"]["ok"]
    assert body["checks"]["plugins"]["backends"] >= 12


@pytest.mark.slow
def test_ready_says_503_when_the_store_is_unreachable(tmp_path) -> None:
    """An S3 endpoint nobody listens on: alive (health 200) but not ready (503), and a fit
    gets a clear 503 instead of a hang or a 500."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"ANOMD_STORAGE": "s3://nobody-home/models", "AWS_ENDPOINT_URL": dead,
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ALLOW_HTTP": "true"}
    with running_server(data_dir=tmp_path, env=env) as srv:
        assert ok(httpx.get(srv.url + "/health"))["status"] == "ok"
        response = httpx.get(srv.url + "/ready", timeout=30)
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "not ready" and not body["checks"]["storage"]["ok"]
        assert body["checks"]["storage"]["error"]
        fit = httpx.post(srv.api + "/fit", json={"data": [[1.0], [2.0], [3.0]]}, timeout=60)
        assert "storage" in problem(fit, 503)
