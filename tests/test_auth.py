"""API keys, scopes, the refusal to serve an open API off loopback, and CORS."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import ok, problem, rows

from anomd.server.app import create_app
from anomd.server.auth import KeyTable, check_exposure, required_scope
from anomd.settings import ConfigError, load_settings
from anomd.testing import ServerProcess, start_server

ADMIN = "admin-key-for-tests-0001"
READ = "read-key-for-tests-00002"
HASHED_READ = "another-read-key-0003"
ORIGIN = "https://dash.example.com"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with an admin key, a read key, a read key given as its digest, and CORS on."""
    digest = hashlib.sha256(HASHED_READ.encode()).hexdigest()
    server = start_server(tmp_path_factory.mktemp("auth"), env={
        "ANOMD_ADMIN_KEYS": ADMIN, "ANOMD_READ_KEYS": f"{READ},sha256:{digest}",
        "ANOMD_CORS_ORIGINS": ORIGIN,
    })
    yield server
    server.stop()


def client(server: ServerProcess, key: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.api, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def fitted(guarded: ServerProcess) -> list[list[float]]:
    X = np.random.default_rng(3).normal(size=(60, 3))
    with client(guarded, ADMIN) as admin:
        ok(admin.post("/fit", json={"model": "keyed", "data": rows(X)}))
    return rows(X[:5])


READ_CALLS = [
    ("POST", "/score", {"model": "keyed", "data": None}),
    ("POST", "/detect", {"data": None}),
    ("GET", "/models", None),
    ("GET", "/models/keyed_ecod.joblib", None),
    ("GET", "/backends", None),
    ("POST", "/stream", {"model": "keyed-stream", "data": [{"v": 1.0}]}),
    ("GET", "/stream/detectors", None),
]


def call(api: httpx.Client, method: str, path: str, body, data) -> httpx.Response:
    if body is not None and "data" in body and body["data"] is None:
        body = {**body, "data": data}
    return api.request(method, path, json=body)


@pytest.mark.parametrize(("method", "path", "body"), READ_CALLS, ids=[c[1] for c in READ_CALLS])
def test_read_routes_need_a_key_and_take_a_read_key(guarded, fitted, method, path, body) -> None:
    with client(guarded, None) as anonymous:
        response = call(anonymous, method, path, body, fitted)
        assert "Bearer <key>" in problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    with client(guarded, "not-a-key-at-all-xxxx") as stranger:
        response = call(stranger, method, path, body, fitted)
        assert "not valid" in problem(response, 401)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    for key in (READ, HASHED_READ, ADMIN):
        with client(guarded, key) as reader:
            ok(call(reader, method, path, body, fitted))


ADMIN_CALLS = [
    ("POST", "/fit", {"model": "other", "data": [[1.0], [2.0], [3.0], [9.0]]}),
    ("POST", "/load", {"model": "keyed"}),
    ("POST", "/stream/keyed-stream/reset", None),
    ("DELETE", "/stream/keyed-stream", None),
    ("DELETE", "/models/other_ecod.joblib", None),
]


def test_admin_routes_refuse_read_keys_and_take_admin_keys(guarded, fitted) -> None:
    with client(guarded, READ) as reader, client(guarded, ADMIN) as admin:
        ok(reader.post("/stream", json={"model": "keyed-stream", "data": [{"v": 1.0}]}))
        for method, path, body in ADMIN_CALLS:
            response = reader.request(method, path, json=body)
            assert "needs an admin key" in problem(response, 403), path
            assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
            assert problem(client(guarded, None).request(method, path, json=body), 401)
        # The refusals changed nothing: the model a read key tried to refit is still absent.
        assert problem(admin.get("/models/other_ecod.joblib"), 404)
        for method, path, body in ADMIN_CALLS:
            ok(admin.request(method, path, json=body))


def test_probes_stay_open_and_keys_never_reach_the_log(guarded, fitted) -> None:
    for path in ("/", "/health", "/ready", "/v1/ml/anomaly/health"):
        assert httpx.get(guarded.url + path).status_code == 200, path
    assert problem(httpx.get(guarded.url + "/metrics"), 401)
    assert "anomd_http_requests_total" in httpx.get(
        guarded.url + "/metrics", headers={"authorization": f"Bearer {READ}"}).text
    log = guarded.log()
    assert "request refused" in log
    for secret in (ADMIN, READ, HASHED_READ, "not-a-key-at-all-xxxx"):
        assert secret not in log


def test_the_openapi_document_states_the_keys(guarded) -> None:
    document = ok(httpx.get(guarded.url + "/schema/openapi.json", headers={"authorization": f"Bearer {READ}"}))
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["apiKey"]["description"]}
    paths = document["paths"]
    score, fit = paths["/v1/ml/anomaly/score"]["post"], paths["/v1/ml/anomaly/fit"]["post"]
    assert score["security"] == [{"apiKey": []}] and "401" in score["responses"] and "403" not in score["responses"]
    assert fit["security"] == [{"apiKey": []}] and {"401", "403"} <= set(fit["responses"])
    assert "admin key" in fit["responses"]["403"]["description"]
    assert "security" not in paths["/health"]["get"] and "401" not in paths["/ready"]["get"]["responses"]


