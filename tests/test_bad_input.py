"""Bad input gets a clear 4xx, the model stays intact and the server stays up.

Every malformed request below is sent byte for byte to a real server. Each must answer with the
documented status and a ``detail`` naming the field (and the row or point, where there is one),
and must leave everything as it was: the server still answers, a reference model scores exactly
as before, no model or stream appeared or changed, and a reference stream's state is untouched.
"""

from __future__ import annotations

import concurrent.futures
import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from helpers import BACKENDS, REQUIRE_ALL_BACKENDS, ok, problem, rows, send

from anomd.testing import ServerProcess

GUARDED_STREAM = "guarded-stream"
#: Categories with the characters a key scan could trip over: colon, braces, quote, "data".
WHEN = ("12:30", "{x}", 'a"b', '"data": [1]')


@dataclass
class Reference:
    """The state no bad request may change, and how to read it.

    Reading it costs five requests; a check reuses the state the previous check confirmed
    unless a test changed it on purpose (:meth:`changed`), which halves the battery's time.
    """

    api: httpx.Client
    X: np.ndarray
    confirmed: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        """Server up, reference scores, stored models, stream ids and the reference stream."""
        assert ok(self.api.get("/health"))["status"] == "ok"
        stream = ok(self.api.get(f"/stream/{GUARDED_STREAM}"))
        return {
            "scores": ok(self.api.post("/score", json={"model": "guarded", "data": rows(self.X[:10])})),
            "models": ok(self.api.get("/models"))["data"],
            "streams": sorted(d["model_id"] for d in ok(self.api.get("/stream/detectors"))["data"]),
            "stream": {k: v for k, v in stream.items() if k not in ("idle_s", "live", "checkpointed_at")},
        }

    def before(self) -> dict[str, Any]:
        return self.confirmed or self.state()

    def assert_unchanged(self, before: dict[str, Any]) -> None:
        now = self.state()
        assert now == before
        self.confirmed = now

    def changed(self) -> None:
        """Called by a test that changes what is stored, so the next check reads it afresh."""
        self.confirmed = None


def dict_rows(X: np.ndarray) -> list[dict[str, Any]]:
    return [{**{f"c{j}": v for j, v in enumerate(row)}, "when": WHEN[i % len(WHEN)]}
            for i, row in enumerate(X.tolist())]


@pytest.fixture(scope="module")
def reference(api: httpx.Client, planted) -> Reference:
    X, _ = planted
    ok(api.post("/fit", json={"model": "guarded", "data": rows(X)}))
    ok(api.post("/fit", json={"model": "guarded-dict", "data": dict_rows(X)}))
    points = [{"a": float(i % 5), "b": 1.0 + (i % 3) / 10} for i in range(12)]
    ok(api.post("/stream", json={"model_id": GUARDED_STREAM, "min_samples": 5, "retrain_interval": 1000,
                                 "data": points}))
    return Reference(api, X)


def check_refused(reference: Reference, response: httpx.Response, status: int,
                  needles: tuple[str, ...], before: dict[str, Any]) -> str:
    """The answer is ``status`` with every needle in its detail, and nothing changed."""
    detail = problem(response, status)
    for needle in needles:
        assert needle in detail, detail
    reference.assert_unchanged(before)
    return detail


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
def test_bad_fit_bodies(reference: Reference, case, body, status, needle) -> None:
    before = reference.before()
    check_refused(reference, send(reference.api, "POST", "/fit", body), status, (needle,), before)


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
def test_bad_score_bodies(reference: Reference, case, body, status, needle) -> None:
    before = reference.before()
    check_refused(reference, reference.api.post("/score", json=body), status, (needle,), before)


@dataclass(frozen=True)
class Bad:
    """One malformed request and what its answer must say."""

    name: str
    method: str
    path: str
    body: bytes | None
    status: int
    needles: tuple[str, ...]
    content_type: str | None = "application/json"


G = b'"model": "guarded", '
ROWS = b'[[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]]'
S = b'"model_id": "guarded-stream", '
NEW = b'"model_id": "never-made", '
DEEP = b"[" * 10_000 + b"]" * 10_000

