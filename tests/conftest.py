"""Shared fixtures: a real anomd server on 127.0.0.1 and an HTTP client for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from anomd.testing import ServerProcess, start_server

#: Set by .ci/run: every backend (torch, suod included) must be installed and really run.
REQUIRE_ALL_BACKENDS = os.environ.get("ANOMD_TEST_REQUIRE_ALL_BACKENDS") == "1"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.api, timeout=300) as client:
        yield client


@pytest.fixture(scope="session")
def planted() -> tuple[np.ndarray, np.ndarray]:
    """300 Gaussian rows in 4-D with 6 far outliers at the start; returns (X, outlier mask)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    X[:6] = rng.normal(size=(6, 4)) * 0.5 + np.array([7.0, -7.0, 7.0, -7.0])
    mask = np.zeros(300, dtype=bool)
    mask[:6] = True
    return X, mask
