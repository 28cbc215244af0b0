"""Fitted models in storage, with an in-memory cache that notices changes by other processes.

A model is persisted the moment it is fitted. Scoring looks the artifact up by filename; the
cached copy is used only while the stored object's version token is unchanged, so a refit made
by another server process sharing the store is picked up on the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from anomd.artifacts import HEADER_PROBE, ArtifactCodec, Manifest
from anomd.errors import AnomdError, ArtifactRejected, NotFound, StorageUnavailable, TooLarge
from anomd.model import FittedModel
from anomd.names import MODELS_PREFIX, SUFFIX, model_key
from anomd.storage import ObjectInfo, Storage


class ModelRow(msgspec.Struct, kw_only=True):
    """One stored model in a listing (``GET /models``); an unreadable artifact has ``error``."""

    name: str | None
    backend: str | None
    filename: str
    size_bytes: int
    created: str | None
    description: str | None | UnsetType = UNSET
    samples_fitted: int | UnsetType = UNSET
    input_dim: int | UnsetType = UNSET
    error: Annotated[str, msgspec.Meta(
        description="Why the artifact could not be read (the other fields are then null).",
    )] | UnsetType = UNSET


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turns a backend's I/O failure into a 503 that says what was being done."""
    try:
        yield
    except (AnomdError, KeyError):
        raise
    except Exception as exc:
        raise StorageUnavailable(f"storage failed while {action}: {type(exc).__name__}: {exc}") from exc


def check_belongs(manifest: Manifest, filename: str) -> None:
    """Refuses a validly signed artifact stored under another model's filename.

    The signature proves who made an artifact, not where it belongs: without this check anyone
    who can write to the store could copy model A's artifact over model B and have B score with
    A. The signed manifest names its model, so a moved artifact is caught before unpickling.
    """
    expected = f"{manifest.info.name}_{manifest.info.backend}{SUFFIX}"
    if expected != filename:
        raise ArtifactRejected(
            f"model {filename!r}: the artifact belongs to {expected!r} (copied or moved in "
            "storage); it was not loaded. Refit the model or delete it."
        )