BAD_REQUESTS = [
    # Content type and envelope, on every body-taking route.
    Bad("fit as text/plain", "POST", "/fit", b'{"data": ' + ROWS + b"}", 415, ("text/plain", "application/json"),
        "text/plain"),
    Bad("fit form-encoded", "POST", "/fit", b"data=1&model=guarded", 415, ("x-www-form-urlencoded",),
        "application/x-www-form-urlencoded"),
    Bad("fit multipart", "POST", "/fit", b'--b\r\nContent-Disposition: form-data; name="data"\r\n\r\n[[1]]\r\n--b--\r\n',
        415, ("multipart/form-data",), "multipart/form-data; boundary=b"),
    Bad("score without content type", "POST", "/score", b"{" + G + b'"data": [[1, 2, 3, 4]]}', 415,
        ("no Content-Type",), None),
    Bad("stream as text/plain", "POST", "/stream", b"{" + S + b'"data": {"a": 1, "b": 1}}', 415, ("text/plain",),
        "text/plain"),
    Bad("load in latin-1", "POST", "/load", b'{"model": "guarded"}', 415, ("UTF-8",),
        "application/json; charset=latin-1"),
    Bad("detect with trailing garbage", "POST", "/detect", b'{"data": ' + ROWS + b"} extra", 400,
        ("after the JSON object", "'extra'")),
    Bad("score cut short", "POST", "/score", b"{" + G + b'"data": [[1, 2, 3, 4], [2, 3', 400,
        ("ends early", "$.data[1]")),
    Bad("fit body is a number", "POST", "/fit", b"42", 422, ("JSON object", "number")),
    Bad("stream body is a string", "POST", "/stream", b'"data"', 422, ("JSON object", "string")),
    Bad("load body is null", "POST", "/load", b"null", 422, ("JSON object", "null")),
    Bad("fit with a byte-order mark", "POST", "/fit", b"\xef\xbb\xbf{" + G + b'"data": ' + ROWS + b"}", 400,
        ("byte-order mark",)),
    Bad("fit with single quotes", "POST", "/fit", b"{'model': 'guarded', 'data': [[1]]}", 400, ("JSON", "byte 1")),
    Bad("fit with a comment", "POST", "/fit", b"{" + G + b'"data": [[1, 2]] // rows\n}', 400, ("JSON", "//")),
    Bad("detect with an empty object", "POST", "/detect", b"{}", 422, ("missing required field `data`",)),
    # Bytes that are not UTF-8.
    Bad("non-UTF-8 model name", "POST", "/fit", b'{"model": "guar\xff\xfe", "data": ' + ROWS + b"}", 400,
        ("UTF-8", "$.model")),
    Bad("non-UTF-8 unknown field", "POST", "/score", b"{" + G + b'"note": "\xff", "data": [[1, 2, 3, 4]]}', 400,
        ("UTF-8", "$.note")),
    Bad("non-UTF-8 point key", "POST", "/stream", b"{" + S + b'"data": {"\xfe": 1}}', 400, ("UTF-8", "$.data")),
    # Deep nesting.
    Bad("10,000 levels of [ in data", "POST", "/fit", b"{" + G + b'"data": ' + DEEP + b"}", 400,
        ("nested too deeply", "$.data[0][0]")),
    Bad("10,000 levels of [ in an unknown field", "POST", "/score", b"{" + G + b'"x": ' + DEEP + b', "data": [[1, 2, 3, 4]]}',
        400, ("nested too deeply", "$.x[0]")),
    Bad("10,000 levels of objects in a point", "POST", "/stream",
        b"{" + S + b'"data": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_000 + b"}", 400, ("nested too deeply", "$.data.a.a")),
    Bad("10,000 levels of [ as the body", "POST", "/detect", DEEP, 422, ("JSON object", "array")),
    # Numbers JSON cannot carry, or a float cannot hold.
    Bad("-Infinity in score rows", "POST", "/score", b"{" + G + b'"data": [[1, 2, 3, -Infinity]]}', 400,
        ("$.data[0][3]", "NaN and Infinity")),
    Bad("NaN in detect rows", "POST", "/detect", b'{"data": [[1], [NaN], [2]]}', 400, ("$.data[1][0]", "NaN")),
    Bad("NaN as a threshold", "POST", "/score", b"{" + G + b'"threshold": NaN, "data": [[1, 2, 3, 4]]}', 400,
        ("$.threshold",)),
    Bad("1e999 in score rows", "POST", "/score", b"{" + G + b'"data": [[1, 2, 3, 1e999]]}', 422,
        ("out of range", "$.data[0][3]")),
    Bad("1e308 times 10 in fit rows", "POST", "/fit", b"{" + G + b'"data": [[1, 2, 3, 4], [1e309, 1, 1, 1]]}', 422,
        ("out of range", "$.data[1][0]")),
    Bad("400-digit integer in fit rows", "POST", "/fit", b"{" + G + b'"data": [[' + b"7" * 400 + b", 1, 1, 1]]}", 422,
        ("out of range", "$.data[0][0]")),
    Bad("1e999 as detect threshold", "POST", "/detect", b'{"threshold": 1e999, "data": ' + ROWS + b"}", 422,
        ("$.threshold",)),
    Bad("1e999 in a dict row", "POST", "/fit", b'{"data": [{"a": 1, "b": 2}, {"a": 2, "b": 1e999}]}', 422,
        ("out of range", "$.data[1].b")),
    Bad("1e999 in a point", "POST", "/stream", b"{" + S + b'"data": {"a": 1, "b": 1e999}}', 422,
        ("out of range", "$.data.b")),
    Bad("NaN in a point", "POST", "/stream", b"{" + S + b'"data": [{"a": 1, "b": 2}, {"a": NaN, "b": 2}]}', 400,
        ("$.data[1].a", "NaN")),
    Bad("400-digit window size", "POST", "/stream", b"{" + NEW + b'"window_size": ' + b"9" * 400 + b', "data": {"a": 1}}',
        422, ("$.window_size",)),
    # Duplicate keys: at the top level, in nested objects, in rows and points.
    Bad("duplicate model", "POST", "/fit", b'{"model": "guarded", "model": "other", "data": ' + ROWS + b"}", 422,
        ("'model'", "top-level")),
    Bad("duplicate key in params", "POST", "/fit",
        b"{" + G + b'"backend": "hbos", "params": {"n_bins": 5, "n_bins": 7}, "data": ' + ROWS + b"}", 422,
        ("'n_bins'", "$.params")),
    Bad("duplicate key in a dict row", "POST", "/fit", b'{"data": [{"a": 1, "b": 2}, {"a": 3, "b": 4, "a": 5}]}', 422,
        ("'a'", "$.data[1]")),
    Bad("duplicate column in schema", "POST", "/fit",
        b'{"data": [{"a": 1}, {"a": 2}, {"a": 3}], "schema": {"a": "numeric", "a": "categorical"}}', 422,
        ("'a'", "$.schema")),
    Bad("duplicate data", "POST", "/score", b"{" + G + b'"data": [[1, 2, 3, 4]], "data": [[5, 6, 7, 8]]}', 422,
        ("'data'",)),
    Bad("duplicate key in a dict row, data first", "POST", "/score",
        b'{"data": [{"c0": 1, "c0": 2, "c1": 1, "c2": 1, "c3": 1, "when": "x"}], "model": "guarded-dict"}', 422,
        ("'c0'", "$.data[0]")),
    Bad("duplicate threshold", "POST", "/detect", b'{"threshold": 0.5, "threshold": 0.9, "data": ' + ROWS + b"}", 422,
        ("'threshold'",)),
    Bad("duplicate model on load", "POST", "/load", b'{"model": "guarded", "model": "nobody"}', 422, ("'model'",)),
    Bad("duplicate key in a point", "POST", "/stream", b"{" + S + b'"data": {"a": 1, "b": 2, "a": 3}}', 422,
        ("'a'", "$.data")),
    Bad("duplicate key in the third point", "POST", "/stream",
        b"{" + S + b'"data": [{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"b": 1, "a": 1, "b": 2}]}', 422, ("'b'", "$.data[2]")),
    Bad("duplicate model_id", "POST", "/stream", b'{"model_id": "guarded-stream", "model_id": "x", "data": {"a": 1}}',
        422, ("'model_id'",)),
    Bad("duplicate key in stream params", "POST", "/stream",
        b"{" + NEW + b'"backend": "hbos", "params": {"n_bins": 5, "n_bins": 6}, "data": {"a": 1}}', 422,
        ("'n_bins'", "$.params")),
    Bad("duplicate key in a transform", "POST", "/stream",
        b"{" + NEW + b'"transforms": [{"transform": "diff", "transform": "lag"}], "data": {"a": 1}}', 422,
        ("'transform'", "$.transforms[0]")),
    Bad("duplicate key deep in an unknown field", "POST", "/fit",
        b"{" + G + b'"extra": {"list": [{"k": 1}, {"k": 1, "k": 2}]}, "data": ' + ROWS + b"}", 422,
        ("'k'", "$.extra.list[1]")),
    # Wrong types for top-level fields.
    Bad("contamination as a string", "POST", "/fit", b"{" + G + b'"contamination": "0.1", "data": ' + ROWS + b"}", 422,
        ("$.contamination", "str")),
    Bad("threshold as a list", "POST", "/score", b"{" + G + b'"threshold": [0.5], "data": [[1, 2, 3, 4]]}', 422,
        ("$.threshold", "array")),
    Bad("overwrite as yes", "POST", "/fit", b"{" + G + b'"overwrite": "yes", "data": ' + ROWS + b"}", 422,
        ("$.overwrite",)),
    Bad("params as a list", "POST", "/fit", b"{" + G + b'"params": [["n_bins", 5]], "data": ' + ROWS + b"}", 422,
        ("$.params",)),
    Bad("schema with an unknown column type", "POST", "/fit",
        b'{"data": [{"a": 1}, {"a": 2}, {"a": 3}], "schema": {"a": "complex"}}', 422, ("'complex'", "'a'")),
    Bad("schema as a list", "POST", "/fit", b'{"data": [{"a": 1}, {"a": 2}], "schema": ["a"]}', 422, ("$.schema",)),
    Bad("schema for list rows", "POST", "/fit", b"{" + G + b'"schema": {"a": "numeric"}, "data": ' + ROWS + b"}", 422,
        ("schema",)),
    Bad("epochs as a float", "POST", "/fit", b"{" + G + b'"epochs": 1.5, "data": ' + ROWS + b"}", 422, ("$.epochs",)),
    Bad("explain as yes", "POST", "/score", b"{" + G + b'"explain": "yes", "data": [[1, 2, 3, 4]]}', 422, ("$.explain",)),
    Bad("description as a number", "POST", "/fit", b"{" + G + b'"description": 5, "data": ' + ROWS + b"}", 422,
        ("$.description",)),
    Bad("backend as a list", "POST", "/detect", b'{"backend": ["ecod"], "data": ' + ROWS + b"}", 422, ("$.backend",)),
    Bad("contamination as true", "POST", "/detect", b'{"contamination": true, "data": ' + ROWS + b"}", 422,
        ("$.contamination", "bool")),
    Bad("model as a number on load", "POST", "/load", b'{"model": 5}', 422, ("$.model",)),
    Bad("unknown backend on load", "POST", "/load", b'{"model": "guarded", "backend": "zzz"}', 404, ("'zzz'",)),
    Bad("hyper-parameter as a string", "POST", "/fit",
        b"{" + G + b'"backend": "isolation_forest", "params": {"n_estimators": "100"}, "data": ' + ROWS + b"}", 422,
        ("n_estimators", "str")),
    Bad("hyper-parameter out of range", "POST", "/fit",
        b"{" + G + b'"backend": "isolation_forest", "params": {"n_estimators": 1e999}, "data": ' + ROWS + b"}", 422,
        ("$.params.n_estimators",)),
    # Nested garbage in cells.
    Bad("list in a cell", "POST", "/fit", b"{" + G + b'"data": [[1, [2], 3, 4]]}', 422, ("$.data[0][1]", "array")),
    Bad("object in a cell", "POST", "/score", b"{" + G + b'"data": [[1, 2, {"v": 3}, 4]]}', 422,
        ("$.data[0][2]", "object")),
    Bad("list in a dict row", "POST", "/fit", b'{"data": [{"a": 1, "b": 2}, {"a": [1], "b": 2}]}', 422,
        ("$.data[1].a", "array")),
    Bad("object in a dict row", "POST", "/score", b'{"model": "guarded-dict", "data": [{"c0": {"x": 1}}]}', 422,
        ("$.data[0].c0", "object")),
    Bad("boolean cells", "POST", "/detect", b'{"data": [[true], [false], [true]]}', 422, ("$.data[0][0]", "bool")),
    # Rows that do not fit.
    Bad("ragged rows on detect", "POST", "/detect", b'{"data": [[1, 2], [1, 2], [3]]}', 422, ("ragged", "$.data[2]")),
    Bad("empty data on detect", "POST", "/detect", b'{"data": []}', 422, ("data is empty",)),
    Bad("one row on fit", "POST", "/fit", b"{" + G + b'"data": [[1, 2, 3, 4]]}', 422, ("at least 2 rows", "got 1")),
    Bad("one row on detect", "POST", "/detect", b'{"data": [[1, 2, 3, 4]]}', 422, ("at least 2 rows",)),
    Bad("list rows for a dict model", "POST", "/score", b'{"model": "guarded-dict", "data": [[1, 2, 3, 4, 5, 6, 7, 8]]}',
        422, ("object rows", "$.data[0]")),
    Bad("dict row missing a column", "POST", "/score", b'{"model": "guarded-dict", "data": [{"c0": 1, "c1": 1}]}', 422,
        ("missing", "$.data[0]")),
    Bad("string in a numeric column", "POST", "/score",
        b'{"model": "guarded-dict", "data": [{"c0": "x", "c1": 1, "c2": 1, "c3": 1, "when": "12:30"}]}', 422,
        ("$.data[0].c0",)),
    Bad("empty objects as rows", "POST", "/fit", b'{"data": [{}, {}, {}]}', 422, ("column", "$.data[0]")),
    # Points that do not fit a live stream.
    Bad("point missing a key", "POST", "/stream", b"{" + S + b'"data": {"a": 1}}', 422, ("missing", "'b'")),
    Bad("point with an extra key", "POST", "/stream", b"{" + S + b'"data": {"a": 1, "b": 2, "c": 3}}', 422,
        ("unexpected", "'c'")),
    Bad("string in a point", "POST", "/stream", b"{" + S + b'"data": {"a": 1, "b": "2"}}', 422, ("'b'", "number")),
    Bad("list in a point", "POST", "/stream", b"{" + S + b'"data": {"a": [1], "b": 2}}', 422, ("'a'", "number")),
    Bad("bad second point of a burst", "POST", "/stream", b"{" + S + b'"data": [{"a": 1, "b": 2}, {"a": 1, "b": true}]}',
        422, ("point 1", "'b'")),
    Bad("empty list of points", "POST", "/stream", b"{" + S + b'"data": []}', 422, ("data is empty",)),
    Bad("empty point", "POST", "/stream", b"{" + S + b'"data": {}}', 422, ("missing",)),
    Bad("points as numbers", "POST", "/stream", b"{" + S + b'"data": [1, 2]}', 422, ("$.data[0]",)),
    Bad("data as a number", "POST", "/stream", b"{" + S + b'"data": 5}', 422, ("$.data",)),
    Bad("bad first point of a new stream", "POST", "/stream", b"{" + NEW + b'"data": [{"a": 1}, {"a": "x"}]}', 422,
        ("point 1", "'a'")),
    Bad("empty key in a new stream", "POST", "/stream", b"{" + NEW + b'"data": {"": 1}}', 422, ("non-empty",)),
    # Stream configuration.
    Bad("zero window", "POST", "/stream", b"{" + NEW + b'"window_size": 0, "data": {"a": 1}}', 422,
        ("$.window_size", ">= 2")),
    Bad("negative window", "POST", "/stream", b"{" + NEW + b'"window_size": -5, "data": {"a": 1}}', 422,
        ("$.window_size",)),
    Bad("window over the limit", "POST", "/stream", b"{" + NEW + b'"window_size": 2000000, "data": {"a": 1}}', 422,
        ("$.window_size", "<=")),
    Bad("one min sample", "POST", "/stream", b"{" + NEW + b'"min_samples": 1, "data": {"a": 1}}', 422,
        ("$.min_samples",)),
    Bad("zero retrain interval", "POST", "/stream", b"{" + NEW + b'"retrain_interval": 0, "data": {"a": 1}}', 422,
        ("$.retrain_interval",)),
    Bad("min samples over the window", "POST", "/stream",
        b"{" + NEW + b'"min_samples": 50, "window_size": 10, "data": {"a": 1}}', 422,
        ("min_samples (50) > window_size (10)",)),
    Bad("fractional min samples", "POST", "/stream", b"{" + NEW + b'"min_samples": 2.5, "data": {"a": 1}}', 422,
        ("$.min_samples",)),
    Bad("contamination over 0.5", "POST", "/stream", b"{" + NEW + b'"contamination": 0.9, "data": {"a": 1}}', 422,
        ("$.contamination",)),
    Bad("include_lags as yes", "POST", "/stream", b"{" + NEW + b'"include_lags": "yes", "data": {"a": 1}}', 422,
        ("$.include_lags",)),
    Bad("zero rolling window", "POST", "/stream", b"{" + NEW + b'"rolling_windows": [5, 0], "data": {"a": 1}}', 422,
        ("$.rolling_windows[1]",)),
    Bad("rolling window longer than the window", "POST", "/stream",
        b"{" + NEW + b'"rolling_windows": [5000], "window_size": 10, "min_samples": 5, "data": {"a": 1}}', 422,
        ("looks back",)),
    Bad("unknown transform", "POST", "/stream", b"{" + NEW + b'"transforms": [{"transform": "fft"}], "data": {"a": 1}}',
        422, ("'fft'",)),
    Bad("transform as a number", "POST", "/stream", b"{" + NEW + b'"transforms": [5], "data": {"a": 1}}', 422,
        ("$.transforms[0]",)),
    Bad("bad transform option", "POST", "/stream",
        b"{" + NEW + b'"transforms": [{"transform": "diff", "periods": [-1]}], "data": {"a": 1}}', 422,
        ("periods",)),
    Bad("unknown stream backend", "POST", "/stream", b"{" + NEW + b'"backend": "zzz", "data": {"a": 1}}', 404,
        ("'zzz'",)),
    Bad("unknown stream param", "POST", "/stream", b"{" + NEW + b'"params": {"zzz": 1}, "data": {"a": 1}}', 422,
        ("zzz",)),
    Bad("other config for a live stream", "POST", "/stream", b"{" + S + b'"min_samples": 7, "data": {"a": 1, "b": 2}}',
        409, ("min_samples=7",)),
    Bad("bad stream id", "POST", "/stream", b'{"model_id": "a b", "data": {"a": 1}}', 422, ("'a b'",)),
    Bad("reserved stream id", "POST", "/stream", b'{"model_id": "detectors", "data": {"a": 1}}', 422, ("reserved",)),
    Bad("model_id and model disagree", "POST", "/stream", b'{"model_id": "x", "model": "y", "data": {"a": 1}}', 422,
        ("disagree",)),
    # Routes with path parameters.
    Bad("stats of an unknown stream", "GET", "/stream/never-made", None, 404, ("'never-made'",)),
    Bad("reset of an unknown stream", "POST", "/stream/never-made/reset", None, 404, ("'never-made'",)),
    Bad("delete of an unknown stream", "DELETE", "/stream/never-made", None, 404, ("'never-made'",)),
    Bad("stats of a bad stream id", "GET", "/stream/a%20b", None, 422, ("'a b'",)),
    Bad("reset of the listing route", "POST", "/stream/detectors/reset", None, 422, ("reserved",)),
    Bad("delete of the listing route", "DELETE", "/stream/detectors", None, 405, ()),
    Bad("info of an unknown model", "GET", "/models/nothing_ecod.joblib", None, 404, ("nothing_ecod.joblib",)),
    Bad("delete of an unknown model", "DELETE", "/models/nothing_ecod.joblib", None, 404, ("nothing_ecod.joblib",)),
    Bad("info of a NUL filename", "GET", "/models/guarded_ecod.joblib%00", None, 422, ("invalid model filename",)),
    Bad("delete of a too long filename", "DELETE", "/models/" + "a" * 1000 + ".joblib", None, 422,
        ("invalid model filename",)),
    Bad("post to the model list", "POST", "/models", b"{}", 405, ()),
]


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=[c.name for c in BAD_REQUESTS])
def test_bad_request_is_a_clear_4xx_and_changes_nothing(reference: Reference, case: Bad) -> None:
    before = reference.before()
    response = send(reference.api, case.method, case.path, case.body, case.content_type)
    check_refused(reference, response, case.status, case.needles, before)


