"""Bad input gets a clear 4xx, the model stays intact and the server stays up."""

from __future__ import annotations

import concurrent.futures

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows


@pytest.fixture(scope="module")
def reference(api: httpx.Client, planted):
    X, _ = planted
    ok(api.post("/fit", json={"model": "guarded", "data": rows(X)}))
    before = ok(api.post("/score", json={"model": "guarded", "data": rows(X[:10])}))
    return X, before


BAD_FIT_BODIES = [
    ("NaN literal", b'{"data": [[1, 2], [NaN, 1]]}', 400, "JSON"),
    ("Infinity literal", b'{"data": [[1, 2], [Infinity, 1]]}', 400, "JSON"),
    ("overflow to inf", b'{"data": [[1, 2], [1e999, 1]]}', 422, "out of range"),
    ("string cell", b'{"data": [[1, 2], [1, "x"]]}', 422, "$.data[1][1]"),
    ("numeric string cell", b'{"data": [[1, 2], [1, "2.5"]]}', 422, "$.data[1][1]"),
    ("null cell", b'{"data": [[1, 2], [1, null]]}', 422, "$.data[1][1]"),
    ("ragged rows", b'{"data": [[1, 2], [1]]}', 422, "ragged"),
    ("empty data", b'{"data": []}', 422, "empty"),
    ("empty rows", b'{"data": [[], []]}', 422, "column"),
    ("missing data", b'{"model": "x"}', 422, "data"),
    ("data not a list", b'{"data": {"a": 1}}', 422, "$.data"),
    ("mixed rows", b'{"data": [[1, 2], {"a": 1, "b": 2}]}', 422, "row 1"),
    ("dict rows with different keys", b'{"data": [{"a": 1}, {"b": 2}]}', 422, "row 1"),
    ("dict row with null", b'{"data": [{"a": 1}, {"a": null}]}', 422, "$.data[1]"),
    ("contamination too big", b'{"data": [[1], [2]], "contamination": 0.9}', 422, "contamination"),
    ("contamination zero", b'{"data": [[1], [2]], "contamination": 0}', 422, "contamination"),
    ("unknown normalization", b'{"data": [[1], [2]], "normalization": "log"}', 422, "normalization"),
    ("not JSON", b"model=x", 400, "JSON"),
    ("empty body", b"", 400, "empty"),
    ("array body", b"[[1, 2]]", 422, "object"),
    ("name with space", b'{"model": "a b", "data": [[1], [2]]}', 422, "a b"),
    ("path traversal name", b'{"model": "../etc/passwd", "data": [[1], [2]]}', 422, "passwd"),
    ("slash name", b'{"model": "a/b", "data": [[1], [2]]}', 422, "a/b"),
    ("dots name", b'{"model": "..", "data": [[1], [2]]}', 422, ".."),
    ("unicode name", "{\"model\": \"mod\u00e8le\", \"data\": [[1], [2]]}".encode(), 422, "invalid model name"),
    ("too long name", b'{"model": "' + b"m" * 129 + b'", "data": [[1], [2]]}', 422, "128"),
    ("unknown backend", b'{"backend": "../../x", "data": [[1], [2]]}', 404, "unknown backend"),
    ("too few rows for knn", b'{"backend": "knn", "data": [[1], [2]]}', 422, "at least"),
]


@pytest.mark.parametrize(("case", "body", "status", "needle"), BAD_FIT_BODIES, ids=[c[0] for c in BAD_FIT_BODIES])
def test_bad_fit_bodies(api: httpx.Client, reference, case, body, status, needle) -> None:
    response = api.post("/fit", content=body, headers={"content-type": "application/json"})
    detail = problem(response, status)
    assert needle in detail, detail