class ModelStore:
    """Saves, loads, lists and deletes model artifacts in one :class:`Storage`.

    Args:
        storage: Where artifacts live.
        codec: Signs and verifies artifacts.
        cache_size: How many decoded models to keep in memory.
        max_artifact_bytes: Largest artifact :meth:`save` stores; None for no limit.
    """

    def __init__(self, storage: Storage, codec: ArtifactCodec, cache_size: int = 64,
                 max_artifact_bytes: int | None = None) -> None:
        self.storage = storage
        self.codec = codec
        self.cache_size = cache_size
        self.max_artifact_bytes = max_artifact_bytes
        self._cache: OrderedDict[str, tuple[str, FittedModel]] = OrderedDict()
        self._lock = threading.Lock()
        #: Lookups answered from memory and lookups that had to read and decode the artifact.
        self.cache_hits = 0
        self.cache_misses = 0

    def save(self, model: FittedModel, filename: str) -> tuple[ObjectInfo, Manifest]:
        """Stores the model; refuses (before writing anything) an artifact over the limit."""
        blob, manifest = self.codec.encode(model)
        if self.max_artifact_bytes is not None and len(blob) > self.max_artifact_bytes:
            raise TooLarge(
                f"model {filename!r}: its artifact would be {len(blob):,} bytes, over this "
                f"server's limit of {self.max_artifact_bytes:,} (max_artifact_bytes); nothing "
                "was stored. Fit on fewer rows, or pick a backend with a smaller model "
                "(GET /v1/ml/anomaly/backends lists each one's memory use)."
            )
        with storage_errors(f"saving {filename}"):
            info = self.storage.put(model_key(filename), blob)
        self._remember(filename, info.version, model)
        return info, manifest

    def location(self, filename: str) -> str:
        return self.storage.location(model_key(filename))

    def exists(self, filename: str) -> bool:
        with storage_errors(f"looking up {filename}"):
            return self.storage.exists(model_key(filename))

    def get(self, filename: str) -> FittedModel:
        """Returns the model, from memory if the stored version is unchanged."""
        key = model_key(filename)
        with storage_errors(f"looking up {filename}"):
            info = self.storage.head(key)
        if info is None:
            self.forget(filename)
            raise NotFound(f"model {filename!r} not found; fit it first (POST /v1/ml/anomaly/fit)")
        with self._lock:
            cached = self._cache.get(filename)
            if cached is not None and cached[0] == info.version:
                self._cache.move_to_end(filename)
                self.cache_hits += 1
                return cached[1]
            self.cache_misses += 1
        try:
            with storage_errors(f"reading {filename}"):
                blob = self.storage.get(key)
        except KeyError:
            raise NotFound(f"model {filename!r} not found") from None
        try:
            check_belongs(self.codec.read_manifest(blob, filename)[0], filename)
        except IndexError:
            raise ArtifactRejected(f"model {filename!r}: artifact is truncated") from None
        model = self.codec.decode(blob, filename)
        self._remember(filename, info.version, model)
        return model

    def manifest(self, filename: str) -> tuple[Manifest, ObjectInfo]:
        """Reads and verifies only the manifest (no unpickling, usually no payload read)."""
        key = model_key(filename)
        with storage_errors(f"reading {filename}"):
            info = self.storage.head(key)
            if info is None:
                raise NotFound(f"model {filename!r} not found")
            try:
                head = self.storage.get_range(key, 0, HEADER_PROBE)
                try:
                    manifest, _ = self.codec.read_manifest(head, filename)
                except IndexError as short:
                    head = self.storage.get_range(key, 0, int(str(short.args[0])))
                    manifest, _ = self.codec.read_manifest(head, filename)
            except KeyError:
                raise NotFound(f"model {filename!r} not found") from None
        check_belongs(manifest, filename)
        return manifest, info

    def list(self) -> list[ModelRow]:
        """Summaries of every stored model; unreadable artifacts are listed with an error."""
        with storage_errors("listing models"):
            objects = [o for o in self.storage.list(MODELS_PREFIX) if o.key.endswith(SUFFIX)]
        rows = []
        for obj in objects:
            filename = obj.key.removeprefix(MODELS_PREFIX)
            try:
                manifest, _ = self.manifest(filename)
            except NotFound:
                continue  # deleted between list and read
            except AnomdError as exc:
                rows.append(ModelRow(name=None, backend=None, filename=filename, size_bytes=obj.size,
                                     created=None, error=exc.detail))
                continue
            info = manifest.info
            rows.append(ModelRow(
                name=info.name, backend=info.backend, filename=filename, size_bytes=obj.size,
                created=info.created, description=info.description,
                samples_fitted=info.samples_fitted, input_dim=info.input_dim,
            ))
        return rows

    def named(self, name: str) -> list[tuple[str, str]]:
        """``(filename, backend)`` of every stored model called ``name``, sorted.

        Filenames are ``<name>_<backend>.joblib`` and both parts may contain ``_``, so the
        candidates the prefix finds are confirmed by their signed manifests (a header read
        each; usually one or two).

        Raises:
            ArtifactRejected: No candidate is confirmed and one failed its integrity check (a
                store shared with another signing key, a tampered file): that is the answer.
        """
        prefix = MODELS_PREFIX + name + "_"
        with storage_errors(f"looking up models named {name}"):
            keys = sorted(o.key for o in self.storage.list(prefix) if o.key.endswith(SUFFIX))
        found, rejected = [], []
        for key in keys:
            filename = key.removeprefix(MODELS_PREFIX)
            try:
                info = self.manifest(filename)[0].info
            except NotFound:
                continue  # deleted meanwhile
            except ArtifactRejected as exc:
                rejected.append(exc)  # whose it is cannot be read: maybe this name's
                continue
            if info.name == name:
                found.append((filename, info.backend))
        if not found and rejected:
            raise rejected[0]  # the one candidate failed its check: say why, not "not found"
        return found

    def delete(self, filename: str) -> bool:
        with storage_errors(f"deleting {filename}"):
            deleted = self.storage.delete(model_key(filename))
        self.forget(filename)
        return deleted

    def cached(self) -> int:
        """How many decoded models are in memory now."""
        return len(self._cache)

    def forget(self, filename: str) -> None:
        with self._lock:
            self._cache.pop(filename, None)

    def _remember(self, filename: str, version: str, model: FittedModel) -> None:
        with self._lock:
            self._cache[filename] = (version, model)
            self._cache.move_to_end(filename)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