def test_bad_requests_are_distinct() -> None:
    """The battery counts what it claims: no request is in it twice."""
    keys = [(c.method, c.path, c.body, c.content_type) for c in BAD_REQUESTS]
    assert len(set(keys)) == len(keys) >= 100


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_one_row_fit_is_a_clear_422_for_every_backend(reference: Reference, backend: str) -> None:
    """One row cannot show what is normal: no detector fits on it, and each says how many it needs."""
    available = {b["backend"]: b["available"] for b in ok(reference.api.get("/backends"))["data"]}
    if not available[backend] and not REQUIRE_ALL_BACKENDS:
        pytest.skip(f"{backend} is not installed here")
    before = reference.before()
    response = reference.api.post("/fit", json={"model": "guarded", "backend": backend, "data": [[1.0, 2.0, 3.0, 4.0]]})
    detail = check_refused(reference, response, 422, (f"backend {backend!r} needs at least", "got 1"), before)
    assert "rows" in detail


@pytest.mark.parametrize("layout", ["data last", "data first"])
def test_a_duplicate_in_the_last_of_many_dict_rows_is_found(reference: Reference, layout: str) -> None:
    records = dict_rows(reference.X)[:50] * 60  # 3,000 rows
    encoded = json.dumps(records).encode()
    at = encoded.rindex(b'"c0": ')
    encoded = encoded[:at] + b'"c1": 0.5, ' + encoded[at:]  # row 2999 names c1 twice
    parts = [b'"model": "guarded-dict"', b'"data": ' + encoded]
    body = b"{" + b", ".join(parts if layout == "data last" else parts[::-1]) + b"}"
    before = reference.before()
    check_refused(reference, send(reference.api, "POST", "/score", body), 422, ("'c1'", "$.data[2999]"), before)


