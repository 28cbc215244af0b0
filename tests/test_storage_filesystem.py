"""The built-in filesystem storage: the shared contract, plus what only files can get wrong
(temporary files, a crash in the middle of a write, keys escaping the data folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomd.storage import Storage
from anomd.testing import StorageContract
from anomd_builtins.storage.filesystem import FilesystemStorage, open_filesystem

KEY = "models/precious_ecod.joblib"


class TestFilesystemStorage(StorageContract):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[Storage]:
        store = FilesystemStorage(tmp_path / "data")
        yield store
        store.close()


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".tmp-")]


def test_puts_leave_no_temporary_files(tmp_path: Path) -> None:
    store = FilesystemStorage(tmp_path)
    for number in range(20):
        store.put(f"models/m{number % 3}.joblib", os.urandom(1000 + number))
    assert _temp_files(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "m0.joblib",
        "m1.joblib",
        "m2.joblib",
    ]


def test_a_failed_write_keeps_the_previous_object_and_cleans_up(
    tmp_path: Path, monkeypatch
) -> None:
    store = FilesystemStorage(tmp_path)
    store.put(KEY, b"good version")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.put(KEY, b"new version that never lands")
    monkeypatch.undo()
    assert store.get(KEY) == b"good version"
    assert _temp_files(tmp_path) == []


_CHILD = """
import sys
from anomd_builtins.storage.filesystem import FilesystemStorage
store = FilesystemStorage(sys.argv[1])
store.put(sys.argv[2], b"N" * (128 * 1024 * 1024))
"""


def test_sigkill_in_the_middle_of_a_put_keeps_the_previous_object(tmp_path: Path) -> None:
    """A separate process writes 128 MB over a good object and is killed with SIGKILL while the
    temporary file is still being written: the good object must be untouched."""
    store = FilesystemStorage(tmp_path)
    good = os.urandom(50_000)
    before = store.put(KEY, good)

    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), KEY])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and child.poll() is None:
            partial = _temp_files(tmp_path)
            if partial and partial[0].stat().st_size > 0:
                break
            time.sleep(0.001)
        assert child.poll() is None, "the writer finished before it could be killed mid-write"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL

    leftovers = _temp_files(tmp_path)
    assert leftovers, "no partial temporary file: the kill did not land mid-write"
    assert store.get(KEY) == good
    assert store.head(KEY) == before
    assert [o.key for o in store.list("models/")] == [KEY], (
        "a temporary file is listed as an object"
    )
    assert store.put(KEY, b"next fit").size == 8  # the store stays usable after the crash


@pytest.mark.parametrize("key", ["../escape.bin", "models/../../escape.bin", "/etc/passwd"])
def test_keys_cannot_escape_the_data_folder(tmp_path: Path, key: str) -> None:
    store = FilesystemStorage(tmp_path / "data")
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"x")
    assert not (tmp_path / "escape.bin").exists()


def test_file_uris_and_plain_paths_open_the_same_folder(tmp_path: Path) -> None:
    by_uri = open_filesystem(tmp_path.as_uri(), {})
    by_path = open_filesystem(str(tmp_path), {})
    by_uri.put("models/x.joblib", b"1")
    assert by_path.get("models/x.joblib") == b"1"
    assert by_uri.describe() == {"backend": "filesystem", "root": str(tmp_path.resolve())}


def test_stale_temporaries_from_crashed_writers_are_removed_on_open(tmp_path) -> None:
    import os
    import time

    from anomd_builtins.storage.filesystem import FilesystemStorage

    models = tmp_path / "models"
    models.mkdir()
    stale, fresh = models / ".tmp-crashed", models / ".tmp-writing-now"
    stale.write_bytes(b"half a model")
    fresh.write_bytes(b"a write in progress")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    store = FilesystemStorage(tmp_path)
    assert not stale.exists(), "debris older than an hour is removed"
    assert fresh.exists(), "a recent temporary may belong to a live writer in another process"
    assert [o.key for o in store.list()] == []
