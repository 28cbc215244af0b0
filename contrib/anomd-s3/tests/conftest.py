"""One real S3 endpoint (moto's threaded server on 127.0.0.1) for the plugin's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from anomd_s3.testing import LocalS3, local_s3


@pytest.fixture(scope="session")
def s3() -> Iterator[LocalS3]:
    with local_s3() as endpoint:
        yield endpoint
