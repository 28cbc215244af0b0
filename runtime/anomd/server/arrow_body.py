"""Arrow bodies for ``/fit``, ``/score`` and ``/detect``: the table is the data, the rest is
in the query string.

``POST /v1/ml/anomaly/score?model=m&backend=ecod`` with ``Content-Type:
application/vnd.apache.arrow.stream`` sends the rows as an Arrow IPC stream whose columns are
the features (named, so a model fitted on them scores later tables by name); every other field
of the JSON body is a query parameter of the same name (``params`` and ``schema`` as JSON
text). The query is decoded into the same request Struct as a JSON body and then goes through
the same service calls, so validation, limits and errors are the JSON ones: a bad value is a
422 naming the parameter, a repeated one a 422 like a repeated JSON key, an unknown one a
warning, and a body over the limits a 413, checked from the stream's headers before anything
is decoded (:mod:`anomd.arrow.shape`).

Query parameters with a JSON body are refused (422) rather than ignored: a request that says
``model`` twice, in two places, is ambiguous.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
from litestar import Request

from anomd.arrow import ARROW_STREAM, checked_body
from anomd.errors import InvalidInput
from anomd.server.body import (
    _content_type,
    _remember_model,
    check_content_type,
    decode_body,
)
from anomd.server.body_errors import UnsupportedMediaType
from anomd.settings import Settings

T = TypeVar("T", bound=msgspec.Struct)

#: Fields whose value is a JSON object, sent in the query string as JSON text.
JSON_FIELDS = frozenset({"params", "schema"})


def is_arrow(media: str | None) -> bool:
    return bool(media) and media.partition(";")[0].strip().lower() == ARROW_STREAM  # type: ignore[union-attr]


async def decode_batch_body(
    request: Request, kind: type[T], settings: Settings
) -> tuple[T, list[str], dict[str, msgspec.Raw]]:
    """A batch request from a JSON body, or from an Arrow body and the query string.

    Returns what :func:`anomd.server.body.decode_body` returns; with an Arrow body, ``data``
    holds the checked stream (:class:`anomd.arrow.ArrowBody`), which the service takes like
    any other input.
    """
    query = request.scope.get("query_string", b"")
    media = _content_type(request)
    if not is_arrow(media):
        try:
            check_content_type(media)  # a 415 first, as for any other body that is not JSON
        except UnsupportedMediaType as exc:
            raise UnsupportedMediaType(
                f"{exc.detail}, or the rows as an Arrow IPC stream with Content-Type: {ARROW_STREAM}"
            ) from None
        if query:
            names = sorted({name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)})
            raise InvalidInput(
                f"query parameters ({', '.join(map(repr, names))}) are read only with an Arrow "
                "body; with a JSON body put every field in the body"
            )
        return await decode_body(request, kind)
    fields, warnings, unknown = query_fields(query, kind)
    body = await request.body()
    # Only the headers are read here (the limits hold before any decoding); the worker thread
    # that fits or scores decodes the table (``anomd.inputs.prepare``).
    table = checked_body(body, max_rows=settings.max_rows, max_columns=settings.max_columns,
                         max_bytes=settings.max_body_bytes)
    try:
        parsed = msgspec.convert({**fields, "data": []}, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(_query_error(str(exc))) from None
    parsed.data = table  # type: ignore[attr-defined]
    _remember_model(request, parsed)
    return parsed, warnings, unknown


def query_fields(
    query: bytes, kind: type[msgspec.Struct]
) -> tuple[dict[str, Any], list[str], dict[str, msgspec.Raw]]:
    """The request's fields from the query string, with warnings and unknown fields."""
    try:
        pairs = parse_qsl(query.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput("the query string is not valid UTF-8") from None
    twice = sorted(name for name, n in Counter(name for name, _ in pairs).items() if n > 1)
    if twice:
        raise InvalidInput(
            f"query parameter {twice[0]!r} is given more than once; which value is meant is "
            "ambiguous, so neither is used"
        )
    known = set(kind.__struct_fields__) - {"data"}
    fields: dict[str, Any] = {}
    unknown: dict[str, msgspec.Raw] = {}
    for name, text in pairs:
        if name == "data":
            raise InvalidInput("'data' cannot be a query parameter: with an Arrow body the table is the data")
        if name in JSON_FIELDS and name in known:
            try:
                fields[name] = msgspec.json.decode(text)
            except msgspec.DecodeError:
                raise InvalidInput(
                    f"query parameter {name!r} must be a JSON object, got {text[:80]!r}") from None
        elif name in known:
            fields[name] = text
        else:
            unknown[name] = _raw(text)
    warnings = [f"unknown field {name!r} was ignored" for name in sorted(unknown)]
    return fields, warnings, unknown


def _raw(text: str) -> msgspec.Raw:
    """An unknown parameter's value as JSON: itself when it is JSON (``100``, ``true``), else
    the text as a JSON string; a legacy hyper-parameter such as ``n_estimators`` then decodes
    into ``params`` as it would from a JSON body."""
    try:
        msgspec.json.decode(text)
        return msgspec.Raw(text.encode())
    except msgspec.DecodeError:
        return msgspec.Raw(json.dumps(text).encode())


def _query_error(message: str) -> str:
    """msgspec's ``Expected `float`, got `str` - at `$.contamination``` in query terms."""
    text, _, path = message.rpartition(" - at `$.")
    if not text:
        return f"query parameters: {message}"
    return f"query parameter {path.rstrip('`').split('.')[0].split('[')[0]!r}: {text}"
