"""Arrow IPC streams in and out: request bodies, replies, and the client's wire format.

Arrow carries a table as typed columns, so a 10,000 × 16 body is 1.3 MB of float64 read with
one copy, where JSON is 3 MB of digits to parse. Polars reads and writes the stream format, and
Polars is already a dependency, so no other library is needed (measured against pyarrow in
docs/inputs.md). :mod:`anomd.arrow.shape` checks a body against the limits before it is
decoded.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from anomd.arrow.shape import BadArrow, StreamShape, stream_shape
from anomd.errors import TooLarge

if TYPE_CHECKING:
    import polars as pl

#: The IANA media type of the Arrow IPC stream format.
ARROW_STREAM = "application/vnd.apache.arrow.stream"

__all__ = [
    "ARROW_STREAM", "ArrowBody", "BadArrow", "StreamShape", "read_stream", "stream_shape", "write_stream",
]


class ArrowBody:
    """A request's Arrow stream, checked against the limits but not decoded yet.

    The server checks a body's headers on the event loop (cheap, and a refusal needs no worker)
    and leaves the decoding to the worker thread that fits or scores it, where
    :func:`anomd.inputs.prepare` calls :meth:`frame`: one thread hand-off per request, not two.
    """

    __slots__ = ("body", "shape")

    def __init__(self, body: bytes, shape: StreamShape) -> None:
        self.body = body
        self.shape = shape

    def __len__(self) -> int:
        return self.shape.rows

    def frame(self) -> pl.DataFrame:
        return _decode(self.body)


def read_stream(
    body: bytes, *, max_rows: int | None = None, max_columns: int | None = None,
    max_bytes: int | None = None,
) -> pl.DataFrame:
    """Decodes an Arrow IPC stream into a Polars frame, refusing it first if over the limits.

    Raises:
        BadArrow: Not a readable stream (400).
        TooLarge: More rows or columns than allowed, or a decoded size over ``max_bytes`` (413).
    """
    _check(body, max_rows, max_columns, max_bytes)
    return _decode(body)


def _check(body: bytes, max_rows: int | None, max_columns: int | None, max_bytes: int | None) -> StreamShape:
    shape = stream_shape(body)
    if max_rows is not None and shape.rows > max_rows:
        raise TooLarge(f"{shape.rows} rows is over this server's limit of {max_rows}")
    if max_columns is not None and shape.columns > max_columns:
        raise TooLarge(f"rows of {shape.columns} columns are over this server's limit of "
                       f"{max_columns} columns")
    if max_bytes is not None and shape.decoded_bytes > max_bytes:
        raise TooLarge(f"the Arrow stream decodes to {shape.decoded_bytes:,} bytes, over this "
                       f"server's limit of {max_bytes:,} (max_body_bytes)")
    return shape


def checked_body(
    body: bytes, *, max_rows: int | None = None, max_columns: int | None = None,
    max_bytes: int | None = None,
) -> ArrowBody:
    """:func:`read_stream`'s checks without the decoding (see :class:`ArrowBody`)."""
    shape = _check(body, max_rows, max_columns, max_bytes)
    return ArrowBody(body, shape)


def _decode(body: bytes) -> pl.DataFrame:
    import polars as pl

    try:
        return pl.read_ipc_stream(io.BytesIO(body))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise BadArrow(f"the body is not a valid Arrow IPC stream ({_first_line(exc)})") from None
    except pl.exceptions.PanicException as exc:  # a BaseException: Polars refused the bytes
        raise BadArrow(f"the body is not a valid Arrow IPC stream ({_first_line(exc)})") from None


def write_stream(frame: pl.DataFrame) -> bytes:
    """The frame as an uncompressed Arrow IPC stream."""
    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer)
    return buffer.getvalue()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
