"""Strict request-body decoding with warnings for unknown top-level fields.

Litestar's own body parsing converts leniently (``"1.5"`` would become a float) and would drop
unknown keys without a word. Here the body is decoded once, strictly, into the request Struct,
and the top-level keys are scanned (values not decoded) so unknown fields can be reported.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from litestar import Request

from anomd.errors import AnomdError, InvalidInput

T = TypeVar("T", bound=msgspec.Struct)

_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


class BadJSON(AnomdError):
    status_code = 400
    title = "Malformed JSON"


async def decode_body(request: Request, kind: type[T]) -> tuple[T, list[str], dict[str, msgspec.Raw]]:
    """Decodes the body into ``kind``.

    Returns:
        The request, a list of warnings about ignored fields, and the unknown raw fields
        (so a handler can map legacy top-level fields into ``params``).
    """
    body = await request.body()
    if not body.strip():
        raise BadJSON("request body is empty; send a JSON object")
    try:
        top = _TOP_LEVEL.decode(body)
    except msgspec.ValidationError:
        raise InvalidInput("request body must be a JSON object") from None
    except msgspec.DecodeError as exc:
        raise BadJSON(f"request body is not valid JSON: {exc}") from None
    try:
        parsed = msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadJSON(f"request body is not valid JSON: {exc}") from None
    model = getattr(parsed, "model", None) or getattr(parsed, "model_id", None)
    if model is not None:
        request.scope.setdefault("state", {})["anomd_model"] = model  # for the access log
    known = set(kind.__struct_fields__)
    unknown = {k: v for k, v in top.items() if k not in known}
    return parsed, [f"unknown field {k!r} was ignored" for k in sorted(unknown)], unknown
