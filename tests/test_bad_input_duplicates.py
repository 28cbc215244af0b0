"""Duplicate keys are always found, and finding them stays cheap on the hot path.

msgspec keeps the last of two equal keys without a word, so ``anomd.server.body`` looks for
them itself: the rows by counting, the rest of the body with Python's parser. These tests hold
the two promises that design makes: no duplicate slips through, whatever the layout and
whatever the strings contain (a property test over generated bodies with and without
duplicates), and the usual request shapes take the cheap route, which costs a small fraction of
decoding (timed on a 10,000 × 16 ``/score`` body).
"""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomd.server.body import check_content_type
from anomd.server.body_errors import DuplicateKey, UnsupportedMediaType
from anomd.server.duplicate_keys import check_unique_keys, keys_unique_cheaply
from anomd.server.schemas import ScoreRequest


class Pairs(list):
    """A JSON object as written: its members in order, a key possibly twice."""


def dump(value: Any, space: str = "") -> str:
    """JSON text of ``value`` with ``space`` around every token; Pairs keep repeated keys."""
    if isinstance(value, Pairs):
        members = [f"{space}{json.dumps(k)}{space}:{space}{dump(v, space)}" for k, v in value]
        return "{" + ",".join(members) + space + "}"
    if isinstance(value, list):
        return "[" + ",".join(space + dump(v, space) for v in value) + space + "]"
    return json.dumps(value)


def has_duplicate(value: Any) -> bool:
    if isinstance(value, Pairs):
        keys = [k for k, _ in value]
        return len(set(keys)) < len(keys) or any(has_duplicate(v) for _, v in value)
    if isinstance(value, list):
        return any(has_duplicate(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """What a JSON parser makes of ``value``: the last of equal keys wins."""
    if isinstance(value, Pairs):
        return {k: plain(v) for k, v in value}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def duplicates_found(body: bytes) -> bool:
    """What ``decode_body`` does after decoding: the cheap proof, else the exact check."""
    rows = msgspec.json.decode(body).get("data")
    try:
        if not keys_unique_cheaply(body, rows):
            check_unique_keys(body)
    except DuplicateKey:
        return True
    return False


# Strings and keys with every character a byte-level scan could trip over.
TRICKY = st.lists(st.sampled_from(list('ab:{}[],"\\ é') + ["data", '"data":', "\\u0061"]), max_size=4).map("".join)
KEYS = st.sampled_from(["a", "b", "data", "d:a", '"q"', "{", "é"]) | TRICKY
CELLS = st.floats(allow_nan=False, allow_infinity=False, width=32) | TRICKY | st.booleans()


def objects(values: st.SearchStrategy, max_size: int = 4) -> st.SearchStrategy:
    return st.lists(st.tuples(KEYS, values), max_size=max_size).map(Pairs)


LIST_ROWS = st.lists(st.lists(st.floats(-1e9, 1e9, width=32), min_size=1, max_size=3), min_size=1, max_size=4)
DICT_ROWS = st.lists(objects(CELLS, max_size=3), min_size=1, max_size=4)
NESTED = st.recursive(CELLS, lambda inner: st.lists(inner, max_size=3) | objects(inner, max_size=3), max_leaves=8)
MEMBERS = st.sampled_from(["model", "params", "note", "description", "data"])


@st.composite
def bodies(draw: st.DrawFn) -> Pairs:
    """A request object: rows under "data" (lists, objects or a single point), other members around."""
    data = draw(LIST_ROWS | DICT_ROWS | objects(CELLS))
    others = draw(st.lists(st.tuples(MEMBERS, NESTED), max_size=3))
    at = draw(st.integers(0, len(others)))
    return Pairs([*others[:at], ("data", data), *others[at:]])


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), space=st.sampled_from(["", " ", "\n\t"]))
def test_a_duplicate_is_found_exactly_when_there_is_one(body: Pairs, space: str) -> None:
    text = dump(body, space).encode()
    assert json.loads(text) == plain(body)  # the generator writes the JSON it means
    assert duplicates_found(text) == has_duplicate(body), text


def score_body(rows: Any, data_first: bool) -> bytes:
    parts = [("model", "m"), ("backend", "ecod"), ("data", rows)]
    return msgspec.json.encode(dict(parts[::-1] if data_first else parts))


X = np.random.default_rng(0).normal(size=(200, 16))
LAYOUTS = {
    "list rows, data last": score_body(X.tolist(), data_first=False),
    "list rows, data first": score_body(X.tolist(), data_first=True),
    "dict rows, data last": score_body([{f"c{j}": v for j, v in enumerate(r)} for r in X.tolist()], False),
    "dict rows, data first": score_body([{f"c{j}": v for j, v in enumerate(r)} for r in X.tolist()], True),
    "one point": b'{"model_id": "s", "data": {"temp": 21.5, "vibration": 0.5}}',
    "a burst of points, data first": b'{"data": [{"t": 1}, {"t": 2}], "model_id": "s", "min_samples": 5}',
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_usual_layouts_take_the_cheap_route(layout: str) -> None:
    body = LAYOUTS[layout]
    assert keys_unique_cheaply(body, msgspec.json.decode(body)["data"])


def median_ms(work: Any, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000


def test_the_check_costs_a_small_fraction_of_decoding_10000_rows() -> None:
    """The hot path: ``/score`` with 10,000 list rows of 16 numbers (about 3 MB)."""
    body = score_body(np.random.default_rng(1).normal(size=(10_000, 16)).tolist(), data_first=False)
    rows = msgspec.json.decode(body, type=ScoreRequest).data
    decode = median_ms(lambda: msgspec.json.decode(body, type=ScoreRequest, strict=True))
    check = median_ms(lambda: keys_unique_cheaply(body, rows))
    assert check < 0.2 * decode, (check, decode)


@pytest.mark.parametrize("header", [
    "application/json", "application/json; charset=utf-8", "Application/JSON; charset=\"UTF-8\"",
    "application/problem+json", "application/vnd.example+json",
])
def test_json_content_types_are_accepted(header: str) -> None:
    check_content_type(header)


@pytest.mark.parametrize(("header", "needle"), [
    (None, "no Content-Type"), ("", "no Content-Type"), ("text/plain", "text/plain"),
    ("text/plain; charset=utf-8", "text/plain"), ("application/x-www-form-urlencoded", "form-urlencoded"),
    ("multipart/form-data; boundary=x", "multipart"), ("application/jsonx", "jsonx"), ("text/json", "text/json"),
    ("application/json; charset=utf-16", "utf-16"),
])
def test_other_content_types_are_415(header: str | None, needle: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=needle) as refused:
        check_content_type(header)
    assert refused.value.status_code == 415 and "application/json" in refused.value.detail or "UTF-8" in refused.value.detail
