"""The S3 plugin keeps the same storage contract as the filesystem, against a real endpoint."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from anomd_s3.storage import open_s3
from anomd_s3.testing import SECRET_ACCESS_KEY, LocalS3

from anomd.storage import Storage
from anomd.testing import StorageContract


class TestS3StorageWithPrefix(StorageContract):
    """Objects under a prefix, the usual deployment (``s3://bucket/anomd``)."""

    secrets = (SECRET_ACCESS_KEY,)

    @pytest.fixture
    def storage(self, s3: LocalS3) -> Iterator[Storage]:
        bucket = s3.create_bucket()
        store = open_s3(f"s3://{bucket}/team/{secrets.token_hex(3)}", s3.options())
        yield store
        store.close()


class TestS3StorageAtBucketRoot(StorageContract):
    """Objects at the top of a bucket (``s3://bucket``)."""

    secrets = (SECRET_ACCESS_KEY,)
    large_size = 5 * 1024 * 1024 + 1  # one byte over obstore's multipart chunk

    @pytest.fixture
    def storage(self, s3: LocalS3) -> Iterator[Storage]:
        store = open_s3(f"s3://{s3.create_bucket()}", s3.options())
        yield store
        store.close()
