"""Where a job reads and writes: local paths or ``s3://`` URIs, files, folders and globs.

An input is one file, a folder (the data files directly in it) or a glob whose ``*`` stays in
one folder and whose ``**`` descends, so a hive-style tree is ``s3://b/metrics/**/*.parquet``.
Files whose name (or any folder on the way) starts with ``.`` or ``_`` are skipped, as Spark,
Arrow and Polars skip them (``_SUCCESS``, ``.tmp-`` files of unfinished writes). Each file is
one partition: the unit a worker reads, scores and writes back.

S3 goes through anomd's S3 storage plugin (``anomd-s3``, obstore), the same client and options
as model storage; local files are read in place, never through a store (opening a filesystem
store creates its folder, which an input must not do).
"""

from __future__ import annotations

import glob as globbing
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import msgspec

from anomd.errors import InvalidInput
from anomd.model_store import storage_errors
from anomd.registry import Registry
from anomd.settings import ConfigError
from anomd.storage import Storage, StorageSpec
from anomd.storage_config import open_storage

Format = Literal["csv", "parquet"]
SUFFIXES: Mapping[str, Format] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_GLOB_CHARS = re.compile(r"[*?\[]")


class Partition(msgspec.Struct, frozen=True):
    """One input file.

    Attributes:
        index: Its place in the sorted listing.
        uri: An absolute local path or ``s3://bucket/key``; what error messages name.
        name: Its path below the input's base folder; the output file is named after it.
        size: Bytes.
        format: ``csv`` or ``parquet``, from the suffix.
    """

    index: int
    uri: str
    name: str
    size: int
    format: Format

    @property
    def output_key(self) -> str:
        return str(PurePosixPath(self.name).with_suffix(".parquet"))


@dataclass(frozen=True)
class Location:
    """A parsed input or output: a base (local folder or file, or ``s3://bucket/prefix``) and
    an optional glob below it."""

    scheme: Literal["file", "s3"]
    base: str
    pattern: str | None = None

    @property
    def uri(self) -> str:
        return f"{self.base}/{self.pattern}" if self.pattern else self.base

    @property
    def bucket(self) -> str:
        return urlparse(self.base).netloc

    @property
    def prefix(self) -> str:
        return urlparse(self.base).path.strip("/")


