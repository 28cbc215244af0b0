"""Arrow IPC bodies and replies for /fit, /score and /detect: the same results as JSON, the same
errors (bad schema, NaN, wrong width, oversize: same statuses), and no hostile body can make the
server allocate what it claims or answer 500.

One real server with small limits (500 rows, 6 columns, 200 kB bodies) serves the module.
"""

from __future__ import annotations

import io
import json
import random

import httpx
import numpy as np
import polars as pl
import pytest
from helpers import ok, problem

from anomd.arrow import ARROW_STREAM, BadArrow, stream_shape, write_stream

LIMITS = {"ANOMD_MAX_BODY_BYTES": "200000", "ANOMD_MAX_ROWS": "500", "ANOMD_MAX_COLUMNS": "6"}
ARROW = {"content-type": ARROW_STREAM}


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    return LIMITS


@pytest.fixture(scope="module")
def api(module_api: httpx.Client) -> httpx.Client:
    return module_api


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    X[:4] += 8.0
    return X


def arrow(frame: pl.DataFrame, compression: str = "uncompressed") -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer, compression=compression)  # type: ignore[arg-type]
    return buffer.getvalue()


def positional(X: np.ndarray) -> pl.DataFrame:
    """Columns named as anomd names unnamed ones: matched by position, like JSON list rows."""
    return pl.DataFrame({f"x{i}": X[:, i] for i in range(X.shape[1])})


# -- the same results -------------------------------------------------------------------------


def test_fit_score_detect_give_json_results_exactly(api: httpx.Client, X: np.ndarray) -> None:
    by_json = ok(api.post("/fit", json={"model": "via-json", "backend": "isolation_forest",
                                        "contamination": 0.02, "params": {"n_estimators": 40},
                                        "data": X.tolist()}))
    by_arrow = ok(api.post('/fit?model=via-arrow&backend=isolation_forest&contamination=0.02'
                           '&params={"n_estimators": 40}', content=arrow(positional(X)), headers=ARROW))
    assert by_arrow["model_params"] == by_json["model_params"]
    assert by_arrow["samples_fitted"] == 300 and by_arrow["warnings"] == []

    probe = X[:50]
    for model in ("via-json", "via-arrow"):
        as_json = ok(api.post("/score", json={"model": model, "data": probe.tolist(), "explain": True}))
        with_arrow_body = ok(api.post(f"/score?model={model}&explain=true", content=arrow(positional(probe)),
                                      headers=ARROW))
        assert with_arrow_body == as_json
        reply = api.post(f"/score?model={model}&explain=true", content=arrow(positional(probe)),
                         headers={**ARROW, "accept": ARROW_STREAM})
        assert reply.status_code == 200 and reply.headers["content-type"] == ARROW_STREAM
        table = pl.read_ipc_stream(reply.content)
        assert table.columns == ["index", "raw_score", "score", "is_anomaly", "cause", "explanation"]
        points = as_json["data"]
        assert table["index"].to_list() == [p["index"] for p in points]
        assert table["raw_score"].to_list() == [p["raw_score"] for p in points]
        assert table["score"].to_list() == [p["score"] for p in points]
        assert table["is_anomaly"].to_list() == [p["is_anomaly"] for p in points]
        explained = [json.loads(t) if t else None for t in table["explanation"].to_list()]
        assert explained == [p.get("explanation") for p in points]
        assert table["cause"].to_list() == [p.get("cause") for p in points]
        assert any(p.get("cause") for p in points)  # the probe has anomalous rows to explain
        summary = json.loads(reply.headers["anomd-summary"])
        assert summary == {k: v for k, v in as_json.items() if k != "data"}

    as_json = ok(api.post("/detect", json={"data": X.tolist(), "contamination": 0.02}))
    reply = api.post("/detect?contamination=0.02", content=arrow(positional(X)),
                     headers={**ARROW, "accept": ARROW_STREAM})
    table = pl.read_ipc_stream(reply.content)
    assert table["index"].to_list() == [p["index"] for p in as_json["data"]]
    assert {0, 1, 2, 3} <= set(table["index"].to_list())
    assert table["raw_score"].to_list() == [p["raw_score"] for p in as_json["data"]]
    summary = json.loads(reply.headers["anomd-summary"])
    assert summary["summary"] == as_json["summary"] and summary["total_count"] == 6


