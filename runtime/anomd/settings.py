"""Operator configuration: a TOML file and ``ANOMD_*`` environment variables.

Precedence: built-in defaults < the TOML file (``--config`` or ``ANOMD_CONFIG``) < environment.
Everything is decoded into one msgspec Struct, so a bad value fails at start-up with the key
named rather than at the first request.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class ConfigError(ValueError):
    """The configuration could not be read or has a bad value."""


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything an operator can set. Field names are the TOML keys; the environment variable
    is ``ANOMD_`` + the upper-cased name (lists are comma-separated)."""

    #: Interface the server binds; keep the loopback default unless a proxy or firewall fronts it.
    host: str = "127.0.0.1"
    #: TCP port of the HTTP API.
    port: Port = 8000
    #: Local folder for the default filesystem store and the generated artifact key.
    data_dir: str = ".anomd"
    #: Storage URI: ``file:///path`` or e.g. ``s3://bucket/prefix``; empty means ``data_dir``.
    storage: str = ""
    #: Options passed to the storage plugin (endpoint, region...).
    storage_options: dict[str, Any] = msgspec.field(default_factory=dict)
    #: HMAC key for artifact signatures; generated in ``data_dir`` on first start when empty.
    secret_key: str = ""
    #: Backends clients may use; empty means every registered one.
    enabled_backends: list[str] = msgspec.field(default_factory=list)
    #: Backend used when a request (or ``anomd detect``) names none.
    default_backend: str = "ecod"
    #: Per-backend default ``params``, e.g. ``{isolation_forest = {n_estimators = 200}}``.
    backend_defaults: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    #: Plugin entry-point or distribution names not to load.
    blocked_plugins: list[str] = msgspec.field(default_factory=list)
    #: Fail start-up when any plugin fails to load (use in CI).
    strict_plugins: bool = False
    #: Refuse to start when a start-up check warns, e.g. remote storage signed with a key
    #: generated on this machine (other processes sharing the bucket could not read its models).
    strict_startup: bool = False
    #: API keys allowed everything: fit, load, delete, stream reset and all read routes. Write
    #: the key itself or ``sha256:`` + the hex SHA-256 of it (so the file need not hold it).
    #: With no keys at all the API is open, which is refused off loopback (see below).
    admin_keys: list[str] = msgspec.field(default_factory=list)
    #: API keys allowed only to read: score, detect, stream points, list and inspect.
    read_keys: list[str] = msgspec.field(default_factory=list)
    #: Start on a non-loopback interface with no API keys. Off, such a start is refused:
    #: anyone who can reach the port could fit, overwrite and delete models.
    allow_unauthenticated: bool = False
    #: Browser origins allowed to call the API (CORS), e.g. ``https://dash.example.com``;
    #: empty (the default) sends no CORS headers, so browsers keep other sites out.
    cors_origins: list[str] = msgspec.field(default_factory=list)
    #: Largest request body in bytes (413 above it).
    max_body_bytes: Positive = 100 * 1024 * 1024
    #: Most rows accepted in one batch request (413 above it).
    max_rows: Positive = 1_000_000
    #: Most columns (features) per row in a batch request (413 above it).
    max_columns: Positive = 10_000
    #: Most points in one series sent to the ``/timeseries`` routes (and their Azure-compatible
    #: twins; Azure's own limit was 8,640). Memory and time grow linearly with it.
    series_max_points: Annotated[int, msgspec.Meta(ge=12)] = 50_000
    #: The key (object rows, stream points) or column (files) that holds a row's time. It is
    #: never a feature: it orders the rows of a series and feeds time features.
    timestamp_field: Annotated[str, msgspec.Meta(min_length=1)] = "timestamp"
    #: Longest name for a new model or stream; the API's own ceiling is 128.
    max_name_length: Annotated[int, msgspec.Meta(ge=1, le=128)] = 128
    #: Largest model artifact in bytes; a fit that would store a bigger one is refused (413)
    #: and the previous version stays.
    max_artifact_bytes: Positive = 1024 * 1024 * 1024
    #: Working memory, in MB, that fit, score, detect, explain and stream requests may hold
    #: together; each request's peak is estimated from its rows, width and backend before it
    #: allocates anything. One over the limit on its own gets a 413 naming the estimate; one
    #: that does not fit next to the requests in progress gets a 503 with Retry-After. 0 (the
    #: default) means half of the machine's memory (or of the container's limit). With
    #: ``--workers N`` each process has this budget: divide by N. Dataset jobs admit each task
    #: (a file, a group's fit) against it too, capped by the Dask worker's memory limit.
    max_request_memory_mb: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Decoded models kept in memory.
    model_cache_size: Positive = 64
    #: Threads for fitting and scoring (CPU work never runs on the event loop).
    worker_threads: Positive = 4
    #: Warm numba-compiled backends at start-up so the first request is not slow.
    warm_up: bool = True
    #: Least severe log events written (``info`` includes one line per request).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``console`` for people, ``json`` (one object per line) for log collectors.
    log_format: Literal["console", "json"] = "console"
    #: Most streaming detectors kept in memory; one more evicts the least recently used
    #: (checkpointed to storage first, restored on its next use).
    max_stream_detectors: Positive = 1000
    #: Evict streaming detectors unused for this many seconds (checkpointed first); 0 never.
    stream_idle_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 3600.0
    #: Checkpoint every live streaming detector at shutdown, so a restart continues them.
    stream_checkpoint_on_shutdown: bool = True
    #: Also checkpoint streaming detectors that changed, every this many seconds, so a crash
    #: (no orderly shutdown) loses at most that much; 0 never.
    stream_checkpoint_interval_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    #: Where streaming retrains run: ``thread`` (worker threads, like batch fits) or ``process``
    #: (worker processes: no GIL sharing with scoring, for many cores and slow backends; each
    #: costs a Python process and seconds to start). See docs/streaming.md for measurements.
    stream_retrain_mode: Literal["thread", "process"] = "thread"
    #: Worker processes (or threads) for streaming retrains, shared by all detectors.
    stream_retrain_workers: Positive = 1
    #: The operator dashboard at ``/ui``. ``auto`` serves it on a loopback bind, or anywhere
    #: once API keys are configured (its data then needs a read key); ``on`` also serves it
    #: with ``allow_unauthenticated``; ``off`` never.
    ui: Literal["auto", "on", "off"] = "auto"
    #: Newest points per stream kept in memory for the dashboard's live chart (at most 256
    #: streams, the least recently active dropped first).
    ui_live_points: Annotated[int, msgspec.Meta(ge=100, le=100_000)] = 2000
    #: Dask scheduler that runs jobs (``tcp://host:8786``); empty starts a local cluster on
    #: 127.0.0.1 at the first job. Jobs need the ``dask`` extra; see docs/scaling.md.
    dask_scheduler: str = ""
    #: Worker processes of that local cluster (one thread each); 0 means one per CPU core.
    dask_workers: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Jobs run at once by one server process; later ones wait as ``queued``.
    max_running_jobs: Positive = 2
    #: Options for ``s3://`` inputs and outputs of jobs (endpoint, region, credentials...);
    #: empty means the same as ``storage_options``.
    job_storage_options: dict[str, Any] = msgspec.field(default_factory=dict)
    #: Local folders and ``s3://`` prefixes jobs submitted over HTTP may read and write; empty
    #: allows any the server can reach. Set it when admin keys are shared beyond operators.
    job_roots: list[str] = msgspec.field(default_factory=list)
    #: A running job whose process has not reported for this long is shown as failed (its
    #: process crashed); running jobs report every few seconds.
    job_lost_after_s: Annotated[float, msgspec.Meta(ge=1)] = 60.0

    def storage_uri(self) -> str:
        return self.storage or Path(self.data_dir).expanduser().resolve().as_uri()


_LIST_FIELDS = {"enabled_backends", "blocked_plugins", "admin_keys", "read_keys", "cors_origins",
                "job_roots"}
_JSON_FIELDS = {"storage_options", "backend_defaults", "job_storage_options"}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.__struct_fields__:
        raw = env.get("ANOMD_" + name.upper())
        if raw is None:
            continue
        if name in _LIST_FIELDS:
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif name in _JSON_FIELDS:
            try:
                values[name] = msgspec.json.decode(raw)
            except msgspec.DecodeError as exc:
                raise ConfigError(f"ANOMD_{name.upper()} must be a JSON object: {exc}") from None
        else:
            values[name] = raw
    return values


def load_settings(
    config: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Builds the effective settings.

    Args:
        config: TOML file; defaults to ``$ANOMD_CONFIG`` when set.
        env: Environment to read (defaults to ``os.environ``).
        **overrides: Highest-precedence values (e.g. from CLI flags); ``None`` values are ignored.

    Raises:
        ConfigError: Unreadable file, unknown key or bad value, with the key named.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config or env.get("ANOMD_CONFIG")
    if path:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
    values.update(_from_env(env))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