def parse(uri: str, role: str) -> Location:
    """Splits ``uri`` into its base and glob; local paths become absolute.

    Raises:
        InvalidInput: Another scheme, an ``s3://`` URI without a bucket, a glob in an output.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidInput(f"{role} {uri!r} has no bucket; write s3://bucket/prefix")
        parts = [p for p in parsed.path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise InvalidInput(f"{role} {uri!r}: '.' and '..' are not allowed in S3 keys")
        scheme: Literal["file", "s3"] = "s3"
        head = f"s3://{parsed.netloc}"
    elif parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = unquote(parsed.netloc + parsed.path) if parsed.scheme == "file" else uri
        parts = list(Path(os.path.abspath(os.path.expanduser(path))).parts)
        scheme, head = "file", parts.pop(0) if parts else os.sep
    else:
        raise InvalidInput(
            f"{role} {uri!r}: unsupported scheme {parsed.scheme!r}; use a local path or s3://"
        )
    cut = next((i for i, p in enumerate(parts) if _GLOB_CHARS.search(p)), len(parts))
    if cut < len(parts) and role == "output":
        raise InvalidInput(f"output {uri!r} is a pattern; name the folder the files go to")
    base_parts, pattern = parts[:cut], "/".join(parts[cut:]) or None
    if scheme == "s3":
        base = "/".join([head, *base_parts])
    else:
        base = str(Path(head, *base_parts))
    return Location(scheme, base, pattern)


def check_allowed(location: Location, roots: Sequence[str], role: str) -> None:
    """Refuses a location outside every configured root (``job_roots``; empty allows all)."""
    if not roots:
        return
    for root in roots:
        allowed = parse(root, "job_roots entry")
        if allowed.scheme != location.scheme:
            continue
        if allowed.scheme == "file":
            if Path(location.base) == Path(allowed.base) or Path(allowed.base) in Path(location.base).parents:
                return
        elif location.base == allowed.base or location.base.startswith(allowed.base.rstrip("/") + "/"):
            return
    raise InvalidInput(f"{role} {location.uri!r} is outside the folders this server's jobs may use "
                       f"(job_roots: {', '.join(roots)})")


def check_disjoint(source: Location, target: Location) -> None:
    """Refuses an output that a later run of the same job would read as input."""
    if source.scheme != target.scheme:
        return
    inside = target.base == source.base or target.base.startswith(source.base.rstrip("/") + "/")
    if inside and (source.pattern is None or "**" in source.pattern or target.base == source.base):
        raise InvalidInput(
            f"output {target.uri!r} is inside input {source.uri!r}: a second run would read the "
            "first run's output; write it somewhere else"
        )


def _hidden(name: str) -> bool:
    return any(part.startswith((".", "_")) for part in name.split("/"))


def _format(name: str) -> Format | None:
    return SUFFIXES.get(PurePosixPath(name).suffix.lower())


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``/``-aware glob: ``*`` and ``?`` stay within a folder, ``**/`` spans any folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape("["))
                i += 1
                continue
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def list_partitions(
    location: Location, options: Mapping[str, Any], registry: Registry[StorageSpec]
) -> list[Partition]:
    """The input's data files, sorted by path, each with its index.

    Raises:
        InvalidInput: Nothing there, a file of unknown format, or no data files matched; the
            message names the input.
    """
    if location.scheme == "file":
        found = _list_local(location)
    else:
        found = _list_s3(location, options, registry)
    if not found:
        what = f"glob {location.uri!r}" if location.pattern else f"folder {location.uri!r}"
        raise InvalidInput(f"input {what} has no .parquet, .pq or .csv files")
    found.sort()
    return [Partition(index=i, uri=uri, name=name, size=size, format=_format(name) or "parquet")
            for i, (name, uri, size) in enumerate(found)]


def _list_local(location: Location) -> list[tuple[str, str, int]]:
    base = Path(location.base)
    if location.pattern is None:
        if base.is_file():
            if _format(base.name) is None:
                raise InvalidInput(f"input {str(base)!r}: cannot tell its format from the suffix; "
                                   "use .parquet, .pq or .csv")
            return [(base.name, str(base), base.stat().st_size)]
        if not base.is_dir():
            raise InvalidInput(f"input {str(base)!r} does not exist")
        names = [e.name for e in os.scandir(base) if e.is_file()]
    else:
        if not base.is_dir():
            raise InvalidInput(f"input {location.uri!r}: folder {str(base)!r} does not exist")
        names = [n.replace(os.sep, "/") for n in
                 globbing.glob(location.pattern, root_dir=base, recursive=True)]
        names = [n for n in names if (base / n).is_file()]
    return [(n, str(base / n), (base / n).stat().st_size)
            for n in names if not _hidden(n) and _format(n) is not None]


def _list_s3(location: Location, options: Mapping[str, Any],
             registry: Registry[StorageSpec]) -> list[tuple[str, str, int]]:
    store = open_bucket(location.bucket, options, registry)
    prefix = location.prefix
    head = f"s3://{location.bucket}/"
    if location.pattern is None and prefix:
        with storage_errors(f"looking up {location.uri}"):
            single = store.head(prefix)
        if single is not None:
            name = prefix.rpartition("/")[2]
            if _format(name) is None:
                raise InvalidInput(f"input {location.uri!r}: cannot tell its format from the "
                                   "suffix; use .parquet, .pq or .csv")
            return [(name, head + prefix, single.size)]
    folder = prefix + "/" if prefix else ""
    matcher = glob_regex(location.pattern) if location.pattern else None
    with storage_errors(f"listing {location.uri}"):
        objects = list(store.list(folder))
    if not objects and location.pattern is None:
        raise InvalidInput(f"input {location.uri!r} does not exist")
    found = []
    for obj in objects:
        name = obj.key[len(folder):]
        if matcher is None and "/" in name:
            continue
        if matcher is not None and not matcher.fullmatch(name):
            continue
        if not _hidden(name) and _format(name) is not None:
            found.append((name, head + obj.key, obj.size))
    return found


def open_bucket(bucket: str, options: Mapping[str, Any], registry: Registry[StorageSpec]) -> Storage:
    """A store over a whole bucket, through the storage plugin registered for ``s3``."""
    return open_location(f"s3://{bucket}", options, registry)


def open_location(uri: str, options: Mapping[str, Any], registry: Registry[StorageSpec]) -> Storage:
    """``open_storage`` for a job's data, with a job's words on failure."""
    try:
        return open_storage(uri, options, registry)
    except ConfigError as exc:
        raise InvalidInput(str(exc)) from None


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b.parquet`` → ``("bucket", "a/b.parquet")``."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")
