"""The README's serve command works with no configuration at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from anomd.settings import load_settings
from anomd.testing.server import free_port


def test_default_settings_are_loopback_8000_and_local_data_folder() -> None:
    settings = load_settings(env={})
    assert (settings.host, settings.port, settings.data_dir) == ("127.0.0.1", 8000, ".anomd")
    assert settings.storage_uri().startswith("file://") and settings.storage_uri().endswith("/.anomd")


def test_serve_with_no_configuration_stores_models_in_dot_anomd(tmp_path) -> None:
    port = free_port()  # the only flag: 8000 may be taken on a developer machine
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANOMD_")}
    proc = subprocess.Popen([sys.executable, "-m", "anomd", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                health = httpx.get(url + "/health").json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError(proc.stdout.read().decode() if proc.poll() is not None else "no answer")
        assert health["storage"] == {"backend": "filesystem", "root": str(tmp_path / ".anomd")}
        fit = httpx.post(url + "/v1/ml/anomaly/fit", json={"data": [[1, 2], [1, 2.1], [10, 20]]}, timeout=120).json()
        assert fit["saved_path"] == str(tmp_path / ".anomd" / "models" / "default_ecod.joblib")
        assert (tmp_path / ".anomd" / "models" / "default_ecod.joblib").exists()
        assert (tmp_path / ".anomd" / "artifact-signing.key").stat().st_mode & 0o077 == 0
    finally:
        proc.terminate()
        proc.wait(20)