BAD_SCORE_BODIES = [
    ("wrong width", {"model": "guarded", "data": [[1.0, 2.0]]}, 422, "width"),
    ("dict rows for list model", {"model": "guarded", "data": [{"x0": 1.0}]}, 422, "list rows"),
    ("ragged", {"model": "guarded", "data": [[1.0, 2.0, 3.0, 4.0], [1.0]]}, 422, "ragged"),
    ("empty", {"model": "guarded", "data": []}, 422, "empty"),
    ("bad normalization", {"model": "guarded", "data": [[0.0] * 4], "normalization": "log"}, 422, "normalization"),
    ("unknown model", {"model": "nobody", "data": [[0.0] * 4]}, 404, "nobody"),
    ("unknown backend", {"model": "guarded", "backend": "zzz", "data": [[0.0] * 4]}, 404, "zzz"),
    ("bad name", {"model": "a b", "data": [[0.0] * 4]}, 422, "a b"),
]


@pytest.mark.parametrize(("case", "body", "status", "needle"), BAD_SCORE_BODIES, ids=[c[0] for c in BAD_SCORE_BODIES])
def test_bad_score_bodies(api: httpx.Client, reference, case, body, status, needle) -> None:
    detail = problem(api.post("/score", json=body), status)
    assert needle in detail, detail


@pytest.mark.parametrize("filename", ["..%2F..%2Fetc%2Fpasswd", "a b.joblib", "x.pkl", ".hidden.joblib"])
def test_bad_filenames(api: httpx.Client, filename: str) -> None:
    response = api.get(f"/models/{filename}")
    assert response.status_code in (404, 422), response.text
    assert response.json()["detail"]
    assert api.delete(f"/models/{filename}").status_code in (404, 422)


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert "no route" in problem(api.get("/nothing-here"), 404)
    problem(api.get("/fit"), 405)


def test_huge_body_is_413_and_server_survives(server, api: httpx.Client) -> None:
    # The limit defaults to 100 MiB; stream a body just over it without building it in memory twice.
    limit = 100 * 1024 * 1024
    chunk = b"[" + b"1.0," * 262_143 + b"1.0],"

    def body():
        yield b'{"data": ['
        sent = 0
        while sent <= limit:
            yield chunk
            sent += len(chunk)
        yield b"[1.0]]}"

    response = api.post("/fit", content=body(), headers={"content-type": "application/json"})
    detail = problem(response, 413)
    assert "limit" in detail
    assert ok(httpx.get(server.url + "/health"))["status"] == "ok"


def test_model_intact_after_bad_requests(api: httpx.Client, reference) -> None:
    X, before = reference
    for bad in (b'{"model": "guarded", "data": [[NaN]]}', b'{"model": "guarded", "data": [[1, 2]]}',
                b'{"model": "guarded", "backend": "knn", "data": [[1]]}'):
        assert api.post("/fit", content=bad, headers={"content-type": "application/json"}).status_code >= 400
    after = ok(api.post("/score", json={"model": "guarded", "data": rows(X[:10])}))
    assert after["data"] == before["data"]
    assert after["summary"] == before["summary"]


def test_concurrent_fits_and_scores_on_one_model(server, planted) -> None:
    """Many clients hammering one model: every answer is a 200, the model ends consistent."""
    X, _ = planted
    rng = np.random.default_rng(5)
    variants = [rows(X + rng.normal(scale=0.01, size=X.shape)) for _ in range(4)]
    with httpx.Client(base_url=server.api, timeout=120) as api:
        ok(api.post("/fit", json={"model": "busy", "backend": "hbos", "data": variants[0]}))

        def fit(i: int) -> int:
            return api.post("/fit", json={"model": "busy", "backend": "hbos", "data": variants[i % 4]}).status_code

        def score(i: int) -> int:
            return api.post("/score", json={"model": "busy", "backend": "hbos", "data": rows(X[:50])}).status_code

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: fit(i) if i % 3 == 0 else score(i), range(48)))
        assert codes == [200] * 48
        final = ok(api.post("/score", json={"model": "busy", "backend": "hbos", "data": rows(X[:50])}))
        info = ok(api.get("/models/busy_hbos.joblib"))
        assert final["summary"]["threshold"] == info["threshold"]
        assert ok(api.get("/models"))["total"] >= 1
