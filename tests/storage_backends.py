"""The storage backends the HTTP tests run against: the filesystem and a real S3 endpoint.

A test that takes the ``storage_backend`` fixture (or ``server``/``api``, which depend on it)
runs once per backend. ``ANOMD_TEST_STORAGE=filesystem`` (or ``s3``) narrows a local run to
one; CI runs both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from anomd.storage import Storage
from anomd_builtins.storage.filesystem import FilesystemStorage

BACKENDS = ("filesystem", "s3")


def selected_backends() -> list[str]:
    wanted = [b.strip() for b in os.environ.get("ANOMD_TEST_STORAGE", "").split(",") if b.strip()]
    unknown = set(wanted) - set(BACKENDS)
    if unknown:
        raise ValueError(
            f"ANOMD_TEST_STORAGE: unknown backend(s) {sorted(unknown)}; use {BACKENDS}"
        )
    return wanted or list(BACKENDS)


@dataclass(frozen=True)
class StoreUnderTest:
    """One store, as a server process sees it and as a test reaches it directly.

    Attributes:
        env: Extra environment for ``start_server`` that selects this store.
        open: Opens the same store in the test process (to inspect or tamper with objects).
        uri: The ``ANOMD_STORAGE`` value.
    """

    env: dict[str, str]
    open: Callable[[], Storage]
    uri: str


@dataclass(frozen=True)
class StorageBackend:
    """Makes isolated stores of one backend.

    Attributes:
        name: ``filesystem`` or ``s3``.
        s3_env: The AWS variables pointing at the local S3 endpoint (s3 only).
        s3_options: The same as ``storage_options`` (s3 only).
        bucket: The session's bucket (s3 only); each store gets its own prefix in it.
    """

    name: str
    s3_env: dict[str, str] = field(default_factory=dict)
    s3_options: dict[str, object] = field(default_factory=dict)
    bucket: str = ""

    def new_store(self, folder: Path) -> StoreUnderTest:
        """A fresh, empty store: a folder below ``folder``, or a new prefix in the bucket."""
        if self.name == "filesystem":
            root = folder / f"store-{secrets.token_hex(3)}"
            root.mkdir(parents=True)
            return StoreUnderTest(
                {"ANOMD_STORAGE": root.as_uri()}, lambda: FilesystemStorage(root), root.as_uri()
            )
        from anomd_s3.storage import open_s3

        uri = f"s3://{self.bucket}/{folder.name}-{secrets.token_hex(3)}"
        return StoreUnderTest(
            {"ANOMD_STORAGE": uri, **self.s3_env}, lambda: open_s3(uri, self.s3_options), uri
        )
