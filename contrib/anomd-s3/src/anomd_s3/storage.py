"""The ``s3`` storage plugin: models and checkpoints as objects in an S3-compatible bucket.

Why obstore rather than boto3: obstore is a thin Python layer over the Rust ``object_store``
crate (one wheel of a few MB with no Python dependencies, against boto3 + botocore + s3transfer),
its calls release the GIL so worker threads overlap their I/O, it reads the standard ``AWS_*``
environment variables itself (including ``AWS_ENDPOINT_URL`` and ``AWS_ALLOW_HTTP``), does
ranged GETs and multipart uploads, and works with MinIO, Ceph, R2 and the like. boto3 would only
add weight here: anomd needs six byte-moving calls, not the whole AWS API.

Atomicity comes from S3 itself: an object appears whole when its PUT (or the completion of a
multipart upload) succeeds and never in part, so a crash mid-upload leaves the previous model.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import anomd
from anomd.storage import ObjectInfo, Storage, StorageSpec
from anomd_s3.config import BACKOFF, S3Setup, resolve
from anomd_s3.errors import (
    BucketNotFound,
    S3StorageError,
    is_body_error,
    is_missing_bucket,
    translate,
)

T = TypeVar("T")


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1``: "full jitter", a uniform draw below an
    exponentially growing ceiling (the same parameters as obstore's own retries)."""
    ceiling = min(BACKOFF["max_backoff"].total_seconds(),
                  BACKOFF["init_backoff"].total_seconds() * BACKOFF["base"] ** attempt)
    return random.uniform(0.0, ceiling)


def _version(meta: Mapping[str, Any]) -> str:
    """The ETag (plus the version id on versioned buckets); S3 changes it on every new content."""
    etag = meta.get("e_tag")
    if not etag:  # some S3-compatible stores omit it; fall back to time and size
        return f"{meta['last_modified'].isoformat()}-{meta['size']}"
    version = meta.get("version")
    # "null" is S3's version id for an unversioned object; a multipart PUT reports it while a
    # HEAD of the same object reports none, and both must give the same token.
    return f"{etag}@{version}" if version and version != "null" else etag


