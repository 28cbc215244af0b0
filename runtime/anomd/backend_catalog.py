"""The rules for which backends a client may use, given the plugins and the configuration.

One place for them: the service (behind HTTP and the Python API) and the CLI both call these
functions. The CLI's ``anomd backends`` and ``anomd detect`` need only the plugins and the
operator's allow-list, not a model store (building an :class:`~anomd.service.AnomalyService`
would create a data folder and a signing key in whatever directory the user is in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from anomd.detectors import DetectorSpec
from anomd.errors import BackendDisabled, NotFound
from anomd.plugins import PluginHost
from anomd.settings import Settings

#: The backend used when neither the request nor the configuration names one.
DEFAULT_BACKEND = "ecod"


class BackendRow(msgspec.Struct, kw_only=True):
    """One registered detector (``GET /v1/ml/anomaly/backends``, ``anomd backends``)."""

    backend: str
    name: str
    description: str
    category: str
    speed: str
    memory: str
    best_for: str
    parameters: Annotated[dict[str, Any], msgspec.Meta(description="JSON schema of the backend's params.")]
    available: Annotated[bool, msgspec.Meta(description="Installed and enabled: requests may use it.")]
    plugin: str
    enabled: Annotated[bool, msgspec.Meta(description="Allowed by the operator's enabled_backends.")]
    missing: Annotated[list[str], msgspec.Meta(
        description="Optional dependencies that are not installed.",
    )] | UnsetType = UNSET
    install_hint: str | UnsetType = UNSET


def backend_rows(host: PluginHost, settings: Settings) -> list[BackendRow]:
    """One row per registered detector."""
    enabled = settings.enabled_backends
    rows = []
    for backend_id, entry in host.detectors.entries():
        spec = entry.item
        missing = spec.missing_dependencies()
        allowed = not enabled or backend_id in enabled
        rows.append(BackendRow(
            backend=backend_id, name=spec.name, description=spec.description,
            category=spec.category, speed=spec.speed, memory=spec.memory, best_for=spec.best_for,
            parameters=spec.params_schema(), available=not missing and allowed,
            plugin=entry.plugin, enabled=allowed,
            missing=missing if missing else UNSET,
            install_hint=spec.install_hint if missing else UNSET,
        ))
    return rows


def resolve_backend(host: PluginHost, settings: Settings | None, backend: str | None) -> DetectorSpec:
    """The spec for ``backend`` (default: the configured default), refusing it clearly.

    The one place an unknown, disabled or unavailable backend is refused, for the server, the
    Python API (``settings`` None: no operator allow-list, default ``ecod``) and the CLI.

    Raises:
        NotFound: No plugin registered that id.
        BackendDisabled: The configuration's ``enabled_backends`` leaves it out.
        BackendUnavailable: An optional dependency is missing (the message says what to install).
    """
    if backend is None:  # "" is not "default"
        backend = settings.default_backend if settings is not None else DEFAULT_BACKEND
    spec = host.detectors.get(backend)
    if spec is None:
        raise NotFound(
            f"unknown backend {backend!r}; available backends: {', '.join(host.detectors)}"
        )
    enabled = settings.enabled_backends if settings is not None else ()
    if enabled and backend not in enabled:
        raise BackendDisabled(
            f"backend {backend!r} is disabled by the configuration; enabled: {', '.join(enabled)}"
        )
    return spec.require_available()


def params_for(settings: Settings, backend: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configured per-backend defaults, overridden key by key by ``params``."""
    return {**settings.backend_defaults.get(backend, {}), **(params or {})}
