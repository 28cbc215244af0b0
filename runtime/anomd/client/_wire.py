"""Requests and replies of the client, without any I/O (shared by the sync and async clients).

Each operation is a :class:`Call`: method, path, query, body, headers, and how to read the
reply. Tables and arrays travel as Arrow IPC streams (the fields go in the query string, as the
server expects with an Arrow body); rows that are already JSON-shaped (lists of lists or of
dicts) travel as JSON, which is what they are; ``transport="json"`` sends everything as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from anomd.arrow import ARROW_STREAM, write_stream
from anomd.client.results import scores_from_arrow, scores_from_json
from anomd.errors import AnomdError
from anomd.inputs import prepare, records

API = "/v1/ml/anomaly"
JSON = "application/json"


class ApiError(AnomdError):
    """The server refused a request: ``status_code`` is its HTTP status, ``detail`` its reason
    (the problem-details ``detail``), ``title`` its title."""

    def __init__(self, status_code: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.title = title

    def __str__(self) -> str:
        return f"{self.title} ({self.status_code}): {self.detail}"


@dataclass
class Call:
    method: str
    path: str
    read: Callable[[int, Mapping[str, str], bytes], Any]
    params: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


# -- bodies -------------------------------------------------------------------------------------


def _is_polars(data: Any) -> bool:
    return type(data).__module__.partition(".")[0] == "polars"


def table_bytes(data: Any, schema: Mapping[str, str] | None) -> bytes | None:
    """``data`` as an Arrow stream, or None when it is rows best sent as JSON."""
    import polars as pl

    if _is_polars(data):
        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        if isinstance(data, pl.Series):
            data = data.to_frame(data.name or "x0")
        return write_stream(data)
    prepared = prepare(data, schema=schema)
    matrix = prepared.data
    if not isinstance(matrix, np.ndarray):
        return None
    names = prepared.columns or [f"x{i}" for i in range(matrix.shape[1])]
    return write_stream(pl.DataFrame({n: matrix[:, i] for i, n in enumerate(names)}))


def json_rows(data: Any, schema: Mapping[str, str] | None) -> list[Any]:
    """``data`` as the JSON ``data`` field: lists for unnamed columns, dicts for named ones."""
    prepared = prepare(data, schema=schema)
    rows = prepared.data
    if isinstance(rows, np.ndarray):
        return rows.tolist() if prepared.columns is None else records(prepared)
    return list(rows)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(value)
    return str(value)


def batch_call(
    path: str, data: Any, fields: dict[str, Any], read: Callable[[int, Mapping[str, str], bytes], Any],
    *, arrow: bool, accept_arrow: bool = False,
) -> Call:
    """A /fit, /score or /detect call: Arrow body and query fields, or one JSON body."""
    fields = {k: v for k, v in fields.items() if v is not None}
    headers = {"accept": f"{ARROW_STREAM}, {JSON};q=0.9" if accept_arrow else JSON}
    schema = fields.get("schema")
    body = table_bytes(data, schema) if arrow else None
    if body is not None:
        headers["content-type"] = ARROW_STREAM
        params = {k: _query_value(v) for k, v in fields.items()}
        return Call("POST", API + path, read, params=params, content=body, headers=headers)
    headers["content-type"] = JSON
    payload = {**fields, "data": json_rows(data, schema)}
    return Call("POST", API + path, read, content=msgspec.json.encode(payload), headers=headers)


# -- replies ------------------------------------------------------------------------------------


class _Problem(msgspec.Struct):
    status: int | None = None
    title: str = "Error"
    detail: str = ""


def check(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Raises :class:`ApiError` for a 4xx/5xx reply, with the server's own detail."""
    if status < 400:
        return
    try:
        problem = msgspec.json.decode(body, type=_Problem)
        raise ApiError(status, problem.title, problem.detail or body.decode("utf-8", "replace"))
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise ApiError(status, "Error", body.decode("utf-8", "replace")[:500]) from None


def read_scores(status: int, headers: Mapping[str, str], body: bytes) -> Any:
    check(status, headers, body)
    if headers.get("content-type", "").startswith(ARROW_STREAM):
        return scores_from_arrow(body, headers["anomd-summary"])
    return scores_from_json(body)


def reader(kind: Any) -> Callable[[int, Mapping[str, str], bytes], Any]:
    """Reads a JSON reply into ``kind`` (a Struct or a type msgspec knows)."""
    decoder = msgspec.json.Decoder(kind)

    def read(status: int, headers: Mapping[str, str], body: bytes) -> Any:
        check(status, headers, body)
        return decoder.decode(body)

    return read


def listing(kind: Any) -> Callable[[int, Mapping[str, str], bytes], Any]:
    """Reads a ``{"object": "list", "data": [...]}`` reply into a list of ``kind``."""
    read_list = reader(msgspec.defstruct("Listing", [("data", list[kind])]))
    return lambda status, headers, body: read_list(status, headers, body).data
