"""How big an Arrow IPC stream will be once decoded, read from its headers alone.

An Arrow body is small on the wire but can be large in memory: buffers may be compressed
(LZ4, ZSTD), so a few megabytes can decode to gigabytes. Before anything is decoded, this
module walks the stream's message headers (FlatBuffers tables; only the few fields needed are
read) and adds up rows, top-level columns and the decoded size of every body buffer: a
compressed buffer states its decoded length in its first 8 bytes. The server refuses a
stream over its limits here, so a hostile body costs a scan of its headers, never an
allocation of its claimed size.

Every offset is checked against the body; a stream that is cut short or does not parse is a
:class:`BadArrow` (400), as malformed JSON is.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from anomd.errors import AnomdError

_CONTINUATION = 0xFFFFFFFF
_SCHEMA, _DICTIONARY_BATCH, _RECORD_BATCH = 1, 2, 3
_BUFFER = struct.Struct("<qq")  # Buffer {offset, length}
_I64 = struct.Struct("<q")


class BadArrow(AnomdError):
    """The body is not a readable Arrow IPC stream (400)."""

    status_code = 400
    title = "Bad request"


@dataclass(frozen=True, slots=True)
class StreamShape:
    """What a stream holds: ``rows`` (all record batches), ``columns`` (top-level fields of
    its schema) and ``decoded_bytes`` (every body buffer at its decoded size)."""

    rows: int
    columns: int
    decoded_bytes: int


class _Table:
    """A FlatBuffers table: fields by id through its vtable, every read bounds-checked."""

    def __init__(self, buf: bytes, position: int) -> None:
        self.buf = buf
        self.position = position
        vtable = position - _i32(buf, position)
        self.vtable = vtable
        self.vtable_size = _u16(buf, vtable)

    def _field(self, index: int) -> int:
        entry = 4 + 2 * index
        if entry >= self.vtable_size:
            return 0
        offset = _u16(self.buf, self.vtable + entry)
        return self.position + offset if offset else 0

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        if not at:
            return default
        return struct.unpack_from("<" + fmt, _checked(self.buf, at, struct.calcsize(fmt)), at)[0]

    def table(self, index: int) -> _Table | None:
        at = self._field(index)
        return _Table(self.buf, at + _u32(self.buf, at)) if at else None

    def vector(self, index: int) -> tuple[int, int]:
        """``(start, length)`` of a vector field; ``(0, 0)`` when absent."""
        at = self._field(index)
        if not at:
            return 0, 0
        start = at + _u32(self.buf, at)
        return start + 4, _u32(self.buf, start)


def _checked(buf: bytes, at: int, size: int) -> bytes:
    if at < 0 or at + size > len(buf):
        raise IndexError(at)
    return buf


def _u16(buf: bytes, at: int) -> int:
    return struct.unpack_from("<H", _checked(buf, at, 2), at)[0]


def _u32(buf: bytes, at: int) -> int:
    return struct.unpack_from("<I", _checked(buf, at, 4), at)[0]


def _i32(buf: bytes, at: int) -> int:
    return struct.unpack_from("<i", _checked(buf, at, 4), at)[0]


def stream_shape(body: bytes) -> StreamShape:
    """Rows, columns and decoded size of the Arrow IPC stream ``body``.

    Raises:
        BadArrow: The body is empty, cut short, or not an Arrow IPC stream.
    """
    if not body:
        raise BadArrow("request body is empty; send an Arrow IPC stream")
    try:
        return _walk(memoryview(body).tobytes() if not isinstance(body, bytes) else body)
    except (IndexError, struct.error, ValueError) as exc:
        raise BadArrow(f"the body is not a valid Arrow IPC stream ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValueError) and str(exc):
        return str(exc)
    return "a header points outside the body: cut short, or not Arrow"


def _walk(body: bytes) -> StreamShape:
    position, rows, columns, decoded, seen_schema = 0, 0, 0, 0, False
    while position < len(body):
        size = _u32(body, position)
        position += 4
        if size == _CONTINUATION:
            size = _u32(body, position)
            position += 4
        if size == 0:
            break  # end of stream
        header = body[position : position + size]
        if len(header) != size:
            raise ValueError("cut short inside a message header")
        message = _Table(header, _u32(header, 0))
        kind = message.scalar(1, "B")
        body_length = message.scalar(3, "q")
        position += size
        if body_length < 0 or position + body_length > len(body):
            raise ValueError("cut short inside a message body")
        if kind == _SCHEMA:
            schema = message.table(2)
            columns = schema.vector(1)[1] if schema else 0
            seen_schema = True
        elif kind in (_RECORD_BATCH, _DICTIONARY_BATCH):
            if not seen_schema:
                raise ValueError("a record batch comes before the schema")
            batch = message.table(2)
            if batch is not None and kind == _DICTIONARY_BATCH:
                batch = batch.table(1)
            if batch is None:
                raise ValueError("a batch message without its batch")
            if kind == _RECORD_BATCH:
                rows += max(batch.scalar(0, "q"), 0)
            decoded += _decoded_size(batch, body, position, body_length)
        else:
            raise ValueError(f"message type {kind} is not part of a record-batch stream")
        position += body_length
    if not seen_schema:
        raise ValueError("no schema message")
    return StreamShape(rows=rows, columns=columns, decoded_bytes=decoded)


def _decoded_size(batch: _Table, body: bytes, start: int, length: int) -> int:
    """A batch's body size after decompression (its body length when uncompressed)."""
    if batch.table(3) is None:  # no BodyCompression: buffers are stored as they are
        return length
    vector, count = batch.vector(2)
    total = 0
    for i in range(count):
        offset, size = _BUFFER.unpack_from(_checked(batch.buf, vector + 16 * i, 16), vector + 16 * i)
        if size == 0:
            continue
        if offset < 0 or size < 8 or offset + size > length:
            raise ValueError("a compressed buffer lies outside its message body")
        stated = _I64.unpack_from(body, start + offset)[0]
        total += size - 8 if stated == -1 else stated
        if stated < -1:
            raise ValueError("a compressed buffer states a negative length")
    return total
