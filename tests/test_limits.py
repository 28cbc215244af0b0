"""Configured limits: each is enforced with a clear 4xx, and a refused request changes nothing."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows

from anomd.testing import ServerProcess

LIMITS = {
    "ANOMD_MAX_BODY_BYTES": "200000",
    "ANOMD_MAX_ROWS": "500",
    "ANOMD_MAX_COLUMNS": "6",
    "ANOMD_MAX_NAME_LENGTH": "12",
    # An ECOD artifact holds its training data: 300 x 3 fits, 450 x 3 does not.
    "ANOMD_MAX_ARTIFACT_BYTES": "30000",
    "ANOMD_MAX_STREAM_DETECTORS": "2",
}


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    return LIMITS


@pytest.fixture(scope="module")
def limited(module_server: ServerProcess) -> ServerProcess:
    return module_server


@pytest.fixture(scope="module")
def api(module_api: httpx.Client) -> httpx.Client:
    return module_api


def test_rows_and_columns(api: httpx.Client) -> None:
    rng = np.random.default_rng(0)
    assert "501 rows" in problem(api.post("/fit", json={"model": "wide", "data": rows(rng.normal(size=(501, 2)))}), 413)
    assert "7 columns" in problem(api.post("/detect", json={"data": rows(rng.normal(size=(20, 7)))}), 413)
    dict_rows = [{f"c{i}": 1.0 for i in range(7)}] * 5
    assert "limit of 6 columns" in problem(api.post("/detect", json={"data": dict_rows}), 413)
    ok(api.post("/detect", json={"data": rows(rng.normal(size=(20, 6)))}))


def test_body_size(api: httpx.Client) -> None:
    body = b'{"data": [' + b"[1.0, 2.0]," * 20_000 + b"[1.0, 2.0]]}"
    detail = problem(api.post("/detect", content=body, headers={"content-type": "application/json"}), 413)
    assert "200000 bytes" in detail


def test_name_length_applies_to_new_models_and_streams(api: httpx.Client) -> None:
    data = [[1.0], [2.0], [3.0], [9.0]]
    assert "at most 12" in problem(api.post("/fit", json={"model": "a" * 13, "data": data}), 422)
    ok(api.post("/fit", json={"model": "a" * 12, "data": data}))
    detail = problem(api.post("/stream", json={"model": "s" * 13, "data": [{"v": 1.0}]}), 422)
    assert "at most 12" in detail


def test_artifact_size_keeps_the_previous_version(api: httpx.Client) -> None:
    rng = np.random.default_rng(1)
    small, big, probe = rng.normal(size=(300, 3)), rng.normal(size=(450, 3)), rows(rng.normal(size=(5, 3)))
    ok(api.post("/fit", json={"model": "sized", "data": rows(small)}))
    before = ok(api.post("/score", json={"model": "sized", "data": probe}))
    detail = problem(api.post("/fit", json={"model": "sized", "data": rows(big)}), 413)
    assert "'sized_ecod.joblib'" in detail and "30,000" in detail and "nothing was stored" in detail
    assert ok(api.post("/score", json={"model": "sized", "data": probe})) == before
    assert ok(api.get("/models/sized_ecod.joblib"))["samples_fitted"] == 300


def test_stream_detector_limit_evicts_to_storage_and_restores(api: httpx.Client) -> None:
    rng = np.random.default_rng(2)
    config = {"min_samples": 10, "window_size": 40}
    first = {}
    for sid in ("s-one", "s-two", "s-three"):
        body = ok(api.post("/stream", json={"model": sid, **config,
                                            "data": [{"v": float(x)} for x in rng.normal(size=30)]}))
        first[sid] = body["samples_collected"]
    listing = ok(api.get("/stream/detectors"))
    assert listing["streaming"]["live_detectors"] == 2
    assert listing["streaming"]["evictions"] >= 1
    # The evicted one comes back from its checkpoint with its window intact.
    stats = ok(api.get("/stream/s-one"))
    assert stats["samples_collected"] == first["s-one"] == 30