class S3Storage(Storage):
    """Objects under ``prefix`` in one bucket.

    Args:
        setup: The resolved configuration (see :func:`anomd_s3.config.resolve`).
    """

    scheme = "s3"

    def __init__(self, setup: S3Setup) -> None:
        import obstore
        from obstore.store import S3Store

        self._obs = obstore
        self.setup = setup
        self.bucket = setup.location.bucket
        self.prefix = setup.location.prefix
        try:
            self._store = S3Store(
                self.bucket,
                prefix=self.prefix or None,
                config=setup.config,
                client_options=setup.client_options,
                retry_config=setup.retry_config,
            )
        except Exception as exc:  # noqa: BLE001 - obstore's config errors are not ValueErrors
            raise ValueError(f"invalid S3 configuration: {str(exc).splitlines()[0]}") from None

    # -- error handling ---------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> S3StorageError:
        return translate(exc, self.bucket, self.setup.endpoint)

    def _confirm_missing(self, key: str) -> ObjectInfo | None:
        """Tells a missing key from a missing bucket after a 404 on HEAD.

        A HEAD response has no body, so S3 cannot say which one is missing; a GET can. This
        costs one extra request, only when an object is absent.
        """
        try:
            result = self._obs.get(self._store, key)
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise self._fail(exc) from None
            return None
        except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
            raise self._fail(exc) from None
        return ObjectInfo(key=key, size=result.meta["size"], version=_version(result.meta))

    # -- the Storage contract ---------------------------------------------------------------

    def put(self, key: str, data: bytes) -> ObjectInfo:
        try:
            result = self._obs.put(self._store, key, data)
        except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
            raise self._fail(exc) from None
        meta = {"e_tag": result.get("e_tag"), "version": result.get("version")}
        if not meta["e_tag"]:
            return self.head(key) or ObjectInfo(key=key, size=len(data), version="")
        return ObjectInfo(key=key, size=len(data), version=_version(meta))

    def get(self, key: str) -> bytes:
        try:
            return bytes(self._obs.get(self._store, key).bytes())
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise self._fail(exc) from None
            raise KeyError(key) from None
        except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
            raise self._fail(exc) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """One ranged GET; past the end it returns what there is, like slicing."""
        if start < 0 or length < 0:
            raise ValueError("start and length must not be negative")
        if length == 0:
            if self.head(key) is None:
                raise KeyError(key)
            return b""
        try:
            return bytes(self._obs.get_range(self._store, key, start=start, length=length))
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise self._fail(exc) from None
            raise KeyError(key) from None
        except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
            # S3 answers 416 for a range starting at or after the end (or any range of an
            # empty object); HEAD tells that case from a real failure without parsing messages.
            info = self.head(key)
            if info is None:
                raise KeyError(key) from None
            if start >= info.size:
                return b""
            raise self._fail(exc) from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            meta = self._obs.head(self._store, key)
        except FileNotFoundError:
            return self._confirm_missing(key)
        except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
            raise self._fail(exc) from None
        return ObjectInfo(key=key, size=meta["size"], version=_version(meta))

    def delete(self, key: str) -> bool:
        # S3 deletes are idempotent and do not say whether anything was there.
        if self.head(key) is None:
            return False

        def remove() -> bool:
            try:
                self._obs.delete(self._store, key)
            except FileNotFoundError:
                return False
            return True

        # A delete is a POST, which obstore does not retry when its answer breaks off; deleting
        # again is harmless (S3 deletes are idempotent), so it is retried here.
        return self._retry_body_errors(remove)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # S3 prefixes are plain string prefixes, but obstore lists whole path segments; list
        # the enclosing "directory" and filter, so "models/fr" finds "models/fraud.joblib".
        # The whole listing is read before anything is yielded, so a retry never repeats rows.
        directory = prefix.rpartition("/")[0]

        def read() -> list[ObjectInfo]:
            return [
                ObjectInfo(key=meta["path"], size=meta["size"], version=_version(meta))
                for chunk in self._obs.list(self._store, directory or None, chunk_size=1000)
                for meta in chunk
                if meta["path"].startswith(prefix)
            ]

        yield from self._retry_body_errors(read)

    def _retry_body_errors(self, call: Callable[[], T]) -> T:
        """``call()``, retried when the answer's body broke off mid-way.

        obstore retries throttling, 5xx and dropped connections itself, and a GET whose body
        breaks off; a listing whose body breaks off it does not. Such a read is retried here,
        as many times and with the same backoff as obstore's own retries (exponential, with
        jitter); any other failure is raised at once.
        """
        retries = int(self.setup.retry_config["max_retries"])
        for attempt in range(retries + 1):
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - any obstore failure becomes a StorageError
                if attempt == retries or not is_body_error(exc):
                    raise self._fail(exc) from None
                time.sleep(backoff_delay(attempt))
        raise AssertionError("unreachable")

    def location(self, key: str) -> str:
        return (
            f"s3://{self.bucket}/{self.prefix}/{key}"
            if self.prefix
            else f"s3://{self.bucket}/{key}"
        )

    def describe(self) -> dict[str, Any]:
        """Bucket, prefix, endpoint, region and where credentials come from; never secrets."""
        return {
            "backend": "s3",
            "uri": self.setup.location.uri,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "endpoint": self.setup.endpoint or "AWS S3 (default endpoint)",
            "region": self.setup.region,
            "credentials": self.setup.credentials,
        }


def open_s3(uri: str, options: Mapping[str, Any]) -> S3Storage:
    """Opens ``s3://bucket[/prefix]``; no request is made until the first read or write, so a
    briefly unreachable endpoint does not stop the server from starting (requests get 503)."""
    return S3Storage(resolve(uri, options))


SPEC = StorageSpec(
    scheme="s3",
    description="S3-compatible object storage (AWS S3, MinIO, Ceph, R2...) via obstore.",
    open=open_s3,
    requires=("obstore",),
    install_hint="pip install 'anomd[s3]' (or pip install anomd-s3)",
)


@anomd.hookimpl
def register_storage(register):
    register(SPEC)


__all__ = ["SPEC", "BucketNotFound", "S3Storage", "S3StorageError", "open_s3"]
