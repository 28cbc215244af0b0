"""Installing a third-party detector package adds a backend with no change to anomd itself.

The example package in ``contrib/anomd-example-detector`` is built and installed (with uv, as a
user would with pip) into a fresh folder that only a server subprocess sees via
``PYTHONPATH``; this test process and the shared virtual environment stay untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import BACKENDS, ok, problem

from anomd.plugins import PluginHost
from anomd.testing import ServerProcess, running_server

PACKAGE = Path(__file__).resolve().parents[1] / "contrib" / "anomd-example-detector"
DISTRIBUTION = "anomd-example-detector"
BACKEND = "robust_zscore"


def package_version() -> str:
    return tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["version"]


def install(target: Path) -> None:
    """``uv pip install --target``: builds the wheel with hatchling, installs code and dist-info.

    ``--refresh-package`` rebuilds from the current sources (uv would otherwise reuse a cached
    build of an unchanged pyproject.toml); ``--no-deps`` because anomd is already there.
    """
    uv = shutil.which("uv")
    assert uv, "this test installs the example package with uv; put uv on PATH (pip install uv)"
    result = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--no-deps",
            "--target",
            str(target),
            "--python",
            sys.executable,
            "--refresh-package",
            DISTRIBUTION,
            str(PACKAGE),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"installing {PACKAGE} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def server_with_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    target = tmp_path_factory.mktemp("site-packages")
    install(target)
    assert (target / "anomd_example_detector" / "robust_zscore.py").is_file()
    pythonpath = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    with running_server(
        data_dir=tmp_path_factory.mktemp("data"), env={"PYTHONPATH": pythonpath}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def api(server_with_plugin: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_with_plugin.api, timeout=120) as client:
        yield client


def test_the_core_alone_does_not_know_the_backend() -> None:
    assert BACKEND not in PluginHost().detectors


def test_installing_the_package_adds_a_backend(
    api: httpx.Client, server_with_plugin: ServerProcess
) -> None:
    body = ok(api.get("/backends"))
    assert body["total"] == len(BACKENDS) + 1 and {row["backend"] for row in body["data"]} == set(BACKENDS) | {
        BACKEND
    }
    row = next(r for r in body["data"] if r["backend"] == BACKEND)
    assert row["plugin"] == f"{DISTRIBUTION} {package_version()}"
    assert row["available"] is True and row["category"] == "statistical"
    assert set(row["parameters"]["properties"]) == {"combine", "min_scale"}
    assert row["parameters"]["properties"]["combine"]["enum"] == ["max", "mean", "rms"]
    plugins = httpx.get(server_with_plugin.url + "/v1/plugins").json()["data"]
    record = next(p for p in plugins if p["distribution"] == DISTRIBUTION)
    assert (record["status"], record["version"], record["provides"]) == (
        "loaded",
        package_version(),
        [f"detector:{BACKEND}"],
    )


def test_fit_and_score_over_http_flag_the_planted_anomalies(
    api: httpx.Client, planted: tuple[np.ndarray, np.ndarray]
) -> None:
    X, outliers = planted
    fit = ok(
        api.post(
            "/fit",
            json={
                "model": "third-party",
                "backend": BACKEND,
                "data": X.tolist(),
                "contamination": 0.05,
                "params": {"combine": "rms"},
            },
        )
    )
    assert fit["backend"] == BACKEND and fit["samples_fitted"] == len(X)
    assert fit["model_params"]["params"] == {"combine": "rms", "min_scale": 1e-6}
    info = ok(api.get(f"/models/{fit['filename']}"))
    assert info["plugin"] == f"{DISTRIBUTION} {package_version()}"

    scored = ok(
        api.post("/score", json={"model": "third-party", "backend": BACKEND, "data": X.tolist()})
    )
    flags = np.array([point["is_anomaly"] for point in scored["data"]])
    assert flags[outliers].all(), (
        f"planted rows not flagged: {np.flatnonzero(outliers & ~flags).tolist()}"
    )
    assert flags[~outliers].mean() <= 0.1
    raw = np.array([point["raw_score"] for point in scored["data"]])
    assert raw[outliers].min() > raw[~outliers].max(), "every planted row outranks every inlier"


def test_the_plugins_params_are_validated_by_the_server(api: httpx.Client) -> None:
    detail = problem(
        api.post(
            "/fit",
            json={
                "model": "bad",
                "backend": BACKEND,
                "data": [[1.0], [2.0], [3.0]],
                "params": {"combine": "median"},
            },
        ),
        422,
    )
    assert "combine" in detail
    detail = problem(
        api.post(
            "/fit",
            json={
                "model": "bad",
                "backend": BACKEND,
                "data": [[1.0], [2.0], [3.0]],
                "params": {"scale": 2},
            },
        ),
        422,
    )
    assert "scale" in detail
