"""Reading and writing the tables ``anomd detect`` works on (CSV or Parquet, by file suffix)."""

from __future__ import annotations

import errno
import io
import re
import sys
from pathlib import Path

import polars as pl

from anomd.commands.common import UsageError

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
STDIN = "-"


def table_format(path: str, role: str) -> str:
    """``csv`` or ``parquet`` from the suffix; anything else is refused before any work starts."""
    if path == STDIN:
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise UsageError(
        f"cannot tell the format of {role} file {path!r} from its suffix; use .csv, .parquet or .pq"
    )


def read_table(path: str) -> pl.DataFrame:
    """Reads ``path`` (``-`` is CSV on standard input).

    Raises:
        UsageError: Missing or unreadable file, or content Polars cannot parse; the message
            names the file and passes Polars' reason on.
    """
    kind = table_format(path, "input")
    try:
        if path == STDIN:
            return pl.read_csv(io.BytesIO(sys.stdin.buffer.read()))
        if not Path(path).is_file():
            raise UsageError(f"input file {path!r} does not exist or is not a file")
        return pl.read_csv(path) if kind == "csv" else pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read {path!r} as {kind.upper()}: {reason}") from None


def write_table(frame: pl.DataFrame, path: str | None) -> None:
    """Writes ``frame`` to ``path`` (format by suffix), or as CSV to standard output."""
    if path is None:
        try:
            frame.write_csv(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        except OSError as exc:
            # Polars reports a closed pipe (`anomd detect f.csv | head`) as a plain OSError.
            if isinstance(exc, BrokenPipeError) or errno.EPIPE in (exc.errno, _os_error_code(exc)):
                raise BrokenPipeError(errno.EPIPE, "standard output closed") from None
            raise
        return
    try:
        if table_format(path, "output") == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise UsageError(f"cannot write {path!r}: {exc}") from None


def _os_error_code(exc: OSError) -> int | None:
    """The ``os error N`` code Polars puts in its message (its OSError has no errno)."""
    found = re.search(r"os error (\d+)", str(exc))
    return int(found.group(1)) if found else None
