"""Memory admission for job tasks: a file's or a group's working memory, estimated before the
task allocates it.

A job's unit of work is a whole input file (score, split) or a whole group (fit). One file or
group far larger than the rest is enough to exhaust a worker: its nanny kills it, Dask reruns the
task on another worker, which dies the same way, and the job ends with ``KilledWorker`` after
taking down every other task those workers held. How large a file is can be told from its
metadata alone, so each task estimates its peak working memory first, with the same cost models
the server admits requests with (:mod:`anomd.admission`), and refuses with a message that names
the file or group, the estimate, the limit and the setting. The error fails the job like any
other bad input, so the runner removes whatever the job wrote (docs/operations.md).

The limit is ``max_request_memory_mb`` (0: half of the machine's memory, measured on the worker
itself), capped by the worker's own memory limit when Dask sets one (``dask worker
--memory-limit``, a ``LocalCluster``'s share of the machine): Dask's nanny kills a worker past
95% of that limit, so a task estimated over it cannot end well whatever the setting allows.

Row counts come from the file without reading its data:

- Parquet: the footer, read with ranged reads (a seek for local files, ranged GETs for S3). The
  row count there is exact, and the schema gives each column's decoded width.
- CSV: a bound from the byte size. Every data row has one separator less than the header has
  columns and ends with a line break (the last may not), so it takes at least ``columns`` bytes
  and ``rows <= (size - header) // columns + 1``. Quoted fields, ``\\r\\n`` and any value only
  make rows longer, so the bound holds for every file polars can read; it is loose for files of
  long numbers (a file whose rows are 20 bytes a cell is estimated at about 20 times its rows),
  the price of not reading the file twice.
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from anomd import admission
from anomd.admission import MB, SETTING, MemoryEstimate, RowsShape
from anomd.detectors import CELL, DetectorSpec
from anomd.errors import TooLarge
from anomd.jobs.dataset import reading
from anomd.jobs.locations import Partition, split_s3
from anomd.model_store import storage_errors
from anomd.settings import Settings
from anomd.storage import Storage

#: Parquet files end with the footer's length (4 bytes, little-endian) and this magic.
PARQUET_MAGIC = b"PAR1"
#: Bytes read from the end of a Parquet file at first: most footers fit, larger ones take a
#: second ranged read of exactly their size.
FOOTER_PROBE = 64 * 1024
#: Bytes read from the start of a CSV file to find its header line.
HEADER_PROBE = 64 * 1024
#: Bytes of one cell of a variable-width column once decoded: polars keeps a 16-byte view per
#: string (short ones inline), characters of longer ones in shared buffers.
VIEW = 16
#: Decoded out-of-line bytes of a Parquet file's text columns, as a multiple of the file's
#: size. Not a bound (a compressed column can decode to anything), but dictionary-encoded
#: columns decode to one shared copy of each distinct value, and Parquet's codecs seldom
#: compress text of unique values more than this.
TEXT_EXPANSION = 5
#: Bytes of a piece of a split file per row besides its features: the group key's view.
GROUP_KEY = VIEW


class FileShape(msgspec.Struct, frozen=True, kw_only=True):
    """What an input file will be once read, known from its metadata alone.

    Attributes:
        uri: The file (what messages name).
        rows: Its rows: exact for Parquet, an upper bound for CSV (``exact`` says which).
        exact: Whether ``rows`` is the file's own count.
        columns: Its column names.
        numeric: The columns that may be features (every column of a CSV file: any of them
            may parse as numbers).
        file_bytes: The file's size: the bytes a task holds while it parses the file (the
            downloaded object of an S3 input, the mapped pages of a local one).
        frame_bytes: The decoded table's memory.
    """

    uri: str
    rows: int
    exact: bool
    columns: list[str]
    numeric: list[str]
    file_bytes: int
    frame_bytes: int

    def width(self, columns: Sequence[str] | None, exclude: Sequence[str] = ()) -> int:
        """Features a task takes from the file: ``columns``, or every numeric column but
        ``exclude`` (as :func:`anomd.frames.numeric_columns` picks them)."""
        if columns is not None:
            return max(1, len(columns))
        return max(1, len([c for c in self.numeric if c not in exclude]))

    def rows_text(self) -> str:
        return f"{self.rows:,} rows" if self.exact else f"up to {self.rows:,} rows"


class TaskLimit(msgspec.Struct, frozen=True, kw_only=True):
    """The most working memory one task may need.

    Attributes:
        setting_bytes: ``max_request_memory_mb`` in effect (its default resolved on the worker).
        worker_bytes: The Dask worker's memory limit; None when Dask sets none (or the check
            runs outside a worker).
    """

    setting_bytes: int
    worker_bytes: int | None = None

    @property
    def bytes(self) -> int:
        if self.worker_bytes is None:
            return self.setting_bytes
        return min(self.setting_bytes, self.worker_bytes)

    @property
    def by_worker(self) -> bool:
        return self.worker_bytes is not None and self.worker_bytes < self.setting_bytes

    def describe(self) -> str:
        if self.by_worker:
            return (f"the Dask worker's memory limit of {_mb(self.bytes)} (below "
                    f"{SETTING}, {_mb(self.setting_bytes)})")
        return f"the job's limit of {_mb(self.bytes)} ({SETTING})"


def task_limit(settings: Settings) -> TaskLimit:
    """The limit for a task running now: the setting, capped by this worker's memory limit."""
    setting = admission.limit_mb(settings.max_request_memory_mb) * MB
    return TaskLimit(setting_bytes=setting, worker_bytes=worker_memory_limit())


