"""Reading one input file into a table, writing one output file whole.

Every output file is written with a single ``put`` of the finished Parquet bytes through anomd's
storage plugins: the filesystem store writes a temporary file and renames it, S3 makes an object
visible only once its upload completes. So a reader of the output folder never sees a partial
file, a worker killed mid-write leaves nothing under the real name, and a retry writes the same
name again: outputs are named after their input file, never after the attempt.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import polars as pl

from anomd.errors import InvalidInput
from anomd.jobs.locations import Partition, split_s3
from anomd.model_store import storage_errors
from anomd.storage import Storage

#: A job writes this into its output folder last: which files belong to the finished dataset.
MANIFEST = "_anomd_job.json"


def read_partition(part: Partition, bucket: Callable[[str], Storage]) -> pl.DataFrame:
    """The file as a table; ``bucket(name)`` opens the store of an ``s3://`` input.

    Raises:
        InvalidInput: The file vanished or cannot be parsed; the message names it.
    """
    with reading(part):
        if part.uri.startswith("s3://"):
            name, key = split_s3(part.uri)
            with storage_errors(f"reading {part.uri}"):
                source: str | io.BytesIO = io.BytesIO(bucket(name).get(key))
        else:
            source = part.uri
        return pl.read_parquet(source) if part.format == "parquet" else pl.read_csv(source)


@contextmanager
def reading(part: Partition) -> Iterator[None]:
    """Failures to read ``part`` (its data or its metadata) as errors that name it.

    Raises:
        InvalidInput: The file vanished after the job listed it, or cannot be parsed.
    """
    try:
        yield
    except (KeyError, FileNotFoundError):
        raise InvalidInput(f"input file {part.uri!r} disappeared after the job listed it") from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {part.uri!r} as {part.format.upper()}: {reason}") from None


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def write_whole(store: Storage, key: str, data: bytes) -> None:
    """One atomic ``put``: the file appears complete or not at all."""
    with storage_errors(f"writing {store.location(key)}"):
        store.put(key, data)
