"""The example programs run against a real server and print what their docstrings promise.

Each example is started the way a user would start it: a separate Python process with
``ANOMD_URL`` pointing at a running server. The server's storage does not matter to a client,
so these run on the filesystem-backed session server only.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import REQUIRE_ALL_BACKENDS, ok

from anomd.testing import ServerProcess
from anomd.testing.server import free_port

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Runs a test on the filesystem-backed session server only.
on_filesystem = pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)


def run_example(
    name: str, url: str, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ANOMD_URL": url},
        timeout=timeout,
        check=False,
    )


@on_filesystem
def test_quick_start_flags_the_two_odd_rows(server: ServerProcess) -> None:
    result = run_example("01_quick_start.py", server.url)
    assert result.returncode == 0, result.stderr
    assert "fitted ecod on 300 rows" in result.stdout
    assert "anomalous rows: [2, 4]" in result.stdout
    assert result.stdout.count("ANOMALY") == 2


@on_filesystem
def test_fraud_detection_finds_planted_frauds_with_both_backends(server: ServerProcess) -> None:
    result = run_example("02_fraud_detection.py", server.url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for backend in ("ecod", "isolation_forest"):
        assert f"[{backend}] loaded fraud-example_{backend}.joblib (1515 rows" in out
        assert f"fraud-example_{backend}.joblib" in out and "merchant_category=online" in out
        found = re.search(
            rf"^{backend}: flagged=(\d+) precision=([\d.]+) recall=([\d.]+) roc_auc=([\d.]+)$",
            out,
            re.MULTILINE,
        )
        assert found, out
        flagged, precision, recall, auc = (
            int(found[1]),
            float(found[2]),
            float(found[3]),
            float(found[4]),
        )
        assert recall >= 0.8 and auc >= 0.9, found[0]
        assert 0.3 <= precision <= 1.0 and 15 <= flagged <= 60, found[0]
    assert "most suspicious transaction" in out


@on_filesystem
def test_backend_comparison_covers_every_available_backend(
    server: ServerProcess, tmp_path: Path
) -> None:
    with httpx.Client(base_url=server.api, timeout=60) as client:
        available = {b["backend"] for b in ok(client.get("/backends"))["data"] if b["available"]}
    if REQUIRE_ALL_BACKENDS:
        assert len(available) == 13  # the twelve PyOD detectors and surprise
    chart = tmp_path / "comparison.png"
    result = run_example("04_backend_comparison.py", server.url, "--output", str(chart))
    assert result.returncode == 0, result.stderr

    reported = dict(
        re.findall(r"^(\w+)\s+fit\s+[\d.]+ ms\s+roc_auc ([\d.]+)$", result.stdout, re.MULTILINE)
    )
    assert set(reported) == available, result.stdout
    assert "failed" not in result.stdout
    assert all(float(auc) >= 0.75 for auc in reported.values()), reported
    assert f"compared {len(available)} backends" in result.stdout

    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 600 and height >= 200 and len(png) > 10_000


@pytest.mark.parametrize(
    "name", ["01_quick_start.py", "02_fraud_detection.py", "04_backend_comparison.py"]
)
def test_examples_explain_a_missing_server(name: str) -> None:
    """No traceback when nobody listens: the example says how to start the server."""
    result = run_example(name, f"http://127.0.0.1:{free_port()}", timeout=120)
    assert result.returncode == 1
    assert "cannot reach anomd at http://127.0.0.1:" in result.stderr
    assert "start it with `anomd serve`" in result.stderr and "Traceback" not in result.stderr
