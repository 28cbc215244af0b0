"""Start-up checks: remote storage signed with a key generated on this machine is warned about
loudly (the setting named), refused with ``strict_startup``; the effective configuration is
logged once with its secrets masked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import structlog

from anomd.redaction import MASK, masked
from anomd.server.startup import check_startup, findings
from anomd.settings import load_settings

SECRET = "k" * 40


def test_remote_storage_without_a_shared_key_is_a_finding(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=str(tmp_path), storage="s3://shared-bucket/models")
    [problem] = findings(settings)
    assert "secret_key" in problem and "ANOMD_SECRET_KEY" in problem and "409" in problem
    assert findings(load_settings(env={}, data_dir=str(tmp_path), storage="s3://b/m", secret_key=SECRET)) == []
    assert findings(load_settings(env={}, data_dir=str(tmp_path))) == []  # a local folder is fine


def test_start_up_logs_the_configuration_masked_and_warns(tmp_path: Path) -> None:
    settings = load_settings(
        env={}, data_dir=str(tmp_path), storage="s3://user:pw@bucket/models",
        storage_options={"secret_access_key": "AWS-SECRET", "region": "eu-west-1"},
        admin_keys=["a" * 32],
    )
    with structlog.testing.capture_logs() as logs:
        problems = check_startup(settings)
    assert problems
    [config] = [e for e in logs if e["event"] == "configuration"]
    text = repr(config)
    assert "AWS-SECRET" not in text and "a" * 32 not in text and ":pw@" not in text
    assert config["settings"]["storage_options"] == {"secret_access_key": MASK, "region": "eu-west-1"}
    assert config["effective_max_request_memory_mb"] > 0
    [warning] = [e for e in logs if e["event"] == "start-up check failed"]
    assert warning["log_level"] == "warning" and "strict_startup" in warning["refuse_with"]


def test_masked_leaves_non_secrets_alone(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=str(tmp_path), secret_key=SECRET)
    values = masked(settings)
    assert values["secret_key"] == MASK and values["data_dir"] == str(tmp_path)


def test_strict_startup_refuses_to_serve(tmp_path: Path) -> None:
    env = {**os.environ, "ANOMD_STORAGE": "s3://shared-bucket/models", "ANOMD_STRICT_STARTUP": "true",
           "ANOMD_WARM_UP": "false"}
    env.pop("ANOMD_SECRET_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "anomd", "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode != 0
    assert "strict_startup" in done.stderr + done.stdout and "secret_key" in done.stderr + done.stdout
    assert not (tmp_path / "secret.key").exists() and not any(tmp_path.glob("*.key"))  # no key generated
