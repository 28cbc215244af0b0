"""Shared fixtures: a real anomd server on 127.0.0.1 and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from helpers import REQUIRE_ALL_BACKENDS  # noqa: F401 - re-exported for tests

from anomd.testing import ServerProcess, start_server


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
    """300 Gaussian rows in 4-D with 6 scattered far outliers at the start; (X, outlier mask).

    The outliers point in different random directions at radius 7, so they do not form a
    cluster of their own (which neighbour methods would rightly treat as normal).
    """
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4))
    directions = rng.normal(size=(6, 4))
    X[:6] = 7.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    mask = np.zeros(300, dtype=bool)
    mask[:6] = True
    return X, mask
