"""A registry of named things contributed by plugins.

Two plugins claiming the same id is a configuration error that must stop start-up with both
names in the message; a silent "last one wins" would make the served backend depend on
import order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from anomd.errors import PluginError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Registered(Generic[T]):
    """One registry entry: the item and the plugin that registered it."""

    item: T
    plugin: str


class Registry(Generic[T]):
    """Items keyed by id, each remembered with the plugin that registered it.

    Args:
        kind: What the registry holds, for error messages ("detector", "storage backend").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}

    def add(self, key: str, item: T, plugin: str) -> None:
        """Adds an item, refusing a duplicate id.

        Raises:
            PluginError: If ``key`` is already registered; the message names both plugins.
        """
        existing = self._entries.get(key)
        if existing is not None:
            raise PluginError(
                f"{self.kind} id {key!r} is registered twice: by plugin {existing.plugin!r} "
                f"and by plugin {plugin!r}; uninstall or block one of them"
            )
        self._entries[key] = Registered(item, plugin)

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.item

    def entry(self, key: str) -> Registered[T] | None:
        return self._entries.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[tuple[str, Registered[T]]]:
        return sorted(self._entries.items())
