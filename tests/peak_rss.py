"""The peak resident memory of another process during one action, from Linux's own counters.

Writing ``5`` to ``/proc/<pid>/clear_refs`` resets the process's high-water mark (``VmHWM``) to
its current resident size; after the action, ``VmHWM`` is the highest RSS reached meanwhile,
however briefly. Sampling could miss a short peak; this cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: glibc settings for a measured server: large blocks always come from (and go back to) mmap,
#: so memory freed by one request is returned before the next is measured instead of lingering
#: in a heap that the next request would reuse (which would hide part of its peak).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536",
              "MALLOC_ARENA_MAX": "2"}


def _status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def supported() -> bool:
    """Whether this kernel lets us reset the high-water mark (Linux 4.0 and later)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Peak:
    """RSS before an action and the most it grew meanwhile, in bytes."""

    before: int
    growth: int


def measure(pid: int, action: Callable[[], T]) -> tuple[Peak, T]:
    """Runs ``action`` and returns how far process ``pid``'s RSS rose above its level at the
    start, with ``action``'s result."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status(pid)["VmRSS"]
    result = action()
    return Peak(before, max(0, _status(pid)["VmHWM"] - before)), result
