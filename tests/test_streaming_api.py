"""The /stream routes over real HTTP against the shared test server."""

from __future__ import annotations

import time

import httpx
import numpy as np
from helpers import ok, problem


def points(n: int, seed: int = 0) -> list[dict[str, float]]:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    return [{"temp": r[0], "pressure": r[1], "vibration": r[2]} for r in X.tolist()]


def test_stream_lifecycle_with_features_over_http(api: httpx.Client) -> None:
    config = {"min_samples": 30, "retrain_interval": 40, "window_size": 300, "rolling_windows": [5, 10],
              "include_lags": True, "lag_periods": [1, 2], "transforms": [{"transform": "diff"}]}
    data = points(400, seed=1)
    body = ok(api.post("/stream", json={"model_id": "http-life", "data": data[:20], **config}))
    assert body["object"] == "streaming_result" and body["model"] == "http-life"
    assert body["status"] == "collecting" and body["model_version"] == 0
    assert body["samples_collected"] == 20 and body["samples_until_ready"] == 10 and body["threshold"] is None
    assert [r["index"] for r in body["results"]] == list(range(20))
    assert all(r["score"] is None and r["is_anomaly"] is None and r["raw_score"] is None for r in body["results"])
    assert body["results"][0]["samples_until_ready"] == 29

    body = ok(api.post("/stream", json={"model": "http-life", "data": data[20:200]}))  # alias, config left out
    assert body["model_version"] >= 1 and body["status"] in ("ready", "retraining")
    first = body["results"][9]
    assert first["samples_until_ready"] == 0 and 0 <= first["score"] <= 1 and isinstance(first["is_anomaly"], bool)
    assert isinstance(first["raw_score"], float) and body["threshold"] > 0

    stats = ok(api.get("/stream/http-life"))
    assert stats["object"] == "streaming_detector" and stats["model_id"] == "http-life"
    assert stats["features"][:3] == ["pressure", "temp", "vibration"]
    assert {"temp_rolling_mean_5", "vibration_rolling_std_10", "pressure_lag_2", "temp_diff_1"} <= set(stats["features"])
    for key in ("backend", "status", "model_version", "samples_collected", "total_processed",
                "samples_since_retrain", "min_samples", "retrain_interval", "window_size", "threshold", "is_ready"):
        assert key in stats, key
    assert stats["total_processed"] == 200 and stats["window_size"] == 300 and stats["is_ready"] is True

    # Retrains land (in the server's retrain worker) while single points keep being scored.
    deadline = time.monotonic() + 120
    version = body["model_version"]
    i = 200
    while time.monotonic() < deadline:
        single = ok(api.post("/stream", json={"model_id": "http-life", "data": data[i % 400]}))
        assert len(single["results"]) == 1 and single["results"][0]["score"] is not None
        version = single["model_version"]
        if version >= 3:
            break
        i += 1
        time.sleep(0.02 if i % 40 else 0.5)
    assert version >= 3, ok(api.get("/stream/http-life"))

    listing = ok(api.get("/stream/detectors"))
    assert listing["object"] == "list" and "http-life" in [d["model_id"] for d in listing["data"]]
    assert listing["total"] == len(listing["data"])

    reset = ok(api.post("/stream/http-life/reset"))
    assert reset == {"object": "reset_result", "model": "http-life", "status": "collecting", "reset": True}
    assert ok(api.get("/stream/http-life"))["total_processed"] == 0
    assert ok(api.delete("/stream/http-life")) == {"object": "delete_result", "model": "http-life", "deleted": True}
    problem(api.get("/stream/http-life"), 404)
    problem(api.delete("/stream/http-life"), 404)
    problem(api.post("/stream/http-life/reset"), 404)


def test_a_different_configuration_is_409_and_leaves_the_detector_as_it_was(api: httpx.Client) -> None:
    ok(api.post("/stream", json={"model_id": "http-cfg", "data": points(5), "window_size": 500}))
    detail = problem(api.post("/stream", json={"model_id": "http-cfg", "data": points(1), "window_size": 600}), 409)
    assert "window_size=600 (detector has 500)" in detail
    detail = problem(api.post("/stream", json={"model_id": "http-cfg", "data": points(1), "include_lags": True}), 409)
    assert "include_lags" in detail
    ok(api.post("/stream", json={"model_id": "http-cfg", "data": points(1), "window_size": 500}))
    assert ok(api.get("/stream/http-cfg"))["total_processed"] == 6
    ok(api.delete("/stream/http-cfg"))


