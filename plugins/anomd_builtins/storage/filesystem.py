"""Filesystem storage, the default: one file per object under a data folder.

Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the
target, so a crash (even ``kill -9``) mid-write leaves the previous object intact.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anomd
from anomd.storage import ObjectInfo, Storage, StorageSpec

_TMP_PREFIX = ".tmp-"
#: A temporary file older than this is debris from a crashed writer (a live write takes
#: seconds), so it is removed when a store is opened.
_STALE_TMP_SECONDS = 3600.0


class FilesystemStorage(Storage):
    """Objects as files below ``root``; keys map to relative paths."""

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Deletes temporary files a killed writer left behind (never listed or read anyway)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for path in self.root.rglob(_TMP_PREFIX + "*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue  # another process removed or renamed it first

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key {key!r} escapes the storage root")
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(key=key, size=st.st_size, version=f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}")

    def put(self, key: str, data: bytes) -> ObjectInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        info = self._info(key, path)
        assert info is not None
        return info

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            with self._path(key).open("rb") as handle:
                handle.seek(start)
                return handle.read(length)
        except FileNotFoundError:
            raise KeyError(key) from None

    def head(self, key: str) -> ObjectInfo | None:
        return self._info(key, self._path(key))

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        for dirpath, _dirs, files in os.walk(base):
            for filename in sorted(files):
                if filename.startswith(_TMP_PREFIX):
                    continue
                path = Path(dirpath) / filename
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    info = self._info(key, path)
                    if info is not None:
                        yield info

    def location(self, key: str) -> str:
        return str(self._path(key))

    def describe(self) -> dict[str, Any]:
        return {"backend": "filesystem", "root": str(self.root)}


def open_filesystem(uri: str, options: Mapping[str, Any]) -> FilesystemStorage:
    """Opens ``file:///abs/path``, ``file://./relative`` or a bare path."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = unquote(parsed.netloc + parsed.path) if parsed.scheme else uri
        return FilesystemStorage(path or options.get("root", ".anomd"))
    raise ValueError(f"not a filesystem URI: {uri!r}")


SPEC = StorageSpec(
    scheme="file",
    description="Files in a local data folder (atomic writes by rename).",
    open=open_filesystem,
)


@anomd.hookimpl
def register_storage(register):
    register(SPEC)
