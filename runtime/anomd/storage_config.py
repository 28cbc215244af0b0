"""Opening the configured storage backend from its URI."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from anomd.registry import Registry
from anomd.settings import ConfigError
from anomd.storage import Storage, StorageSpec


def open_storage(uri: str, options: Mapping[str, Any], registry: Registry[StorageSpec]) -> Storage:
    """Finds the plugin for ``uri``'s scheme and opens it.

    Raises:
        ConfigError: Unknown scheme, missing optional dependency, or the plugin refused the URI.
    """
    scheme = urlparse(uri).scheme or "file"
    spec = registry.get(scheme)
    if spec is None:
        known = ", ".join(registry) or "none"
        hint = " (install it with: pip install 'anomd[s3]')" if scheme == "s3" else ""
        raise ConfigError(f"no storage plugin for scheme {scheme!r}{hint}; registered: {known}")
    missing = [name for name in spec.requires if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"storage {scheme!r} needs {', '.join(missing)}: {spec.install_hint}")
    try:
        return spec.open(uri, options)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot open storage {uri!r}: {exc}") from exc