def test_nan_at_the_end_of_10000_rows_is_located(reference: Reference) -> None:
    body = json.dumps({"model": "guarded", "data": [[0.5] * 4] * 10_000}).encode()
    body = body[: body.rindex(b"0.5")] + b"NaN]]}"
    before = reference.before()
    check_refused(reference, send(reference.api, "POST", "/score", body), 400, ("$.data[9999][3]", "NaN"), before)


def tricky_but_valid(plain: dict[str, Any]) -> list[bytes]:
    """The same request, written in ways a key scan could misread; all are valid JSON."""
    model, data = json.dumps(plain["model"]), json.dumps(plain["data"])
    return [
        f'{{"data": {data}, "model": {model}}}'.encode(),
        f'{{ "model" :\n {model} ,\r\n\t"data"\n:\n{data}\n}}\n'.encode(),
        f'{{"note": {{"data": [1], "x": "y"}}, "model": {model}, "data": {data}}}'.encode(),
        f'{{"model": {model}, "note": "\\"data\\": [[1]]", "data": {data}}}'.encode(),
        f'{{"model": {model}, "d\\u0061ta": {data}}}'.encode(),
        f'{{"model": {model}, "data": {data}, "note": [{{"a": 1}}, "}}"]}}'.encode(),
    ]


@pytest.mark.parametrize("model", ["guarded", "guarded-dict"])
def test_tricky_valid_bodies_score_like_the_plain_one(reference: Reference, model: str) -> None:
    """No duplicate is seen where there is none, whatever the layout (dict rows hold ':', '{', '"')."""
    X = reference.X[:20]
    plain = {"model": model, "data": rows(X) if model == "guarded" else dict_rows(X)}
    expected = ok(reference.api.post("/score", json=plain))["data"]
    for body in tricky_but_valid(plain):
        assert ok(send(reference.api, "POST", "/score", body))["data"] == expected, body[:120]


