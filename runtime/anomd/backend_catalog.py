"""The rules for which backends a client may use, given the plugins and the configuration.

One place for them: the service (behind HTTP and the Python API) and the CLI both call these
functions. The CLI's ``anomd backends`` and ``anomd detect`` need only the plugins and the
operator's allow-list, not a model store (building an :class:`~anomd.service.AnomalyService`
would create a data folder and a signing key in whatever directory the user is in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anomd.detectors import DetectorSpec
from anomd.errors import BackendDisabled, NotFound
from anomd.plugins import PluginHost
from anomd.settings import Settings


def backend_rows(host: PluginHost, settings: Settings) -> list[dict[str, Any]]:
    """One row per registered detector, with the fields of ``GET /v1/ml/anomaly/backends``."""
    enabled = settings.enabled_backends
    rows = []
    for backend_id, entry in host.detectors.entries():
        spec = entry.item
        missing = spec.missing_dependencies()
        allowed = not enabled or backend_id in enabled
        row: dict[str, Any] = {
            "backend": backend_id,
            "name": spec.name,
            "description": spec.description,
            "category": spec.category,
            "speed": spec.speed,
            "memory": spec.memory,
            "best_for": spec.best_for,
            "parameters": spec.params_schema(),
            "available": not missing and allowed,
            "plugin": entry.plugin,
            "enabled": allowed,
        }
        if missing:
            row["missing"] = missing
            row["install_hint"] = spec.install_hint
        rows.append(row)
    return rows


def resolve_backend(host: PluginHost, settings: Settings, backend: str | None) -> DetectorSpec:
    """The spec for ``backend`` (default: the configured default), refusing it clearly.

    Raises:
        NotFound: No plugin registered that id.
        BackendDisabled: The configuration's ``enabled_backends`` leaves it out.
        BackendUnavailable: An optional dependency is missing (the message says what to install).
    """
    backend = settings.default_backend if backend is None else backend  # "" is not "default"
    spec = host.detectors.get(backend)
    if spec is None:
        raise NotFound(
            f"unknown backend {backend!r}; available backends: {', '.join(host.detectors)}"
        )
    enabled = settings.enabled_backends
    if enabled and backend not in enabled:
        raise BackendDisabled(
            f"backend {backend!r} is disabled by the configuration; enabled: {', '.join(enabled)}"
        )
    return spec.require_available()


def params_for(settings: Settings, backend: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configured per-backend defaults, overridden key by key by ``params``."""
    return {**settings.backend_defaults.get(backend, {}), **(params or {})}
