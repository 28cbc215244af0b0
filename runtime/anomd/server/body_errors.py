"""Request-body errors that say where: a JSON path such as ``$.data[1][1]`` (computed from the
byte offset the parser reports for malformed JSON), the byte offset and the text there.

Describing an error can mean scanning the body, so it is only done once decoding has failed,
and for large bodies on a worker thread (see ``body.decode_body``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

from anomd.encoding import path_segment
from anomd.errors import AnomdError, InvalidInput

#: Paths of errors other than a bad value are found by a Python scan of this many bytes at most.
_PATH_SCAN_LIMIT = 1024 * 1024
#: Nesting shown in an error path before it is cut short with "…".
_PATH_SHOWN = 8


class BadJSON(AnomdError):
    """The body is not JSON at all (400): empty, not UTF-8, malformed or nested too deeply."""

    status_code = 400
    title = "Malformed JSON"


class UnsupportedMediaType(AnomdError):
    """The body is not declared as JSON (415); refused before it is read."""

    status_code = 415
    title = "Unsupported media type"


class DuplicateKey(InvalidInput):
    """An object names a key twice (422): which value was meant is ambiguous, so neither is used."""

    title = "Duplicate key"



_BYTE = re.compile(r"\(byte (\d+)\)")
_NON_FINITE = re.compile(rb"-?(?:NaN|Infinity|inf|nan)")


def syntax_error(body: bytes, exc: Exception) -> BadJSON:
    """A 400 for a body that is not (UTF-8) JSON, naming the byte, the text there and the path."""
    if isinstance(exc, UnicodeDecodeError):
        offset = _first_invalid_utf8(body)
        return BadJSON(f"request body is not valid UTF-8: {_where(body, offset)}; send JSON encoded as UTF-8")
    if isinstance(exc, RecursionError):
        return BadJSON(f"request body is nested too deeply: {_too_deep(body)}")
    message = str(exc)
    if "truncated" in message:
        inside = _path_at(body, len(body))
        return BadJSON(f"request body is not valid JSON: it ends early{f', inside {inside}' if inside else ''}")
    match = _BYTE.search(message)
    if match is None:
        return BadJSON(f"request body is not valid JSON: {message}")
    offset = int(match.group(1))
    if "trailing characters" in message:
        offset = max(offset - 1, 0)  # msgspec counts one past the first trailing character
        return BadJSON(
            f"request body is not valid JSON: unexpected text after the JSON object at byte {offset}: "
            f"{_snippet(body, offset)}"
        )
    hint = ""
    if _NON_FINITE.match(body, offset):
        hint = "; NaN and Infinity are not JSON numbers, and only finite numbers are accepted"
    elif body.startswith(b"\xef\xbb\xbf", offset):
        hint = "; the body starts with a byte-order mark: send UTF-8 JSON without one"
    return BadJSON(f"request body is not valid JSON: {_where(body, offset)}{hint}")


def _first_invalid_utf8(body: bytes) -> int:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def _where(body: bytes, offset: int) -> str:
    path = _bad_value_path(body, offset) or _path_at(body, offset)
    if path is None:
        return f"at byte {offset}: {_snippet(body, offset)}"
    return f"at {path} (byte {offset}: {_snippet(body, offset)})"


def _snippet(body: bytes, offset: int) -> str:
    text = body[offset:offset + 24].decode("utf-8", "backslashreplace")
    return f"'{text}'" if text else "end of body"


# -- JSON paths from byte offsets ------------------------------------------------------------

#: A (possibly unterminated) string, or a structural character; commas are counted in between.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|$)|[\[\]{}:]', re.DOTALL)


class _PathTracker:
    """Follows the containers around a point of a JSON text, token by token."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.stack: list[list[Any]] = []  # [kind, key or index]
        self.last_string = ""
        self.pos = 0

    def feed(self, start: int, token: bytes) -> None:
        self._count_commas(start)
        self.pos = start + len(token)
        char = token[:1]
        if char == b'"':
            self.last_string = token.decode("utf-8", "replace")
        elif char == b":" and self.stack:
            self.stack[-1][1] = _string_value(self.last_string)
        elif char in (b"[", b"{"):
            self.stack.append([char, 0 if char == b"[" else None])
        elif self.stack:
            self.stack.pop()

    def _count_commas(self, until: int) -> None:
        if self.stack and self.stack[-1][0] == b"[":
            self.stack[-1][1] += self.body.count(b",", self.pos, until)

    def path(self, until: int) -> str:
        self._count_commas(until)
        self.pos = until
        parts = [path_segment(key) for _, key in self.stack if key is not None]
        if len(parts) > _PATH_SHOWN:
            parts = [*parts[:_PATH_SHOWN], "…"]
        return "$" + "".join(parts)


def _string_value(token: str) -> str:
    try:
        return json.loads(token)
    except ValueError:
        return token.strip('"')


