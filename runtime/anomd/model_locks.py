"""Per-model write locks, in bounded memory.

Writes to one model (a fit's save, a delete) take that model's lock, so they happen one after
another and the last one wins cleanly: a delete never interleaves with a save of the same model
and leaves the in-memory cache and the store disagreeing. Reads take no lock at all: a stored
artifact is replaced in one atomic step and a decoded model is never changed in place, so a
score sees either the old model or the new one, whole.

A lock per name ever seen would grow without limit on a server that is sent arbitrary names,
so names share a fixed set of locks (striping); two models that share a stripe only wait for
each other's quick storage write, never for a fit.
"""

from __future__ import annotations

import threading
import zlib
from contextlib import AbstractContextManager

STRIPES = 256


class ModelLocks:
    """A fixed set of locks, chosen by a stable hash of the model's filename."""

    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    def writing(self, filename: str) -> AbstractContextManager[bool]:
        """The lock to hold while saving or deleting ``filename``."""
        return self._locks[zlib.crc32(filename.encode()) % len(self._locks)]