def test_named_columns_are_kept_and_matched_by_name(api: httpx.Client, X: np.ndarray) -> None:
    frame = pl.DataFrame({"temp": X[:, 0], "load": X[:, 1], "fan": X[:, 2]})
    fitted = ok(api.post("/fit?model=named", content=arrow(frame), headers=ARROW))
    assert fitted["model_params"]["feature_names"] == ["temp", "load", "fan"]
    reordered = ok(api.post("/score?model=named", content=arrow(frame.select("fan", "temp", "load")),
                            headers=ARROW))
    as_objects = ok(api.post("/score", json={"model": "named", "data": frame.to_dicts()}))
    assert reordered["data"] == as_objects["data"]
    # Strings are categories, as in object rows.
    with_site = frame.with_columns(site=pl.Series(["a", "b"] * 150))
    fitted = ok(api.post("/fit?model=sites", content=arrow(with_site), headers=ARROW))
    assert {"site=a", "site=b"} <= set(fitted["model_params"]["feature_names"])


@pytest.mark.parametrize("accept", [
    "application/json", "application/json, application/vnd.apache.arrow.stream;q=0.5",
    "application/vnd.apache.arrow.stream;q=0, application/json", "*/*", None,
])
def test_json_replies_unless_arrow_is_preferred(api: httpx.Client, X: np.ndarray, accept) -> None:
    ok(api.post("/fit?model=accept", content=arrow(positional(X)), headers=ARROW))
    headers = {**ARROW, **({"accept": accept} if accept else {})}
    reply = api.post("/score?model=accept", content=arrow(positional(X[:5])), headers=headers)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"


def test_arrow_reply_when_preferred_or_alone(api: httpx.Client, X: np.ndarray) -> None:
    ok(api.post("/fit?model=accept", content=arrow(positional(X)), headers=ARROW))
    for accept in (ARROW_STREAM, f"{ARROW_STREAM}, application/json;q=0.9", f"application/json;q=0.5, {ARROW_STREAM}"):
        reply = api.post("/score", json={"model": "accept", "data": X[:5].tolist()}, headers={"accept": accept})
        assert reply.headers["content-type"] == ARROW_STREAM, accept
        assert pl.read_ipc_stream(reply.content).height == 5


# -- the same errors ----------------------------------------------------------------------------


def test_errors_have_the_json_status(api: httpx.Client, X: np.ndarray) -> None:
    ok(api.post("/fit", json={"model": "three", "data": X.tolist()}))
    cases = {
        # JSON has no NaN number (a NaN literal is malformed JSON, 400); null is its missing value.
        "missing value": ([[1.0, None, 2.0]], pl.DataFrame({"x0": [1.0], "x1": [None], "x2": [2.0]}), 422),
        "NaN": ([[1.0, None, 2.0]], positional(np.array([[1.0, np.nan, 2.0]])), 422),
        "wrong width": ([[1.0, 2.0]], positional(np.array([[1.0, 2.0]])), 422),
        "nested value": ([[1.0, [2.0], 3.0]], pl.DataFrame({"x0": [1.0], "x1": [[2.0]], "x2": [3.0]}), 422),
        "no rows": ([], positional(np.empty((0, 3))), 422),
        "too many rows": (np.ones((501, 3)).tolist(), positional(np.ones((501, 3))), 413),
    }
    for case, (rows, frame, status) in cases.items():
        as_json = api.post("/score", json={"model": "three", "data": rows})
        as_arrow = api.post("/score?model=three", content=arrow(frame), headers=ARROW)
        assert as_json.status_code == as_arrow.status_code == status, (case, as_json.text, as_arrow.text)
        assert as_arrow.headers["content-type"] == "application/problem+json"
    nan = problem(api.post("/score?model=three", content=arrow(positional(np.array([[1.0, np.nan, 2.0]]))),
                           headers=ARROW), 422)
    assert nan.startswith("row 0, column 'x1': value is not finite (nan)")
    width = problem(api.post("/score?model=three", content=arrow(positional(np.ones((2, 2)))), headers=ARROW), 422)
    assert width == "wrong width: the model expects 3 values per row, got 2"
    wide = problem(api.post("/detect", content=arrow(positional(np.ones((20, 7)))), headers=ARROW), 413)
    assert "7 columns are over this server's limit of 6" in wide
    assert "501 rows" in problem(api.post("/fit", content=arrow(positional(np.ones((501, 2)))), headers=ARROW), 413)


