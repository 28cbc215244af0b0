"""The filesystem store's temporary files across crashes.

A put writes a ``.tmp-*`` file and renames it into place; a writer killed with SIGKILL in
between leaves the file behind. It must never be listed or read, and it is removed the next
time the store is opened (a server start), however recent, because its writer is known to be
dead. The temporary file of a writer that is still running must survive that same clean-up,
or its rename would fail; neither may a file written from another machine or container, whose
writer cannot be checked from here, be removed before it is an hour old.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from anomd_builtins.storage.filesystem import FilesystemStorage

KEY = "models/precious_ecod.joblib"
SIZE = 128 * 1024 * 1024
_WRITER = """
import sys
from anomd_builtins.storage.filesystem import FilesystemStorage
FilesystemStorage(sys.argv[1]).put(sys.argv[2], bytes([int(sys.argv[3])]) * int(sys.argv[4]))
"""


def start_writer(root: Path, fill: int) -> tuple[subprocess.Popen, Path]:
    """A separate process putting 128 MB over :data:`KEY`; returns it once its temporary file
    has bytes in it (the write is under way: copying and flushing 128 MB takes a while)."""
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), KEY, str(fill), str(SIZE)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        temps = [p for p in (root / "models").glob(".tmp-*") if p.stat().st_size > 0]
        if temps:
            return child, temps[0]
        time.sleep(0.001)
    child.kill()
    raise AssertionError(f"the writer never started writing (exit {child.poll()})")


def test_a_killed_writers_temporary_file_is_removed_when_the_store_is_next_opened(
    tmp_path: Path,
) -> None:
    store = FilesystemStorage(tmp_path)
    store.put(KEY, b"good version")
    child, temp = start_writer(tmp_path, 1)
    child.send_signal(signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    assert temp.exists(), "the kill did not land mid-write"
    # The same debris as if written from another machine or container sharing the folder,
    # by a process with the same (dead) pid: there, that pid may be alive.
    foreign = temp.with_name(f".tmp-000000000000-{child.pid}-copy")
    shutil.copyfile(temp, foreign)
    assert [o.key for o in store.list()] == [KEY]  # never listed

    FilesystemStorage(tmp_path)  # what a restarted server does first
    assert not temp.exists(), "a dead writer's temporary file survived a restart"
    assert foreign.exists(), "a temporary file whose writer cannot be checked was removed"
    assert store.get(KEY) == b"good version"


def test_a_running_writers_temporary_file_is_left_alone(tmp_path: Path) -> None:
    child, temp = start_writer(tmp_path, 2)
    FilesystemStorage(tmp_path)  # another process opening the same folder meanwhile
    still_writing = child.poll() is None
    assert child.wait(60) == 0, "the writer's rename failed: its temporary file was removed"
    assert still_writing, "the write finished before the clean-up ran; nothing was shown"
    assert not temp.exists()
    stored = FilesystemStorage(tmp_path).get(KEY)
    assert len(stored) == SIZE and stored[:1] == stored[-1:] == b"\x02"
