"""Schemathesis against the OpenAPI document a real server serves: the document must hold.

``/schema/openapi.json`` is the API's contract: ``docs/api.md`` is rendered from it and clients
generate code from it. So every answer must be one it promises: a documented status code, the
documented media type (``application/problem+json`` for errors), a body matching the documented
schema; a valid request is not refused, an invalid one is, and nothing is ever a 5xx.

The server is a real one in a subprocess on 127.0.0.1 with filesystem storage in a temporary
folder. Before fuzzing, the model and the stream the schema's examples name are created, so the
examples phase exercises scoring, loading and inspecting real resources, not only 404s.

Every default check of schemathesis runs (no 5xx; status code, content type, headers and body
conform; invalid data is rejected, valid data accepted; undeclared methods get a 405 with
``Allow``), except where :func:`excluded_checks` says why not.

Bounded and reproducible: a fixed seed, derandomized Hypothesis, and :data:`MAX_EXAMPLES`
examples per operation in the fuzzing phase (the examples and coverage phases add their own,
deterministic cases; about 2,000 requests in all). The module takes about 30 s on an idle
two-core machine, most of it generating cases, and stays under 90 s on a busy one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from litestar.routes import HTTPRoute
from schemathesis.checks import CheckFunction
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import allow_header_conformance, positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from anomd.docgen.curl_examples import EXAMPLES
from anomd.server.app import create_app
from anomd.settings import load_settings
from anomd.testing import ServerProcess, running_server

#: Fuzzing-phase examples per operation; 19 operations x this stays within the time budget.
MAX_EXAMPLES = 25
SEED = 20261124
SCHEMA_PATH = "/schema/openapi.json"
#: Statuses the fuzzing saw, per operation (read by the last test of the module).
SEEN: dict[str, Counter[int]] = {}

#: Requests that create what the schema's examples refer to: the documented example model
#: (``fraud-detector``), the model a request without ``model`` means (``default``), and the
#: documented example stream (``my-sensor``).
SEED_REQUESTS = [
    EXAMPLES["POST /v1/ml/anomaly/fit"],
    ("POST", "/v1/ml/anomaly/fit", {"data": [[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.2], [8.0, -5.0]]}),
    EXAMPLES["POST /v1/ml/anomaly/stream"],
]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(data_dir=tmp_path_factory.mktemp("fuzz")) as server:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for method, path, body in SEED_REQUESTS:
                response = client.request(method, path, json=body)
                assert response.status_code == 200, (path, response.text[:300])
        yield server


@pytest.fixture(scope="module")
def served_schema(fuzzed_server: ServerProcess) -> OpenApiSchema:
    """The document as the server serves it (not as the code would build it)."""
    config = SchemathesisConfig(seed=SEED)
    return schemathesis.openapi.from_url(fuzzed_server.url + SCHEMA_PATH, config=config, timeout=30)


@pytest.fixture(autouse=True)
def _pytest9_node_id(request: pytest.FixtureRequest) -> None:
    """Lets schemathesis 4.32's lazy schemas run on pytest 9.

    ``from_fixture`` reads ``request.node._nodeid``, which pytest 9 replaced with ``nodeid``;
    without this every lazily parametrized test fails before sending a request.
    """
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("served_schema")


def excluded_checks(case: Case) -> list[CheckFunction]:
    """Default checks that cannot hold for ``case``'s operation, and only those.

    ``positive_data_acceptance`` says a request valid by the schema must not get a 400/422. For
    JSON bodies that cannot hold: their rules go beyond what JSON Schema states (rows of one
    width, enough rows for the chosen detector, ``params`` checked against that backend's own
    schema, a stream's points keyed like its first one, a score's rows as wide as the model's).
    Path parameters are fully described by their patterns, so the check stays on for them.

    ``allow_header_conformance`` compares the ``Allow`` header of an ``OPTIONS`` reply with the
    documented methods. On a path served by two handlers (GET and DELETE of a model or a
    stream) Litestar 2.x answers ``OPTIONS`` with the methods of the first handler only
    (litestar-org/litestar#4169, fixed in Litestar 3), so there the check would test Litestar.
    """
    excluded = []
    if case.operation.body:
        excluded.append(positive_data_acceptance)
    if len(case.operation.schema.raw_schema["paths"][case.operation.path]) > 1:
        excluded.append(allow_header_conformance)
    return excluded


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # A slow fit is the server's business, not a problem of the test's data generation.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_the_served_schema_holds_under_fuzzing(case: Case) -> None:
    response = case.call_and_validate(excluded_checks=excluded_checks(case))
    SEEN.setdefault(case.operation.label, Counter())[response.status_code] += 1


# -- the document itself ------------------------------------------------------------------------

_CONVERTER = re.compile(r"\{(\w+):\w+\}")
#: Methods every path answers without being an operation of its own.
_IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
#: The readiness probe's 503 is its verdict (the same body as its 200), not an error.
_VERDICTS = {("/ready", "503"), ("/v1/ml/anomaly/ready", "503")}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    """An app as ``anomd serve`` builds it (never started: only its routes and document are read)."""
    data_dir = str(tmp_path_factory.mktemp("app"))
    return create_app(load_settings(env={}, data_dir=data_dir, warm_up=False, log_level="error"))


def served_routes(app: Litestar) -> set[str]:
    """``"METHOD /path"`` for every route the app serves outside its OpenAPI controller.

    The dashboard's routes (``/ui``: its page, assets and the data only it reads, one of them an
    endless event stream) are left out of the document on purpose: they are not the API. So are
    the Azure-compatible routes (``/anomalydetector/v1.1``): their contract is Azure's, errors
    included (``{"code", "message"}``, not problem details); tests/test_azure_compat.py holds them to it.
    """
    routes = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(("/schema", "/ui", "/anomalydetector")):
            continue
        path = _CONVERTER.sub(r"{\1}", route.path)
        routes |= {f"{method} {path}" for method in route.methods - _IMPLICIT_METHODS}
    return routes


def documented_routes(document: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}


def test_the_document_lists_every_route_the_app_serves(app: Litestar) -> None:
    served = served_routes(app)
    assert "POST /v1/ml/anomaly/fit" in served and "GET /v1/ml/anomaly/models/{filename}" in served
    assert documented_routes(app.openapi_schema.to_schema()) == served


def test_every_documented_error_is_problem_details(app: Litestar) -> None:
    """Error replies are described as what ``errors.py`` sends, on every operation."""
    document = app.openapi_schema.to_schema()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and (path, status) not in _VERDICTS:
                    assert set(response["content"]) == {"application/problem+json"}, (method, path, status)
                    schema_ = response["content"]["application/problem+json"]["schema"]
                    assert schema_ == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


#: Operations whose examples name the resources the fixture creates: each must have been
#: answered with a 200 at least once, or the fuzzing only ever exercised the error paths.
REACHES_REAL_RESOURCES = (
    "POST /v1/ml/anomaly/score", "POST /v1/ml/anomaly/load", "GET /v1/ml/anomaly/models/{filename}",
    "POST /v1/ml/anomaly/stream", "GET /v1/ml/anomaly/stream/{model_id}",
    "POST /v1/ml/anomaly/stream/{model_id}/reset",
)


def test_the_fuzzing_reached_real_resources() -> None:
    """The examples phase scored, loaded and inspected what exists, not only unknown names."""
    if not SEEN:
        pytest.skip("needs test_the_served_schema_holds_under_fuzzing to run first, in this session")
    missing = [label for label in REACHES_REAL_RESOURCES if SEEN.get(label, Counter())[200] == 0]
    assert not missing, {label: dict(SEEN.get(label, {})) for label in missing}
    # And the error paths were exercised too: invalid bodies were refused, not scored.
    assert SEEN["POST /v1/ml/anomaly/score"][422] > 0