def worker_memory_limit() -> int | None:
    """The memory limit of the Dask worker running this task; None outside a worker or when
    the worker has none (``--memory-limit 0``)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a task (or no Dask at all)
        return None
    limit = getattr(getattr(worker, "memory_manager", None), "memory_limit", None)
    return int(limit) if limit else None


def _mb(size: float) -> str:
    return f"{math.ceil(size / MB):,} MB"


def check(estimate: MemoryEstimate, limit: TaskLimit, subject: str, doing: str,
          advice: str) -> None:
    """Refuses a task whose estimate is over ``limit``.

    Args:
        subject: The file or group, first in the message.
        doing: What the task would do, e.g. ``scoring 2,000 rows × 3 features with 'ecod'``.
        advice: What to change, besides the setting.

    Raises:
        TooLarge: Naming ``subject``, the estimate, the limit and the setting.
    """
    if estimate.total <= limit.bytes:
        return
    largest = sorted(estimate.parts.items(), key=lambda kv: -kv[1])[:3]
    detail = ", ".join(f"{name} {_mb(size)}" for name, size in largest if size)
    # Over the worker's own limit, a larger setting would not help.
    remedy = "give the workers more memory" if limit.by_worker else f"raise {SETTING}"
    raise TooLarge(
        f"{subject}: {doing} needs an estimated {_mb(estimate.total)} of working memory "
        f"(largest parts: {detail}), over {limit.describe()}; {advice}, or {remedy}"
    )


# -- what a file holds ---------------------------------------------------------------------------


class _File:
    """Ranged reads of an input file, and its size now (it may have changed since the listing)."""

    def __init__(self, part: Partition, bucket: Callable[[str], Storage]) -> None:
        self.uri = part.uri
        self.s3 = part.uri.startswith("s3://")
        if self.s3:
            name, self.key = split_s3(part.uri)
            self.store = bucket(name)

    def size(self) -> int:
        if not self.s3:
            return Path(self.uri).stat().st_size
        with storage_errors(f"reading {self.uri}"):
            info = self.store.head(self.key)
        if info is None:
            raise KeyError(self.key)
        return info.size

    def read(self, start: int, length: int) -> bytes:
        if self.s3:
            with storage_errors(f"reading {self.uri}"):
                return self.store.get_range(self.key, start, length)
        with Path(self.uri).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)


def measure(part: Partition, bucket: Callable[[str], Storage]) -> FileShape:
    """The shape of ``part`` from its metadata (Parquet footer, CSV header and size); reads at
    most a few ranged slices of the file, never its data.

    Raises:
        InvalidInput: The file vanished or its metadata cannot be parsed; the message is the
            one reading it would give.
    """
    with reading(part):
        source = _File(part, bucket)
        if part.format == "parquet":
            return _parquet_shape(part.uri, source)
        return _csv_shape(part.uri, source)


def _parquet_shape(uri: str, source: _File) -> FileShape:
    size, read = source.size(), source.read
    if size < 12:
        raise OSError("too short to be a Parquet file")
    tail = read(max(0, size - FOOTER_PROBE), min(size, FOOTER_PROBE))
    if tail[-4:] != PARQUET_MAGIC:
        raise OSError("no Parquet footer (the file does not end with PAR1)")
    footer = int.from_bytes(tail[-8:-4], "little")
    if footer + 12 > size:
        raise OSError(f"footer of {footer:,} bytes in a file of {size:,}")
    if footer + 8 > len(tail):
        tail = read(size - footer - 8, footer + 8)
    # The footer alone, after the leading magic, is a file polars can take metadata from:
    # nothing before the footer is read for the schema or the row count.
    metadata = io.BytesIO(PARQUET_MAGIC + tail[-(footer + 8):])
    scan = pl.scan_parquet(metadata)
    schema = scan.collect_schema()
    rows = int(scan.select(pl.len()).collect().item())
    frame = 0
    text = False
    for dtype in schema.values():
        cell, variable = _cell(dtype)
        frame += rows * cell + (rows + 7) // 8  # the values and their validity bitmap
        text = text or variable
    if text:
        frame += TEXT_EXPANSION * size
    return FileShape(uri=uri, rows=rows, exact=True, columns=list(schema),
                     numeric=[n for n, t in schema.items() if t.is_numeric()],
                     file_bytes=size, frame_bytes=frame)


def _cell(dtype: pl.DataType) -> tuple[int, bool]:
    """Bytes of one decoded cell of ``dtype``, and whether it has out-of-line data too."""
    if dtype == pl.Boolean:
        return 1, False
    if dtype == pl.Null:
        return 0, False
    if dtype in (pl.Int128, pl.UInt128) or isinstance(dtype, pl.Decimal):
        return 16, False
    if dtype.is_numeric() or dtype.is_temporal():
        return 8, False  # 8 for the widest; narrower types are rare in feature files
    return VIEW, True  # strings, binary, categoricals, nested types


def _csv_shape(uri: str, source: _File) -> FileShape:
    size, read = source.size(), source.read
    head = read(0, min(size, HEADER_PROBE))
    line, newline, _ = head.partition(b"\n")
    if newline:
        header = line.rstrip(b"\r").decode("utf-8", "replace")
        columns = next(csv.reader([header]), []) or [""]
        body = size - len(line) - 1
    else:  # no line break in the probe: count every byte as a row of one column
        columns, body = [""], size
    count = len(columns)
    rows = max(0, body) // count + 1
    # Each cell is at most a 16-byte view (numbers take 8) and its validity bit; the characters
    # of strings come from the file, so all of them together are at most its size.
    frame = rows * count * VIEW + count * ((rows + 7) // 8) + size
    return FileShape(uri=uri, rows=rows, exact=False, columns=columns, numeric=columns,
                     file_bytes=size, frame_bytes=frame)


# -- estimates per task --------------------------------------------------------------------------


def _relabel(estimate: MemoryEstimate, labels: dict[str, str], **extra: int) -> MemoryEstimate:
    """``estimate`` with its parts named for a job (a request's "body" is a job's file) and
    ``extra`` parts added."""
    parts = {labels.get(name, name): size for name, size in estimate.parts.items()}
    parts.update({name.replace("_", " "): size for name, size in extra.items()})
    return msgspec.structs.replace(estimate, parts=parts)


def _result_bytes(rows: int) -> int:
    """The three result columns of an output file (score, raw score, flag) and the arrays they
    are built from."""
    return rows * (4 * CELL + 2)


def score_estimate(spec: DetectorSpec, params: Any, shape: FileShape, rows: int, width: int,
                   trained_rows: int, whole_file: bool = True) -> MemoryEstimate:
    """Scoring ``rows`` rows of the file (all of them, or one group's) with a model of
    ``width`` features fitted on ``trained_rows`` rows.

    The table is alive throughout, next to the matrix and the backend's scoring; then the
    output is the kept columns (shared with the table) plus the results, serialised once more
    into the Parquet bytes written (at most the table's size and the results).
    """
    held = shape.file_bytes if whole_file else _result_bytes(shape.rows)
    estimate = admission.estimate_score(
        spec, params, RowsShape(rows=rows, width=width, decoded_bytes=shape.frame_bytes),
        trained_rows, body_bytes=held)
    labels = {"body": "file" if whole_file else "results", "decoded rows": "table"}
    if not whole_file:
        return _relabel(estimate, labels)
    return _relabel(estimate, labels,
                    output_file=shape.frame_bytes + 2 * _result_bytes(shape.rows))


def read_estimate(shape: FileShape, width: int) -> MemoryEstimate:
    """Reading the file and building its feature matrix: what a grouped score task holds
    before it knows the groups and their models (each group is checked again before it is
    scored)."""
    parts = {"file": shape.file_bytes, "table": shape.frame_bytes,
             "matrix": shape.rows * width * (CELL + 2),
             "output file": shape.frame_bytes + 2 * _result_bytes(shape.rows)}
    return MemoryEstimate(operation="read", backend="", rows=shape.rows, features=width,
                          parts=parts)


def split_estimate(shape: FileShape, width: int) -> MemoryEstimate:
    """Splitting the file by group: its table, the feature matrix, the table of features and
    group keys made from it, and its copy cut into bucket pieces."""
    rows = shape.rows
    piece = rows * (width * CELL + GROUP_KEY)
    parts = {"file": shape.file_bytes, "table": shape.frame_bytes,
             "matrix": rows * width * (CELL + 2), "pieces": 2 * piece}
    return MemoryEstimate(operation="split", backend="", rows=rows, features=width, parts=parts)


def piece_bytes(group: str, rows: int, width: int) -> int:
    """Memory of one group's rows in a bucket: the features and the group key (names longer
    than a view holds inline take their bytes besides)."""
    name = len(group.encode("utf-8", "surrogatepass"))
    return rows * (width * CELL + GROUP_KEY + (name if name > 12 else 0))


def group_fit_estimate(spec: DetectorSpec, params: Any, rows: int, width: int,
                       bucket_bytes: int, store: bool) -> MemoryEstimate:
    """Fitting one group of ``rows`` rows in a bucket task that holds ``bucket_bytes`` of
    pieces (twice: as received, and cut by group) and, with ``store``, saving its model."""
    estimate = admission.estimate_fit(
        spec, params, RowsShape(rows=rows, width=width, decoded_bytes=0),
        body_bytes=2 * bucket_bytes, save=store)
    return _relabel(estimate, {"body": "bucket pieces"})


def bucket_of(group: str, buckets: int) -> int:
    """The bucket a group's rows go to: a stable hash, the same on every worker."""
    return zlib.crc32(group.encode("utf-8", "surrogatepass")) % buckets
