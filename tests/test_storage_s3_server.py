"""Selecting storage by configuration, what /health shows, and how a broken S3 store fails:
real server processes against a real S3 endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from anomd_s3.storage import open_s3
from anomd_s3.testing import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LocalS3
from helpers import ok, problem, rows
from storage_backends import StorageBackend

from anomd import cli
from anomd.errors import StorageUnavailable
from anomd.service import AnomalyService
from anomd.settings import load_settings
from anomd.testing import ServerProcess, running_server

X = np.random.default_rng(3).normal(size=(120, 3))


def test_health_shows_the_chosen_backend_and_no_secrets(
    server: ServerProcess, storage_backend: StorageBackend, server_data_dir: Path
) -> None:
    health = ok(httpx.get(server.url + "/health", timeout=30))
    storage = health["storage"]
    if storage_backend.name == "filesystem":
        assert storage == {"backend": "filesystem", "root": str(server_data_dir.resolve())}
    else:
        assert storage["backend"] == "s3" and storage["bucket"] == storage_backend.bucket
        assert storage["endpoint"] == storage_backend.s3_env["AWS_ENDPOINT_URL"]
        assert storage["credentials"] == "environment" and storage["region"] == "us-east-1"
    text = json.dumps(health)
    signing_key = (server_data_dir / "artifact-signing.key").read_text().strip()
    for secret in (SECRET_ACCESS_KEY, ACCESS_KEY_ID, signing_key):
        assert secret not in text


def test_config_file_selects_s3_with_its_options(
    local_s3_endpoint: LocalS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No AWS variables at all: bucket, prefix, endpoint and credentials from the TOML file."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    bucket = local_s3_endpoint.create_bucket()
    config = tmp_path / "anomd.toml"
    config.write_text(
        f'storage = "s3://{bucket}/from-config"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[storage_options]\n"
        f'endpoint = "{local_s3_endpoint.endpoint}"\n'
        f'access_key_id = "{ACCESS_KEY_ID}"\n'
        f'secret_access_key = "{SECRET_ACCESS_KEY}"\n'
        'region = "eu-west-1"\n'
        "allow_http = true\n"
    )
    service = AnomalyService(load_settings(config, env={}))
    storage = service.storage.describe()
    assert storage["uri"] == f"s3://{bucket}/from-config"
    assert storage["credentials"] == "storage_options" and storage["region"] == "eu-west-1"
    outcome = service.fit(X, model="configured")
    assert outcome.saved_path == f"s3://{bucket}/from-config/models/configured_ecod.joblib"
    service.score(X[:5], model="configured")
    objects = open_s3(f"s3://{bucket}", local_s3_endpoint.options()).list()
    assert [o.key for o in objects] == ["from-config/models/configured_ecod.joblib"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_missing_bucket_is_503_naming_the_bucket(
    local_s3_endpoint: LocalS3, tmp_path: Path
) -> None:
    env = {**local_s3_endpoint.env(), "ANOMD_STORAGE": "s3://bucket-nobody-made/anomd"}
    with (
        running_server(data_dir=tmp_path, env=env) as server,
        httpx.Client(base_url=server.api, timeout=60) as api,
    ):
        assert ok(httpx.get(server.url + "/health"))["storage"]["bucket"] == "bucket-nobody-made"
        for response in (
            api.post("/fit", json={"model": "m", "data": rows(X)}),
            api.post("/score", json={"model": "m", "data": rows(X[:2])}),  # 503, not 404
            api.get("/models"),
            api.get("/models/m_ecod.joblib"),
            api.delete("/models/m_ecod.joblib"),
        ):
            assert "bucket-nobody-made" in problem(response, 503)


def test_unreachable_endpoint_is_503_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    # obstore reads the AWS variables from the process environment itself.
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }.items():
        monkeypatch.setenv(name, value)
    env = {
        "ANOMD_STORAGE": "s3://anomd/models",
        "ANOMD_STORAGE_OPTIONS": json.dumps({"max_retries": 1, "retry_timeout": 3}),
    }
    service = AnomalyService(load_settings(env=env, data_dir=str(tmp_path)))
    assert service.storage.describe()["endpoint"] == f"http://127.0.0.1:{port}"
    for call, action in (
        (lambda: service.fit(X, model="m"), "saving"),
        (lambda: service.score(X[:2], model="m"), "looking up"),
        (service.list_models, "listing"),
    ):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert time.monotonic() - started < 15
        assert caught.value.status_code == 503
        assert f"127.0.0.1:{port}" in caught.value.detail and action in caught.value.detail
        assert "Debug source" not in caught.value.detail


def _serve_fails(env: dict[str, str], tmp_path: Path, monkeypatch, capsys) -> str:
    """Runs ``anomd serve`` expecting a configuration error; returns its message."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "ANOMD_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", "--port", str(_closed_port()), "--data-dir", str(tmp_path)]) == 2
    return capsys.readouterr().err


def test_plain_http_endpoint_without_allow_http_refuses_to_start(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    env = {"ANOMD_STORAGE": "s3://anomd", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    assert "AWS_ALLOW_HTTP" in _serve_fails(env, tmp_path, monkeypatch, capsys)


def test_s3_without_the_plugin_says_how_to_install_it(tmp_path: Path, monkeypatch, capsys) -> None:
    env = {"ANOMD_STORAGE": "s3://anomd", "ANOMD_BLOCKED_PLUGINS": "anomd-s3"}
    assert "pip install 'anomd[s3]'" in _serve_fails(env, tmp_path, monkeypatch, capsys)
