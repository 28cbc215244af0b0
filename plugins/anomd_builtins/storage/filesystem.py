"""Filesystem storage, the default: one file per object under a data folder.

Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the
target, so a crash (even ``kill -9``) mid-write leaves the previous object intact.

A crash does leave that temporary file behind. Its name records who wrote it
(``.tmp-<namespace>-<pid>-<random>``), so the next start can tell debris from a write still in
progress in another process sharing the folder, and remove the debris at once instead of an
hour later (see :func:`_is_debris`).
"""

from __future__ import annotations

import functools
import hashlib
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
#: seconds), so it is removed when a store is opened, whoever wrote it.
_STALE_TMP_SECONDS = 3600.0


@functools.cache
def _pid_namespace() -> str | None:
    """Names the space in which this process's pid means something: this boot of this
    machine, this pid namespace (container). None where Linux's ``/proc`` is missing.

    A pid written into a temporary file's name can be checked for liveness only by a process
    in the same namespace; anywhere else the same number is another process or none.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return hashlib.sha256(f"{boot}/{namespace}".encode()).hexdigest()[:12]


def _temp_prefix() -> str:
    """The prefix of this process's temporary files: ``.tmp-<namespace>-<pid>-``."""
    namespace = _pid_namespace()
    return f"{_TMP_PREFIX}{namespace}-{os.getpid()}-" if namespace else _TMP_PREFIX


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (in this process's pid namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _is_debris(path: Path, cutoff: float) -> bool:
    """Whether a temporary file was left by a writer that can no longer finish it.

    Either its writer, a process of our own pid namespace, is gone (a ``kill -9`` a moment
    ago: removed at the next start, however recent), or it is older than any live write takes.
    A file of another namespace (another machine or container sharing the folder) is judged by
    age only: its pid cannot be checked from here. If the pid has been reused meanwhile the
    file is kept, which errs on the safe side: it never removes a file a live write still needs
    to rename.
    """
    parts = path.name[len(_TMP_PREFIX) :].split("-", 2)
    ours = len(parts) == 3 and parts[0] == _pid_namespace() and parts[1].isdigit()
    if ours and not _alive(int(parts[1])):
        return True
    return path.stat().st_mtime < cutoff


class FilesystemStorage(Storage):
    """Objects as files below ``root``; keys map to relative paths."""

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Deletes temporary files a killed writer left behind (never listed or read anyway).

        Without this, every crash in the middle of a write (a checkpoint sweep rewrites files
        continuously) would leave a file as large as the object behind, and a server restarted
        at once after each crash would pile them up.
        """
        cutoff = time.time() - _STALE_TMP_SECONDS
        for path in self.root.rglob(_TMP_PREFIX + "*"):
            try:
                if path.is_file() and _is_debris(path, cutoff):
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
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(), dir=path.parent)
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
