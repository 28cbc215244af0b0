"""examples/03_streaming_sensors.py runs against a real server and shows what it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from anomd.testing import ServerProcess
from anomd.testing.server import free_port

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "03_streaming_sensors.py"


def run(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ANOMD_URL": url}, check=False)


@pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)
def test_streaming_example_shows_cold_start_anomalies_and_retrains(server: ServerProcess) -> None:
    result = run(server.url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cold start: status=collecting samples_collected=20 samples_until_ready=230 first score=None" in out
    assert "ready at reading 249: model_version=1" in out
    versions = [int(v) for v in re.findall(r"retrain landed: model_version \d+ -> (\d+)", out)]
    assert len(versions) >= 2 and versions == sorted(versions)
    assert "planted faults caught: 3 of 3" in out
    for fault in ("temperature spike", "pressure drop", "vibration burst"):
        assert f"({fault})" in out
    share = float(re.search(r"other readings flagged: \d+ of \d+ scored \(([\d.]+)%", out)[1])
    assert share < 5.0
    assert re.search(r"features: 15 \(pressure, temperature, vibration, pressure_rolling_mean_10", out)
    assert re.search(r"stats: model_version=(\d+) total_processed=(\d+)", out)


def test_streaming_example_explains_a_missing_server() -> None:
    result = run(f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "cannot reach anomd at http://127.0.0.1:" in result.stderr and "Traceback" not in result.stderr
