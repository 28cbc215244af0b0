"""Strict request-body decoding: JSON only, no coercion, no duplicate keys, clear errors.

Litestar's own body parsing converts leniently (``"1.5"`` would become a float), would drop
unknown keys without a word and lets a repeated key silently win. Here the body is decoded
strictly into the request Struct. The usual body has no unknown fields and is decoded once, by a
variant of the Struct that forbids them; only when that fails are the top-level keys scanned
(values not decoded) so unknown fields can be reported and the error, if any, described. The
scan costs as much as a tenth of ``/score``'s server time for a 10,000-row body, which is why it
is not done up front.

Every failure names where it is (``body_errors``): a JSON path such as ``$.data[1][1]``, the
byte offset and the text there.

Content type: a body must be sent as ``application/json`` (or an ``application/*+json`` type);
anything else, or no Content-Type at all, is a 415. Browsers send ``text/plain``, form and
untyped bodies to any origin without a CORS preflight, so accepting them would let any web page
fit or overwrite models on a server its visitor can reach.

Duplicate keys (``{"model": "a", "model": "b"}``) are refused with a 422 naming the key and the
object; msgspec would keep the last value silently, so ``duplicate_keys`` looks for them after
a successful decode.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from litestar import Request

from anomd.errors import InvalidInput
from anomd.server.body_errors import BadJSON, UnsupportedMediaType, invalid_request, syntax_error
from anomd.server.duplicate_keys import TOP_LEVEL, check_unique_keys, keys_unique_cheaply

T = TypeVar("T", bound=msgspec.Struct)

#: Media types read as JSON: application/json and structured-syntax ones like application/problem+json.
_JSON_MEDIA = re.compile(r"application/(?:[a-z0-9!#$&^_.-]+\+)?json", re.IGNORECASE)
#: The exact duplicate-key check runs on a worker thread for bodies larger than this.
_THREAD_ABOVE = 1024 * 1024


async def decode_body(request: Request, kind: type[T]) -> tuple[T, list[str], dict[str, msgspec.Raw]]:
    """Decodes the body into ``kind``.

    Returns:
        The request, a list of warnings about ignored fields, and the unknown raw fields
        (so a handler can map legacy top-level fields into ``params``).

    Raises:
        UnsupportedMediaType: The body is not declared as JSON (checked before it is read).
        BadJSON: Empty, not UTF-8, not JSON, nested too deeply.
        InvalidInput: Valid JSON that does not fit ``kind``; DuplicateKey for a repeated key.
    """
    check_content_type(_content_type(request))
    body = await request.body()
    if not body.strip():
        raise BadJSON("request body is empty; send a JSON object")
    try:
        parsed, warnings, unknown = _decode(body, kind)
    except _Undescribed as failure:
        raise await _off_loop_if_large(body, failure.describe) from None
    _remember_model(request, parsed)
    if not keys_unique_cheaply(body, getattr(parsed, "data", None)):
        await _off_loop_if_large(body, functools.partial(check_unique_keys, body))
    return parsed, warnings, unknown


async def body_size(request: Request) -> int:
    """Bytes of the request's body, which stays in memory until the reply (read once, cached
    by the request)."""
    return len(await request.body())


class _Undescribed(Exception):
    """A decoding failure whose description (a search for its path) is yet to be made."""

    def __init__(self, describe: Callable[[], Any]) -> None:
        super().__init__()
        self.describe = describe


async def _off_loop_if_large(body: bytes, work: Callable[[], Any]) -> Any:
    """Runs ``work`` (proportional to ``body``) on a worker thread if the body is large.

    The fast path stays on the event loop (a thread hop would cost more than it); the exact
    duplicate check and error descriptions can take tens of milliseconds on a large body, which
    would otherwise hold up every other request.
    """
    if len(body) > _THREAD_ABOVE:
        return await anyio.to_thread.run_sync(work)
    return work()


def _content_type(request: Request) -> str | None:
    """The Content-Type header, read from the ASGI scope (building ``request.headers`` costs
    more than the rest of a streamed point's decoding)."""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1")
    return None


def check_content_type(header: str | None) -> None:
    """Accepts JSON media types (charset, if given, must be UTF-8); refuses the rest with a 415."""
    if not header:
        raise UnsupportedMediaType(
            "the request has no Content-Type; send the JSON body with Content-Type: application/json"
        )
    media, _, parameters = header.partition(";")
    media = media.strip()
    if not _JSON_MEDIA.fullmatch(media):
        raise UnsupportedMediaType(
            f"Content-Type {media!r} is not accepted; send the body as JSON with "
            "Content-Type: application/json"
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"charset {charset!r} is not accepted; JSON bodies must be UTF-8")


def _decode(body: bytes, kind: type[T]) -> tuple[T, list[str], dict[str, msgspec.Raw]]:
    """One strict decode for the usual body; anything else goes the slow way or fails.

    Raises:
        _Undescribed: The body cannot be used; the error's description is left to the caller.
        InvalidInput: The body is JSON but not an object.
    """
    try:
        return msgspec.json.decode(body, type=_closed(kind), strict=True), [], {}
    except msgspec.ValidationError:
        return _decode_slowly(body, kind)  # maybe only unknown fields: see what they are
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _Undescribed(functools.partial(syntax_error, body, exc)) from None


def _decode_slowly(body: bytes, kind: type[T]) -> tuple[T, list[str], dict[str, msgspec.Raw]]:
    """Decodes a body with unknown fields, or describes why it cannot be decoded."""
    try:
        top = TOP_LEVEL.decode(body)
        parsed = msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as exc:
        if body.lstrip()[:1] != b"{":
            raise InvalidInput(f"request body must be a JSON object, not {_json_kind_at(body)}") from None
        raise _Undescribed(functools.partial(invalid_request, body, exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _Undescribed(functools.partial(syntax_error, body, exc)) from None
    known = set(kind.__struct_fields__)
    unknown = {k: v for k, v in top.items() if k not in known}
    return parsed, [f"unknown field {k!r} was ignored" for k in sorted(unknown)], unknown


def _json_kind_at(body: bytes) -> str:
    first = body.lstrip()[:1]
    return {b"[": "an array", b'"': "a string", b"n": "null", b"t": "a boolean", b"f": "a boolean"}.get(
        first, "a number"
    )


def _remember_model(request: Request, parsed: msgspec.Struct) -> None:
    model = getattr(parsed, "model", None) or getattr(parsed, "model_id", None)
    if isinstance(model, str):
        request.scope.setdefault("state", {})["anomd_model"] = model  # for the access log


@functools.cache
def _closed(kind: type[T]) -> type[T]:
    """``kind`` with unknown fields refused: a successful decode proves there were none."""
    return type(kind.__name__, (kind,), {}, forbid_unknown_fields=True)  # type: ignore[return-value]
