"""Small helpers shared by the HTTP tests."""

from __future__ import annotations

import os
from typing import Any

import httpx
import numpy as np

#: Set by .ci/run: every backend (torch, suod included) must be installed and really run.
REQUIRE_ALL_BACKENDS = os.environ.get("ANOMD_TEST_REQUIRE_ALL_BACKENDS") == "1"
#: Set by .ci/run: tests marked ``@pytest.mark.data(...)`` fail instead of skipping without the data.
REQUIRE_DATA = os.environ.get("ANOMD_TEST_REQUIRE_DATA") == "1"

#: Per-backend params that keep the slow backends quick on test-sized data.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "autoencoder": {"epochs": 30, "hidden_neurons": [8, 4], "dropout_rate": 0.0, "batch_norm": False},
    "suod": {"base_estimators": ["lof", "hbos", "isolation_forest"]},
}

#: Every built-in detector: the twelve from PyOD, and anomd's own ``surprise``.
BACKENDS = (
    "ecod", "hbos", "copod", "isolation_forest", "one_class_svm", "local_outlier_factor", "knn",
    "mcd", "cblof", "suod", "loda", "autoencoder", "surprise",
)


def ok(response: httpx.Response) -> dict[str, Any]:
    """Returns the JSON body, failing with the server's problem detail if not 200."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[:500]}"
    return response.json()


def problem(response: httpx.Response, status: int) -> str:
    """Asserts a problem-details error with ``status`` and returns its ``detail``."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    body = response.json()
    assert body["status"] == status and body["detail"], body
    return body["detail"]


def rows(X: np.ndarray) -> list[list[float]]:
    return X.tolist()


def send(client: httpx.Client, method: str, path: str, body: bytes | None = None,
         content_type: str | None = "application/json") -> httpx.Response:
    """Sends ``body`` byte for byte (no JSON encoding), with ``content_type`` unless None."""
    headers = {} if content_type is None else {"content-type": content_type}
    return client.request(method, path, content=body, headers=headers)