def test_oversize_bodies_and_compression_bombs(api: httpx.Client) -> None:
    big = positional(np.ones((400, 6)) * np.arange(400)[:, None])  # ~19 kB; 4 copies is over 200 kB
    body = arrow(pl.concat([big] * 12, rechunk=False).head(400)) * 12
    assert "200000 bytes" in problem(api.post("/detect", content=body, headers=ARROW), 413)
    # 400 rows of 2,000-character strings: 800 kB decoded from a 3 kB body. Refused from the
    # stream's headers, before anything is decompressed.
    bomb = arrow(pl.DataFrame({"s": ["x" * 2000] * 400}), compression="zstd")
    assert len(bomb) < 10_000
    assert stream_shape(bomb).decoded_bytes > 800_000
    detail = problem(api.post("/detect", content=bomb, headers=ARROW), 413)
    assert "decodes to" in detail and "over this server's limit of 200,000" in detail


def test_malformed_streams_are_400s_and_never_break_the_server(api: httpx.Client, X: np.ndarray) -> None:
    good = arrow(pl.DataFrame({"a": X[:50, 0], "b": X[:50, 1], "s": ["u", "v"] * 25}))
    assert problem(api.post("/detect", content=b"", headers=ARROW), 400).startswith("request body is empty")
    assert "not a valid Arrow IPC stream" in problem(api.post("/detect", content=b"{}", headers=ARROW), 400)
    rng = random.Random(17)
    statuses = set()
    for i in range(120):
        body = bytearray(good)
        if i % 3 == 0:
            body = body[: rng.randrange(len(body))]
        elif i % 3 == 1:
            for _ in range(4):
                body[rng.randrange(len(body))] = rng.randrange(256)
        else:
            body = bytearray(rng.randbytes(rng.randrange(1, 400)))
        reply = api.post("/detect", content=bytes(body), headers=ARROW)
        assert reply.status_code in (200, 400, 413, 422), (i, reply.status_code, reply.text[:300])
        statuses.add(reply.status_code)
    assert 400 in statuses
    assert httpx.get(api.base_url.join("/health")).json()["status"] == "ok"


def test_the_header_scan_refuses_what_it_cannot_read() -> None:
    frame = pl.DataFrame({"a": [1.0, 2.0, 3.0]})
    body = write_stream(frame)
    shape = stream_shape(body)
    assert (shape.rows, shape.columns) == (3, 1) and shape.decoded_bytes >= 24
    for bad, reason in ((body[:7], "a header points outside the body"), (body[:40], "cut short"),
                        (b"\x00" * 16, "no schema message"), (b"", "request body is empty")):
        with pytest.raises(BadArrow, match=reason):
            stream_shape(bad)


# -- the query string ---------------------------------------------------------------------------


def test_query_parameters(api: httpx.Client, X: np.ndarray) -> None:
    body = arrow(positional(X))
    assert "is given more than once" in problem(
        api.post("/fit?model=a&model=b", content=body, headers=ARROW), 422)
    assert problem(api.post("/fit?contamination=lots", content=body, headers=ARROW), 422).startswith(
        "query parameter 'contamination': Expected `float`")
    assert "must be a JSON object" in problem(api.post("/fit?params=n_estimators", content=body, headers=ARROW), 422)
    assert "'data' cannot be a query parameter" in problem(
        api.post("/fit?data=1", content=body, headers=ARROW), 422)
    assert "unknown backend" in problem(api.post("/fit?backend=nope", content=body, headers=ARROW), 404)
    fitted = ok(api.post("/fit?model=q&backend=isolation_forest&n_estimators=30&colour=red", content=body,
                         headers=ARROW))
    assert fitted["model_params"]["params"]["n_estimators"] == 30
    assert fitted["warnings"] == [
        "unknown field 'colour' was ignored",
        "top-level field 'n_estimators' was used as params.n_estimators; send it inside params",
    ]
    detail = problem(api.post("/score?model=q", json={"data": X.tolist()}), 422)
    assert detail.startswith("query parameters ('model') are read only with an Arrow body")
    media = problem(api.post("/score?model=q", content=body, headers={"content-type": "application/octet-stream"}), 415)
    assert "application/json" in media