@pytest.mark.parametrize("filename", ["..%2F..%2Fetc%2Fpasswd", "a b.joblib", "x.pkl", ".hidden.joblib"])
def test_bad_filenames(api: httpx.Client, filename: str) -> None:
    response = api.get(f"/models/{filename}")
    assert response.status_code in (404, 422), response.text
    assert response.json()["detail"]
    assert api.delete(f"/models/{filename}").status_code in (404, 422)


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert "no route" in problem(api.get("/nothing-here"), 404)
    problem(api.get("/fit"), 405)


def test_huge_body_is_413_and_server_survives(server: ServerProcess, api: httpx.Client) -> None:
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


def test_model_intact_after_bad_requests(api: httpx.Client, reference: Reference) -> None:
    before = reference.before()
    for bad in (b'{"model": "guarded", "data": [[NaN]]}', b'{"model": "guarded", "data": [[1, 2]]}',
                b'{"model": "guarded", "backend": "knn", "data": [[1]]}'):
        assert send(api, "POST", "/fit", bad).status_code >= 400
    reference.assert_unchanged(before)


def test_concurrent_fits_and_scores_on_one_model(server: ServerProcess, planted, reference: Reference) -> None:
    """Many clients hammering one model: every answer is a 200, the model ends consistent."""
    reference.changed()  # the model list gains "busy"
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
