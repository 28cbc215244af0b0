"""Shared fixtures: a real anomd server on 127.0.0.1 and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from anomd_s3.testing import LocalS3, local_s3
from benchmarks.common import DATA_DIR
from helpers import REQUIRE_ALL_BACKENDS, REQUIRE_DATA  # noqa: F401 - re-exported for tests
from storage_backends import StorageBackend, StoreUnderTest, selected_backends

from anomd.jobs.cluster import Cluster
from anomd.testing import ServerProcess, start_server
from anomd_builtins.storage.filesystem import FilesystemStorage


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``@pytest.mark.data("odds")`` need that folder of the labelled data.

    Without it they skip, saying how to get it, so a bare clone runs green; CI sets
    ``ANOMD_TEST_REQUIRE_DATA=1``, which turns the skip into a failure.
    """
    for marker in item.iter_markers("data"):
        folder = DATA_DIR / marker.args[0]
        if not folder.is_dir():
            message = (
                f"needs the labelled benchmark data at {folder}: put the data folder beside the "
                "repository as ../shared/data, or point ANOMD_BENCH_DATA at it "
                "(docs/development.md, 'Benchmark data')"
            )
            if REQUIRE_DATA:
                pytest.fail(f"ANOMD_TEST_REQUIRE_DATA=1 and the test {message}", pytrace=False)
            pytest.skip(message)


@pytest.fixture(scope="session")
def local_s3_endpoint() -> Iterator[LocalS3]:
    """A real S3 endpoint on 127.0.0.1 (moto's threaded server), started on first use."""
    with local_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session", params=selected_backends())
def storage_backend(request: pytest.FixtureRequest) -> StorageBackend:
    """Parametrises every test that (indirectly) uses it over the filesystem and S3 backends."""
    if request.param == "filesystem":
        return StorageBackend("filesystem")
    s3: LocalS3 = request.getfixturevalue("local_s3_endpoint")
    return StorageBackend("s3", s3.env(), s3.options(), s3.create_bucket())


@pytest.fixture(scope="session")
def server_data_dir(
    storage_backend: StorageBackend, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return tmp_path_factory.mktemp(f"server-{storage_backend.name}")


@pytest.fixture(scope="session")
def server_store(storage_backend: StorageBackend, server_data_dir: Path) -> StoreUnderTest:
    """The store the session server uses, reachable from tests (to inspect or tamper)."""
    if storage_backend.name == "filesystem":  # the default: models in the data folder
        uri = server_data_dir.as_uri()
        return StoreUnderTest({}, lambda: FilesystemStorage(server_data_dir), uri)
    return storage_backend.new_store(server_data_dir)


@pytest.fixture(scope="session")
def server(server_store: StoreUnderTest, server_data_dir: Path) -> Iterator[ServerProcess]:
    """One real server per storage backend; tests using it (or ``api``) run on both."""
    srv = start_server(server_data_dir, env=server_store.env)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_server_env() -> dict[str, str]:
    """``ANOMD_*`` settings of ``module_server``; a test module overrides this fixture to start
    its server with its own limits."""
    return {}


@pytest.fixture(scope="module")
def module_server(
    tmp_path_factory: pytest.TempPathFactory, module_server_env: dict[str, str]
) -> Iterator[ServerProcess]:
    """A filesystem server of the test module's own, for tests that need to know its state."""
    srv = start_server(tmp_path_factory.mktemp("module-server"), env=module_server_env)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_api(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=module_server.api, timeout=300) as client:
        yield client


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


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Cluster]:
    """A real Dask LocalCluster: two worker processes on 127.0.0.1, shared by the jobs tests
    (starting one, and importing the detectors in its workers, takes seconds)."""
    cluster = Cluster(workers=2)
    cluster.client()
    yield cluster
    cluster.close()
