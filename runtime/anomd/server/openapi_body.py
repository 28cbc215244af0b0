"""Stating in the OpenAPI document what Litestar cannot infer from handler signatures.

Three parts of a route are invisible to Litestar: request bodies, because handlers decode them
themselves (strictly, see ``body.py``); error replies, because they leave through the exception
handlers of ``errors.py`` as ``application/problem+json``; and replies that the service builds
as plain dicts. A route states them with an ``operation_class`` made by :func:`operation` (or
:func:`json_body`), and :func:`request_components` hands the msgspec schemas those operations
refer to to the app, which adds them to the document's components.

The document is a contract that clients and ``tests/test_fuzz_openapi.py`` hold the server to:
every status a route can answer with is listed, and only those.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
)

from anomd.arrow import ARROW_STREAM
from anomd.server.schemas import Problem

REF = "#/components/schemas/{name}"
PROBLEM_JSON = "application/problem+json"

#: What an error status means when a route does not say something more specific.
MEANINGS: Mapping[int, str] = {
    400: "Malformed JSON, or an empty body.",
    403: "The backend is disabled by the operator (`enabled_backends`).",
    404: "Unknown model, detector or backend.",
    409: "A conflict with the stored state, or a stored artifact that failed its integrity check.",
    413: "The body, or its row or column count, is over this server's limits.",
    415: "The body is not sent as `application/json` (or an `application/*+json` type) in UTF-8.",
    422: "Well-formed but unusable input; `detail` says which field and why.",
    503: "The model storage cannot be reached.",
}
#: The errors of every route that decodes a JSON body: ``body.py`` and the body size limit.
DECODING_ERRORS = (400, 413, 415, 422)
#: What those errors mean on a route that also takes an Arrow body (``arrow_body.py``).
BATCH_DECODING_ERRORS: tuple[Error, ...] = (
    (400, "Malformed JSON or Arrow stream, or an empty body."),
    (413, ("The body, its row or column count, or the size an Arrow body decodes to, is over "
          "this server's limits.")),
    (415, ("The body is neither JSON (`application/json`, UTF-8) nor an Arrow IPC stream "
          f"(`{ARROW_STREAM}`).")),
    (422, ("Well-formed but unusable input (including query parameters: with an Arrow body, a "
          "bad or repeated one; with a JSON body, any); `detail` says which and why.")),
)
ARROW_BODY = (
    "An Arrow IPC stream whose columns are the features (numbers, booleans; strings become "
    "categories), one row per row of `data`. The request's other fields are query parameters."
)
ARROW_REPLY = (
    "Sent when `Accept` prefers it: the rows of `data` as Arrow columns `index`, `raw_score`, "
    "`score`, `is_anomaly` (and `explanation`, JSON text, with `explain`); the rest of the JSON "
    "reply is in the `Anomd-Summary` header."
)

#: An error status, alone or with what it means on this route.
Error = int | tuple[int, str]

_COMPONENTS: list[type[msgspec.Struct]] = [Problem]


def operation(
    *errors: Error,
    body: type[msgspec.Struct] | None = None,
    reply: type[msgspec.Struct] | None = None,
    example: Mapping[str, Any] | None = None,
    other_replies: Mapping[int, tuple[type[msgspec.Struct], str]] | None = None,
) -> type[Operation]:
    """An ``operation_class`` that states a route's body, reply and every error it can answer with.

    Litestar's own guesses at error replies (a ``400`` "validation exception" as
    ``application/json`` on any route with a path parameter) are dropped: they describe neither
    the media type nor the body this server sends, and they promise statuses that never occur.

    Args:
        errors: Every error status of the route, alone or with its meaning here. A 500 is never
            listed: it is always a bug.
        body: The JSON request body, for handlers that decode it themselves.
        reply: The 200 reply's schema, for handlers that return a dict Litestar cannot describe.
        example: A request body shown with ``body`` (and sent by schemathesis' examples phase).
        other_replies: Statuses answered with a JSON body that is not problem details (e.g. a
            503 from a readiness probe), as ``{status: (schema, meaning)}``.
    """
    others = dict(other_replies or {})
    for kind in (body, reply, *(schema for schema, _ in others.values())):
        if kind is not None and kind not in _COMPONENTS:
            _COMPONENTS.append(kind)
    # A later entry for the same status wins: a route's own meaning replaces an implied one.
    statuses = dict(sorted(dict(_meaning(error) for error in errors).items()))

    @dataclass
    class _DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = _request_body(body, example)
            responses = {code: r for code, r in (self.responses or {}).items() if code.startswith("2")}
            if reply is not None:
                responses["200"].content = {"application/json": OpenAPIMediaType(schema=_ref(reply))}
            problems = {str(s): problem_reply(text) for s, text in statuses.items()}
            alternatives = {str(s): _json(kind, text) for s, (kind, text) in sorted(others.items())}
            self.responses = {**responses, **alternatives, **problems}

    return _DocumentedOperation


def json_body(
    kind: type[msgspec.Struct], *errors: Error, example: Mapping[str, Any] | None = None
) -> type[Operation]:
    """:func:`operation` for a route whose body is ``kind``: the decoding errors are implied."""
    return operation(*DECODING_ERRORS, *errors, body=kind, example=example)


def batch_body(
    kind: type[msgspec.Struct], *errors: Error, example: Mapping[str, Any] | None = None,
    arrow_reply: bool = False,
) -> type[Operation]:
    """:func:`json_body` for a batch route, which also takes an Arrow body with the other
    fields as query parameters and, with ``arrow_reply``, answers in Arrow when asked."""
    base = operation(*BATCH_DECODING_ERRORS, *errors, body=kind, example=example)

    @dataclass
    class _BatchOperation(base):  # type: ignore[valid-type, misc]
        def __post_init__(self) -> None:
            super().__post_init__()
            assert self.request_body is not None and not isinstance(self.request_body, Reference)
            self.request_body.content[ARROW_STREAM] = OpenAPIMediaType(
                schema={"type": "string", "format": "binary", "description": ARROW_BODY})  # type: ignore[arg-type]
            self.parameters = [*(self.parameters or []), *query_parameters(kind)]
            if arrow_reply:
                ok = self.responses["200"]  # type: ignore[index]
                assert isinstance(ok, OpenAPIResponse) and ok.content is not None
                ok.content[ARROW_STREAM] = OpenAPIMediaType(
                    schema={"type": "string", "format": "binary", "description": ARROW_REPLY})  # type: ignore[arg-type]
                ok.headers = {"Anomd-Summary": OpenAPIHeader(
                    schema={"type": "string"},  # type: ignore[arg-type]
                    description="With an Arrow reply: the JSON reply without `data`, as JSON text.",
                )}

    return _BatchOperation


def query_parameters(kind: type[msgspec.Struct]) -> list[Parameter]:
    """``kind``'s fields other than ``data``, as the query parameters of an Arrow request."""
    _, components = msgspec.json.schema_components([kind], ref_template=REF)
    properties = components[kind.__name__]["properties"]
    parameters = []
    for name, schema in properties.items():
        if name == "data":
            continue
        parameters.append(Parameter(
            name=name, param_in="query", required=False, schema=_query_schema(schema),  # type: ignore[arg-type]
            description=f"With an Arrow body only: {schema.get('description', 'as in the JSON body.')}",
        ))
    return parameters


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A body field's schema as a query parameter's: no null (an absent parameter is the
    default), objects as their JSON text."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    value = dict(options[0]) if len(options) == 1 else {"anyOf": options}
    value.pop("description", None)
    if value.get("type") == "object":
        return {"type": "string", "description": "A JSON object."}
    if "default" in schema and schema["default"] is not None:
        value["default"] = schema["default"]
    return value


def request_components() -> dict[str, Any]:
    """JSON schemas of every Struct the operations refer to (bodies, replies, problem details)."""
    _, components = msgspec.json.schema_components(_COMPONENTS, ref_template=REF)
    return components


def _meaning(error: Error) -> tuple[int, str]:
    status, text = error if isinstance(error, tuple) else (error, MEANINGS[error])
    return status, text


def _ref(kind: type[msgspec.Struct]) -> Reference:
    return Reference(ref=REF.format(name=kind.__name__))


def _request_body(kind: type[msgspec.Struct], example: Mapping[str, Any] | None) -> RequestBody:
    examples = {"example": Example(value=dict(example))} if example is not None else None
    return RequestBody(
        required=True,
        content={"application/json": OpenAPIMediaType(schema=_ref(kind), examples=examples)},
    )


def _json(kind: type[msgspec.Struct], description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description, content={"application/json": OpenAPIMediaType(schema=_ref(kind))}
    )


def problem_reply(description: str) -> OpenAPIResponse:
    """A problem-details reply; fresh per operation, as Litestar may adjust what it is given."""
    return OpenAPIResponse(
        description=description,
        content={PROBLEM_JSON: OpenAPIMediaType(schema=_ref(Problem))},
    )
