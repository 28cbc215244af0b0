"""The storage plugin interface: a backend moves bytes under string keys, nothing more.

Serialisation, integrity checks and naming live in the core (``anomd.artifacts``,
``anomd.model_store``), so every backend stores exactly the same artifacts and a new backend is
a few small methods. Keys are ``/``-separated relative paths such as
``models/fraud_ecod.joblib``; the core validates them before they reach a backend.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Metadata of one stored object.

    Attributes:
        key: The object's key.
        size: Size in bytes.
        version: A token that changes whenever the object is rewritten (an ETag, or mtime and
            size); lets a process notice that another process replaced a model.
    """

    key: str
    size: int
    version: str


#: A key ``Storage.check`` looks up; nothing is ever stored under it.
READY_PROBE_KEY = "ready-probe"


class Storage(abc.ABC):
    """A byte store. Implementations must make ``put`` atomic: a reader sees the old bytes or
    the new bytes, never a mix, and a crash mid-write leaves the old object in place."""

    #: URI scheme this backend serves (``file``, ``s3``...).
    scheme: str = ""

    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> ObjectInfo:
        """Stores ``data`` under ``key`` atomically, replacing any previous object."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """Returns the object's bytes.

        Raises:
            KeyError: If there is no such object.
        """

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Returns the object's metadata, or None if it does not exist."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Deletes the object; returns whether it existed."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yields every object whose key starts with ``prefix``."""

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Returns ``length`` bytes from ``start`` (backends override to avoid full reads)."""
        return self.get(key)[start : start + length]

    def location(self, key: str) -> str:
        """Where ``key`` lives, for humans (a path or a URI)."""
        return f"{self.scheme}://{key}"

    def check(self) -> None:
        """Raises if the store cannot be reached (``GET /ready`` calls it).

        The default asks for the metadata of a key that need not exist, which for a remote
        store is one round trip through the network, the endpoint and the credentials.
        Backends may override with something more telling.
        """
        self.head(READY_PROBE_KEY)

    def describe(self) -> dict[str, Any]:
        """What ``/health`` shows about this backend (never secrets)."""
        return {"backend": self.scheme}

    def close(self) -> None:
        """Releases connections; called at shutdown."""


@dataclass(frozen=True)
class StorageSpec:
    """A storage backend a plugin offers.

    Attributes:
        scheme: URI scheme selecting the backend in ``ANOMD_STORAGE`` (``file:///data``).
        description: One line for ``anomd plugins``.
        open: ``open(uri, options) -> Storage``; ``options`` come from configuration.
        requires: Optional import names; missing ones make ``open`` refuse with ``install_hint``.
        install_hint: How to install what ``requires`` names.
    """

    scheme: str
    description: str
    open: Callable[[str, Mapping[str, Any]], Storage]
    requires: tuple[str, ...] = ()
    install_hint: str = ""
