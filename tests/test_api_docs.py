"""Generated reference docs stay in sync with the code, and their examples really work.

``docs/api.md`` is rendered from the OpenAPI document and the settings table of
``docs/configuration.md`` from :class:`anomd.settings.Settings`; when either is stale these
tests fail with the command that regenerates it.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import httpx
import msgspec
import pytest

from anomd.cli import main
from anomd.docgen import api_reference, generated_block, settings_reference
from anomd.docgen.curl_examples import EXAMPLES
from anomd.settings import Settings
from anomd.testing import ServerProcess

DOCS = Path(__file__).resolve().parent.parent / "docs"
API_MD = DOCS / "api.md"
CONFIG_MD = DOCS / "configuration.md"

on_filesystem = pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_reference.openapi_document()


def test_committed_api_reference_is_current(openapi: dict) -> None:
    assert API_MD.read_text() == api_reference.render(openapi), (
        "docs/api.md is stale; run: uv run anomd docs api --output docs/api.md"
    )


def test_api_reference_covers_every_route_and_field(openapi: dict) -> None:
    text = api_reference.render(openapi)
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            assert f"### {method.upper()} {path}\n\n{operation['summary']}." in text
    for name in ("FitRequest", "ScoreRequest", "DetectRequest", "LoadRequest"):
        for field in openapi["components"]["schemas"][name]["properties"]:
            assert f"| `{field}` |" in text, (name, field)
    # Nested response objects are resolved and flattened.
    for field in ("data[].raw_score", "summary.anomaly_count", "summary.anomalies_detected"):
        assert f"| `{field}` |" in text


@on_filesystem
def test_the_served_schema_is_the_documented_one(server: ServerProcess, openapi: dict) -> None:
    with urllib.request.urlopen(server.url + "/schema/openapi.json", timeout=30) as response:
        served = json.load(response)
    assert served["paths"].keys() == openapi["paths"].keys()
    assert served["components"]["schemas"].keys() == openapi["components"]["schemas"].keys()


def test_every_route_has_an_example(openapi: dict) -> None:
    routes = {f"{m.upper()} {p}" for p, item in openapi["paths"].items() for m in item}
    assert set(EXAMPLES) <= routes, (
        f"examples for routes that do not exist: {set(EXAMPLES) - routes}"
    )
    batch = {r for r in routes if r.startswith("POST /v1/ml/anomaly/") and "/stream" not in r}
    assert batch <= set(EXAMPLES), f"batch routes without a curl example: {batch - set(EXAMPLES)}"


@on_filesystem
def test_documented_examples_work_against_a_real_server(server: ServerProcess) -> None:
    """Sent in the order the page shows them; each must succeed."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        replies = {}
        for key, (method, path, body) in EXAMPLES.items():
            if path.startswith("/v1/ml/anomaly/jobs"):
                continue  # they need a dataset and a Dask cluster: tests/test_jobs_api.py
            response = client.request(method, path, json=body)
            assert response.status_code == 200, (key, response.text[:300])
            replies[key] = response.json()
    fit = replies["POST /v1/ml/anomaly/fit"]
    assert fit["filename"] == "fraud-detector_ecod.joblib" and fit["samples_fitted"] == 8
    score = replies["POST /v1/ml/anomaly/score"]["data"]
    assert score[1]["is_anomaly"] and not score[0]["is_anomaly"]
    detect = replies["POST /v1/ml/anomaly/detect"]
    assert [p["index"] for p in detect["data"]] == [4]
    assert replies["DELETE /v1/ml/anomaly/models/{filename}"]["deleted"] is True
    index = replies["GET /"]
    assert index["docs"] == "/schema" and index["openapi"] == "/schema/openapi.json"
    assert index["ui"] == "/ui"  # a loopback server serves the dashboard
    assert client_get(server.url + index["openapi"])["paths"]  # the links lead somewhere real


def client_get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_committed_settings_table_is_current() -> None:
    committed = generated_block.extract(CONFIG_MD.read_text(), settings_reference.BLOCK)
    assert committed == settings_reference.render(), (
        "docs/configuration.md is stale; run: uv run anomd docs config --output docs/configuration.md"
    )


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    docs = settings_reference.field_docs()
    text = CONFIG_MD.read_text()
    for name in Settings.__struct_fields__:
        assert docs[name], name
        assert f"`{name}`" in text and f"`ANOMD_{name.upper()}`" in text


def test_field_docs_refuse_an_undocumented_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    class Undocumented(msgspec.Struct, kw_only=True):
        #: Documented.
        port: int = 1
        host: str = ""

    monkeypatch.setattr(settings_reference, "Settings", Undocumented)
    with pytest.raises(ValueError, match="without a `#:` comment in anomd/settings.py: host"):
        settings_reference.field_docs()


def test_docs_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "api.md"
    target.write_text("stale\n")
    assert main(["docs", "api", "--output", str(target), "--check"]) == 1
    assert "is out of date; run: anomd docs api --output" in capsys.readouterr().err
    assert main(["docs", "api", "--output", str(target)]) == 0
    assert main(["docs", "api", "--output", str(target), "--check"]) == 0
    assert target.read_text() == API_MD.read_text()

    config = tmp_path / "configuration.md"
    config.write_text(
        "# Intro kept\n\n" + "\n".join(generated_block.markers("settings")) + "\n\nOutro kept.\n"
    )
    assert main(["docs", "config", "--output", str(config), "--check"]) == 1
    assert main(["docs", "config", "--output", str(config)]) == 0
    written = config.read_text()
    assert written.startswith("# Intro kept\n") and written.endswith("\nOutro kept.\n")
    assert generated_block.extract(written, "settings") == settings_reference.render()

    no_markers = tmp_path / "plain.md"
    no_markers.write_text("nothing generated here\n")
    assert main(["docs", "config", "--output", str(no_markers)]) == 2
    assert "generated block 'settings' not found" in capsys.readouterr().err