#: What a malformed value is replaced by to let msgspec find its path: a string no body has.
_MARK = "\x00anomd: the malformed value\x00"
_MARK_JSON = json.dumps(_MARK).encode()
_BAD_VALUE = re.compile(rb"[^,\]}\s]+")


def _bad_value_path(body: bytes, offset: int) -> str | None:
    """The path of a malformed value such as ``NaN`` or ``tru`` that starts at ``offset``.

    The value is replaced by a marker string, the body decoded (in C) and the marker looked for:
    about 20 ms for 10,000 rows, against a second for a token-by-token scan in Python.
    """
    value = _BAD_VALUE.match(body, offset)
    if value is None or _MARK_JSON in body:
        return None
    try:
        tree = msgspec.json.decode(body[:offset] + _MARK_JSON + body[value.end():])
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return None  # not a value (e.g. a bad key), or more is wrong: scan instead
    if tree.__class__ not in (list, dict):
        return "$"  # the whole body is one malformed value
    try:
        keys = _keys_to_mark(tree)
    except RecursionError:
        return None
    return None if keys is None else "$" + "".join(path_segment(k) for k in reversed(keys))


def _keys_to_mark(value: Any) -> list[str | int] | None:
    """The keys leading to the marker, innermost first (built only on the way back)."""
    items = enumerate(value) if value.__class__ is list else value.items()
    for key, item in items:
        kind = item.__class__
        if kind is str and item == _MARK:
            return [key]
        if kind is list or kind is dict:
            keys = _keys_to_mark(item)
            if keys is not None:
                keys.append(key)
                return keys
    return None


def _path_at(body: bytes, offset: int) -> str | None:
    """The JSON path of the value around ``offset``, e.g. ``$.data[1][0]``; None if too far in."""
    if offset > _PATH_SCAN_LIMIT:
        return None
    tracker = _PathTracker(body)
    for match in _TOKEN.finditer(body, 0, offset):
        tracker.feed(match.start(), match.group())
    return tracker.path(offset)


def _too_deep(body: bytes, limit: int = 256) -> str:
    """Where the nesting first exceeds ``limit`` levels, for the RecursionError message."""
    tracker = _PathTracker(body)
    for match in _TOKEN.finditer(body, 0, _PATH_SCAN_LIMIT):
        tracker.feed(match.start(), match.group())
        if len(tracker.stack) > limit:
            return f"more than {limit} levels of arrays or objects at {tracker.path(match.start())}"
    return "too many levels of arrays or objects"


# -- describing validation errors ------------------------------------------------------------

_AT = re.compile(r" - at `(\$[^`]*)`$")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|(\[\.\.\.\])")
_GOT = re.compile(r"got `(\w+)`")


class _Float(str):
    """A JSON float kept as its text, so 1e999 can be found rather than refused again."""


_LOOSE = msgspec.json.Decoder(float_hook=_Float)


def invalid_request(body: bytes, exc: msgspec.ValidationError) -> InvalidInput:
    """A 422 from msgspec's message, with ``[...]`` (a value in an object) replaced by its key."""
    message = str(exc)
    match = _AT.search(message)
    if match and "[...]" in match.group(1):
        path = _name_object_keys(body, match.group(1), message) or match.group(1)
        message = message[: match.start(1)] + path + message[match.end(1):]
    return InvalidInput(f"invalid request: {message}")


def _name_object_keys(body: bytes, path: str, message: str) -> str | None:
    try:
        value = _LOOSE.decode(body)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return None
    parts = [m.groups() for m in _PATH_PART.finditer(path)]
    got = _GOT.search(message)
    if got:
        kind = got.group(1)
        return _find_path(value, parts, lambda v: _kind(v) == kind)
    if "out of range" in message:
        return _find_path(value, parts, _out_of_range)
    return _find_path(value, parts, lambda v: True)


def _find_path(value: Any, parts: list[tuple], bad: Any, path: str = "$") -> str | None:
    """The first path following ``parts`` (``[...]`` matching any key) whose value is ``bad``."""
    if not parts:
        return path if bad(value) else None
    (field, index, any_key), rest = parts[0], parts[1:]
    if field is not None and isinstance(value, dict) and field in value:
        return _find_path(value[field], rest, bad, path + path_segment(field))
    if index is not None and isinstance(value, list) and int(index) < len(value):
        return _find_path(value[int(index)], rest, bad, f"{path}[{index}]")
    if any_key and isinstance(value, dict):
        for key, item in value.items():
            found = _find_path(item, rest, bad, path + path_segment(key))
            if found:
                return found
    return None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    if isinstance(value, _Float):
        return "float"
    kinds = {str: "str", int: "int", list: "array", dict: "object"}
    return next((name for cls, name in kinds.items() if isinstance(value, cls)), "?")


def _out_of_range(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (_Float, int)):
        return False
    try:
        return not math.isfinite(float(value))
    except OverflowError:
        return True