def test_bad_input_is_a_clear_4xx_and_the_detector_stays_healthy(api: httpx.Client) -> None:
    ok(api.post("/stream", json={"model_id": "http-bad", "data": points(60), "min_samples": 20}))
    batch = points(10, seed=2)
    batch[4] = {"temp": 1.0, "pressure": "high", "vibration": 0.0}
    detail = problem(api.post("/stream", json={"model_id": "http-bad", "data": batch}), 422)
    assert "point 4" in detail and "'pressure' must be a number" in detail
    detail = problem(api.post("/stream", json={"model_id": "http-bad", "data": {"temp": 1.0}}), 422)
    assert "missing key(s) 'pressure', 'vibration'" in detail
    detail = problem(api.post("/stream", json={"model_id": "http-bad", "data": {**points(1)[0], "x": 1}}), 422)
    assert "unexpected key(s) 'x'" in detail
    assert ok(api.get("/stream/http-bad"))["total_processed"] == 60
    body = ok(api.post("/stream", json={"model_id": "http-bad", "data": points(1, seed=3)}))
    assert body["results"][0]["score"] is not None
    ok(api.delete("/stream/http-bad"))


def test_request_validation(api: httpx.Client) -> None:
    one = points(1)[0]
    cases = [
        ({"model_id": "v1", "data": one, "min_samples": 2000, "window_size": 1000}, 422, "min_samples (2000) > window_size (1000)"),
        ({"model_id": "v1", "data": []}, 422, "data is empty"),
        ({"model_id": "v1"}, 422, "data"),
        ({"model_id": "a b", "data": one}, 422, "stream id"),
        ({"model_id": "detectors", "data": one}, 422, "reserved"),
        ({"model_id": "v1", "model": "v2", "data": one}, 422, "disagree"),
        ({"model_id": "v1", "data": one, "contamination": 0.9}, 422, "contamination"),
        ({"model_id": "v1", "data": one, "window_size": "big"}, 422, "window_size"),
        ({"model_id": "v1", "data": one, "rolling_windows": [0]}, 422, "rolling_windows"),
        ({"model_id": "v1", "data": one, "transforms": [{"transform": "fft"}]}, 422, "unknown transform 'fft'"),
        ({"model_id": "v1", "data": one, "params": {"bogus": 1}}, 422, "unknown parameter"),
        ({"model_id": "v1", "data": one, "backend": "nope"}, 404, "unknown backend"),
        ({"model_id": "v1", "data": [1, 2, 3]}, 422, "data"),
    ]
    for body, status, fragment in cases:
        detail = problem(api.post("/stream", json=body), status)
        assert fragment in detail, (body, detail)
    problem(api.get("/stream/v1"), 404)  # nothing was created by the bad requests
    problem(api.get("/stream/a%20b"), 422)


def test_lag_periods_without_include_lags_is_a_warning(api: httpx.Client) -> None:
    body = ok(api.post("/stream", json={"model_id": "http-warn", "data": points(3), "lag_periods": [1, 2],
                                        "surprise": 1}))
    assert any("include_lags" in w for w in body["warnings"])
    assert any("surprise" in w for w in body["warnings"])
    ok(api.delete("/stream/http-warn"))


def test_stream_schema_is_in_openapi(server) -> None:
    schema = httpx.get(server.url + "/schema/openapi.json", timeout=30).json()
    post = schema["paths"]["/v1/ml/anomaly/stream"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/StreamRequest")
    props = schema["components"]["schemas"]["StreamRequest"]["properties"]
    assert {"model_id", "data", "rolling_windows", "include_lags", "lag_periods", "min_samples"} <= set(props)
    assert "/v1/ml/anomaly/stream/detectors" in schema["paths"]
