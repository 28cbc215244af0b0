"""What a Dask worker process keeps between a job's tasks, and the signing key it trusts.

Each task carries a :class:`JobContext`: the job's id and anomd's settings, less the artifact
signing key, which never travels with a task (Dask's messages are not encrypted unless the
cluster is set up with TLS). A worker finds the key itself, as a server would: in its
``ANOMD_SECRET_KEY`` or in the key file of the (shared) data folder. With it the worker opens the
model store and verifies every model it loads, so a job never scores with a model the client
sent or a store it cannot vouch for.

Plugins, the model store (with its cache of decoded models) and the stores of input and output
locations are built once per worker process and settings, then reused by every task.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from anomd.artifacts import ArtifactCodec
from anomd.backend_catalog import resolve_backend
from anomd.detectors import DetectorSpec
from anomd.errors import InvalidInput, NotFound
from anomd.jobs.locations import open_bucket, open_location
from anomd.jobs.store import JobStore
from anomd.model import FittedModel
from anomd.model_locks import ModelLocks
from anomd.model_store import ModelStore
from anomd.names import model_filename
from anomd.plugins import PluginHost
from anomd.settings import Settings
from anomd.signing_key import KEY_FILE
from anomd.storage import Storage
from anomd.storage_config import open_storage


class JobContext(msgspec.Struct, frozen=True):
    """Sent with every task: which job, and the settings to open anomd's store with."""

    job_id: str
    settings: Settings
    #: Options for ``s3://`` inputs and outputs (``job_storage_options`` or ``storage_options``).
    data_options: dict[str, Any]


def job_context(job_id: str, settings: Settings) -> JobContext:
    """The context for ``settings``: the key left out, every path made absolute."""
    data_dir = str(Path(settings.data_dir).expanduser().resolve())
    shipped = msgspec.structs.replace(
        settings, secret_key="", data_dir=data_dir, storage=settings.storage_uri())
    options = settings.job_storage_options or settings.storage_options
    return JobContext(job_id=job_id, settings=shipped, data_options=dict(options))


def worker_signing_key(settings: Settings, env: Mapping[str, str] | None = None) -> bytes:
    """The artifact key on this worker; never generated here (a new key would sign nothing
    the server made).

    Raises:
        InvalidInput: No key: the message says how to give the workers one.
    """
    env = os.environ if env is None else env
    configured = env.get("ANOMD_SECRET_KEY", "")
    if configured:
        return configured.encode()
    path = Path(settings.data_dir) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        raise InvalidInput(
            f"the Dask worker on {socket.gethostname()} has no artifact signing key: set "
            "ANOMD_SECRET_KEY on the workers to the key the server uses, or let them read the "
            f"data folder {settings.data_dir} (docs/scaling.md)"
        ) from None


class WorkerRuntime:
    """Plugins and stores of one worker process for one set of settings."""

    def __init__(self, context: JobContext) -> None:
        settings = context.settings
        self.settings = settings
        self.data_options = context.data_options
        self.plugins = PluginHost(strict=settings.strict_plugins, blocked=settings.blocked_plugins)
        self.storage = open_storage(settings.storage_uri(), settings.storage_options, self.plugins.storage)
        codec = ArtifactCodec(worker_signing_key(settings))
        self.models = ModelStore(self.storage, codec, settings.model_cache_size,
                                 settings.max_artifact_bytes)
        self.jobs = JobStore(self.storage)
        self.locks = ModelLocks()
        self._stores: dict[str, Storage] = {}
        self._lock = threading.Lock()

    def cancelled(self, job_id: str) -> bool:
        return self.jobs.cancel_requested(job_id)

    def spec(self, backend: str | None) -> DetectorSpec:
        return resolve_backend(self.plugins, self.settings, backend)

    def stored_model(self, name: str, backend: str | None) -> FittedModel:
        """A stored model, verified by this worker (signature, payload hash, belonging).

        Raises:
            NotFound: No such model.
        """
        filename = model_filename(name, backend or self.settings.default_backend)
        return self.models.get(filename)

    def find_model(self, name: str, backend: str | None) -> FittedModel | None:
        try:
            return self.stored_model(name, backend)
        except NotFound:
            return None

    def save(self, model: FittedModel) -> None:
        filename = model_filename(model.info.name, model.info.backend)
        with self.locks.writing(filename):
            self.models.save(model, filename)

    def bucket(self, name: str) -> Storage:
        return self._store(f"s3://{name}", lambda: open_bucket(name, self.data_options, self.plugins.storage))

    def output(self, uri: str) -> Storage:
        return self._store(uri, lambda: open_location(uri, self.data_options, self.plugins.storage))

    def _store(self, key: str, opener: Any) -> Storage:
        with self._lock:
            store = self._stores.get(key)
            if store is None:
                store = self._stores[key] = opener()
            return store


_RUNTIMES: dict[bytes, WorkerRuntime] = {}
_RUNTIMES_LOCK = threading.Lock()


def runtime(context: JobContext) -> WorkerRuntime:
    """This process's runtime for the context's settings (built on first use)."""
    key = msgspec.json.encode([context.settings, context.data_options])
    with _RUNTIMES_LOCK:
        found = _RUNTIMES.get(key)
        if found is None:
            found = _RUNTIMES[key] = WorkerRuntime(context)
        return found