def test_examples_send_the_key_from_the_environment(guarded) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "01_quick_start.py"

    def run(key: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "ANOMD_API_KEY"}
        env["ANOMD_URL"] = guarded.url
        if key:
            env["ANOMD_API_KEY"] = key
        return subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                              env=env, timeout=120, check=False)

    refused = run(None)
    assert refused.returncode != 0 and "(401)" in refused.stderr and "API key is required" in refused.stderr
    assert run(ADMIN).returncode == 0


def test_cors_answers_only_configured_origins(guarded, server) -> None:
    preflight = {"origin": ORIGIN, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"}
    answer = httpx.options(guarded.api + "/score", headers=preflight)
    assert answer.status_code in (200, 204), answer.text
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    other = httpx.options(guarded.api + "/score", headers={**preflight, "origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
    # The default server has CORS off: no header for any origin.
    plain = httpx.get(server.url + "/health", headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in plain.headers


def test_open_api_off_loopback_is_refused_before_listening(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anomd", "serve", "--host", "0.0.0.0", "--port", "1",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stderr + result.stdout


@pytest.mark.parametrize(("host", "keys", "allowed", "refused"), [
    ("127.0.0.1", [], False, False), ("::1", [], False, False), ("localhost", [], False, False),
    ("0.0.0.0", [], False, True), ("192.168.1.5", [], False, True), ("example.org", [], False, True),
    ("0.0.0.0", [ADMIN], False, False), ("0.0.0.0", [], True, False),
])
def test_exposure_rule(host, keys, allowed, refused) -> None:
    settings = load_settings(env={}, host=host, admin_keys=keys, allow_unauthenticated=allowed)
    if refused:
        with pytest.raises(ConfigError, match="refusing"):
            check_exposure(settings)
    else:
        check_exposure(settings)


def test_short_keys_are_refused_and_digests_match() -> None:
    with pytest.raises(ConfigError, match="16 characters"):
        KeyTable.from_settings(load_settings(env={}, admin_keys=["short"]))
    digest = hashlib.sha256(READ.encode()).hexdigest()
    table = KeyTable.from_settings(load_settings(env={}, admin_keys=[ADMIN], read_keys=[f"sha256:{digest}"]))
    assert table.grant(ADMIN) == "admin"
    assert table.grant(READ) == "read"
    assert table.grant(READ + "x") is None
    assert table.grant("") is None


def test_every_served_route_has_a_deliberate_scope(tmp_path: Path) -> None:
    """Reads are read, writes are admin, probes are open; a new route defaults to admin."""
    app = create_app(load_settings(env={}, data_dir=str(tmp_path), warm_up=False))
    # The dashboard's page and static files hold no data (its data routes are read routes).
    expected_open = {"/", "/health", "/ready", "/v1/ml/anomaly/health", "/v1/ml/anomaly/ready", "/ui",
                     "/ui/static/js/app.js"}
    seen = set()
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method in ("OPTIONS", "HEAD"):
                continue
            path = (route.path.replace("{filename:str}", "x_ecod.joblib").replace("{model_id:str}", "s1")
                    .replace("{file_path:path}", "js/app.js"))
            scope = required_scope(method, path)
            seen.add((method, route.path, scope))
            if path in expected_open:
                assert scope == "open"
            elif (method == "GET" or path.rstrip("/").endswith(("/score", "/detect", "/stream"))
                  or path.startswith("/v1/ml/anomaly/timeseries/")):  # series detection stores nothing
                assert scope == "read", (method, path)
            else:
                assert scope == "admin", (method, path)
    assert any(scope == "admin" for *_, scope in seen) and any(s == "read" for *_, s in seen)
    assert required_scope("POST", "/v1/ml/anomaly/something-new") == "admin"
    assert required_scope("PUT", "/v1/ml/anomaly/score") == "admin"
