"""The ``anomd`` command line: help, backends, plugins, detect, models, config, serve --workers.

Most commands run in-process through :func:`anomd.cli.main` (fast, and the real plugins and
storage are used); what only a separate process can show (no traceback on stderr, exit codes
seen by a shell, uvicorn worker processes) runs as a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.request
from pathlib import Path

import httpx
import msgspec
import numpy as np
import polars as pl
import pytest
from helpers import REQUIRE_ALL_BACKENDS, ok

from anomd.cli import main
from anomd.settings import Settings, load_settings
from anomd.testing.server import free_port

ALL_BACKENDS = {
    "autoencoder",
    "cblof",
    "copod",
    "ecod",
    "hbos",
    "isolation_forest",
    "knn",
    "local_outlier_factor",
    "loda",
    "mcd",
    "one_class_svm",
    "suod",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ANOMD_* setting from the outer shell leaks in; relative paths land in tmp_path."""
    for name in list(os.environ):
        if name.startswith("ANOMD_") and name != "ANOMD_TEST_REQUIRE_ALL_BACKENDS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """``python -m anomd ARGS`` in a subprocess, as a shell would run it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANOMD_")}
    return subprocess.run(
        [sys.executable, "-m", "anomd", *args],
        capture_output=True,
        input=stdin,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def planted_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A CSV with three numeric columns, a text column and a flag; rows 0-4 are far out."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 3))
    X[:5] += np.array([9.0, -9.0, 9.0])
    frame = pl.DataFrame(
        {
            "a": X[:, 0],
            "b": X[:, 1],
            "c": X[:, 2],
            "site": ["north", "south"] * 100,
            "checked": [True, False] * 100,
        }
    )
    path = tmp_path_factory.mktemp("tables") / "readings.csv"
    frame.write_csv(path)
    mask = np.zeros(200, dtype=bool)
    mask[:5] = True
    return path, mask


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["backends"],
        ["plugins"],
        ["detect"],
        ["models"],
        ["models", "list"],
        ["models", "show"],
        ["models", "delete"],
        ["config"],
        ["config", "show"],
        ["docs"],
        ["docs", "api"],
        ["docs", "config"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: anomd" + "".join(f" {c}" for c in command))
    assert "options:" in out and len(out.splitlines()) > 4


def test_serve_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--data-dir", "--config", "--workers"):
        assert option in out


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert b"invalid choice: 'frobnicate'" in result.stderr and b"Traceback" not in result.stderr


# -- backends and plugins ---------------------------------------------------------------------


def test_backends_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "CATEGORY", "SPEED", "AVAILABLE", "PLUGIN"]
    ids = {line.split()[0] for line in lines[1:13]}
    assert ids == ALL_BACKENDS
    ecod = next(line for line in lines if line.startswith("ecod "))
    assert "probabilistic" in ecod and "fast" in ecod and " yes " in ecod and "anomd 0.1.0" in ecod
    if REQUIRE_ALL_BACKENDS:
        assert all(" yes " in line for line in lines[1:13])


@pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)
def test_backends_json_matches_the_server(
    api: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI applies the same rules as the server without opening storage."""
    assert main(["backends", "--json"]) == 0
    cli_rows = json.loads(capsys.readouterr().out)
    assert cli_rows == ok(api.get("/backends"))["data"]
    assert not Path(".anomd").exists(), "listing backends must not create a data folder"


def test_backends_follow_the_allow_list(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANOMD_ENABLED_BACKENDS", "ecod,knn")
    assert main(["backends", "--json"]) == 0
    available = {r["backend"] for r in json.loads(capsys.readouterr().out) if r["available"]}
    assert available == {"ecod", "knn"}
    assert main(["backends"]) == 0
    hbos = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("hbos "))
    assert "no (disabled by configuration)" in hbos


@pytest.fixture()
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real installed distribution whose ``anomd`` entry point fails to import."""
    site = tmp_path / "site"
    dist_info = site / "anomd_broken_demo-0.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: anomd-broken-demo\nVersion: 0.3\n"
    )
    (dist_info / "entry_points.txt").write_text("[anomd]\nbroken_demo = anomd_broken_demo_plugin\n")
    (site / "anomd_broken_demo_plugin.py").write_text(
        "raise ImportError('needs the frobnicator library')\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return str(site)


def test_plugins_report_a_failure_and_strict_fails(
    broken_plugin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "broken_demo" in out and "failed" in out and "needs the frobnicator library" in out
    assert "anomd-broken-demo 0.3" in out
    assert "anomd_builtins.detectors.ecod" in out and "detector:ecod" in out

    assert main(["plugins", "--strict"]) == 1
    capsys.readouterr()
    assert main(["plugins", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    broken = records["broken_demo"]
    assert broken["status"] == "failed" and broken["distribution"] == "anomd-broken-demo"
    assert "ImportError: needs the frobnicator library" in broken["error"]
    assert records["anomd_builtins.detectors.ecod"]["status"] == "loaded"


def test_plugins_blocked_one_is_not_a_failure(
    broken_plugin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANOMD_BLOCKED_PLUGINS", "anomd-broken-demo")
    assert main(["plugins", "--strict"]) == 0
    out = capsys.readouterr().out
    assert "blocked" in out and "0 failed" in out


def test_plugins_without_failures_pass_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--strict"]) == 0
    assert "0 failed" in capsys.readouterr().out


# -- detect -----------------------------------------------------------------------------------


def test_detect_csv_to_stdout(
    planted_table: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, mask = planted_table
    assert main(["detect", str(path), "--backend", "knn", "--contamination", "0.05"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 200
    assert list(rows[0]) == ["a", "b", "c", "site", "checked", "score", "is_anomaly", "raw_score"]
    flags = np.array([r["is_anomaly"] == "true" for r in rows])
    assert flags[mask].all(), "every planted outlier is flagged"
    assert 6 <= flags.sum() <= 14  # contamination 0.05 of 200 rows
    # The default is every numeric column; the boolean and text columns are left out.
    assert f"anomd: {flags.sum()} of 200 rows anomalous" in captured.err
    assert "knn on a, b, c;" in captured.err
    assert "fitting" not in captured.err and "scoring" not in captured.err, (
        "no progress off a terminal"
    )


def test_detect_columns_parquet_and_chunks(
    planted_table: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, mask = planted_table
    parquet = tmp_path / "readings.parquet"
    pl.read_csv(path).write_parquet(parquet)
    whole = tmp_path / "whole.parquet"
    chunked = tmp_path / "chunked.csv"
    common = ["--backend", "knn", "--columns", "a,b,c,checked", "--contamination", "0.05"]
    assert main(["detect", str(parquet), *common, "-o", str(whole)]) == 0
    assert (
        main(
            [
                "detect",
                str(parquet),
                *common,
                "-o",
                str(chunked),
                "--chunk-rows",
                "30",
                "--progress",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "scoring: 100%" in err and "200/200" in err, "a progress bar on stderr for chunked work"
    assert "anomd: fitting knn on 200 rows x 4 columns: 00:0" in err, "a clock while the fit runs"
    assert "written to " + str(chunked) in err

    first = pl.read_parquet(whole)
    second = pl.read_csv(chunked)
    assert (
        first.columns
        == second.columns
        == ["a", "b", "c", "site", "checked", "score", "is_anomaly", "raw_score"]
    )
    assert first["is_anomaly"].to_list() == second["is_anomaly"].to_list()
    assert np.allclose(first["raw_score"].to_numpy(), second["raw_score"].to_numpy())
    assert first["is_anomaly"].to_numpy()[mask].all()


def test_detect_reads_stdin(
    planted_table: tuple[Path, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = planted_table
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert main(["detect", "-", "--backend", "knn", "--columns", "a,b", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 201 and lines[0] == "a,b,c,site,checked,score,is_anomaly,raw_score"


@pytest.fixture()
def awkward_tables(tmp_path: Path) -> dict[str, Path]:
    tables = {
        "text_only.csv": "name,city\nann,oslo\nbob,rome\n",
        "with_gaps.csv": "a,b\n1,2\n,3\n4,5\n",
        "has_score.csv": "a,score\n1,2\n3,4\n",
        "header_only.csv": "a,b\n",
        "ragged.csv": "a,b\n1,2,3\n4\n",
        "fake.parquet": "this is not parquet",
        "ok.csv": "a,b,label\n1,2,x\n2,3,y\n3,4,z\n4,5,x\n",
    }
    for name, text in tables.items():
        (tmp_path / name).write_text(text)
    return {name: tmp_path / name for name in tables}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "input file 'missing.csv' does not exist"),
        (["ok.txt"], "cannot tell the format of input file 'ok.txt'"),
        (
            ["ok.csv", "--backend", "nope"],
            "unknown backend 'nope'; available backends: autoencoder, cblof",
        ),
        (["ok.csv", "--columns", "a,label"], "column 'label' is String, not numeric or boolean"),
        (["ok.csv", "--columns", "a,zz"], "has no column(s) 'zz'; columns are: a, b, label"),
        (["ok.csv", "--contamination", "0.9"], "contamination must be in (0, 0.5], got 0.9"),
        (["ok.csv", "-o", "out.json"], "cannot tell the format of output file 'out.json'"),
        (["ok.csv", "--params", "{bad"], "--params must be a JSON object"),
        (
            ["ok.csv", "--backend", "knn", "--params", '{"n_neighbours": 3}'],
            "unknown parameter `n_neighbours`",
        ),
        (["ok.csv", "--chunk-rows", "0"], "--chunk-rows must be at least 1"),
        (["text_only.csv"], "has no numeric columns (columns: name, city)"),
        (["with_gaps.csv"], "column 'a' has 1 empty value(s)"),
        (["has_score.csv"], "already has column(s) score"),
        (["header_only.csv"], "header_only.csv has no rows"),
        (["ragged.csv"], "cannot read"),
        (["fake.parquet"], "cannot read"),
    ],
)
def test_detect_bad_input_is_one_clear_line(
    args: list[str],
    message: str,
    awkward_tables: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(next(iter(awkward_tables.values())).parent)
    assert main(["detect", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("anomd: ") and message in captured.err, captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_disabled_backend_is_refused(
    monkeypatch: pytest.MonkeyPatch, planted_table, capsys
) -> None:
    monkeypatch.setenv("ANOMD_ENABLED_BACKENDS", "ecod")
    assert main(["detect", str(planted_table[0]), "--backend", "knn"]) == 2
    assert (
        "backend 'knn' is disabled by the configuration; enabled: ecod" in capsys.readouterr().err
    )


def test_errors_never_print_a_traceback(tmp_path: Path) -> None:
    """Seen from a shell: status 2 and one ``anomd:`` line, before any server starts."""
    bad = tmp_path / "bad.toml"
    bad.write_text("port = 'eighty'\n")
    cases = [
        (
            ["serve", "--config", str(bad)],
            {},
            "anomd: invalid configuration: Expected `int`, got `str` - at `$.port`",
        ),
        (
            ["serve", "--workers", "2", "--data-dir", str(tmp_path)],
            {"ANOMD_STORAGE": "nope://x"},
            "anomd: no storage plugin for scheme 'nope'",
        ),
    ]
    for args, env, message in cases:
        result = run_cli(*args, env=env)
        stderr = result.stderr.decode()
        assert result.returncode == 2, (args, stderr)
        assert stderr.strip() == message or stderr.startswith(message), (args, stderr)
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve"], {"ANOMD_PORT": "http"}, "anomd: invalid configuration"),
        (["serve", "--config", "absent.toml"], {}, "anomd: cannot read config file absent.toml"),
        (
            ["models", "list"],
            {"ANOMD_BACKEND_DEFAULTS": "not json"},
            "anomd: ANOMD_BACKEND_DEFAULTS must be a JSON object",
        ),
        (["backends"], {"ANOMD_STRICT_PLUGINS": "maybe"}, "anomd: invalid configuration"),
        (["config", "show"], {"ANOMD_LOG_LEVEL": "loud"}, "anomd: invalid configuration"),
    ],
)
def test_bad_configuration_is_one_clear_line(
    args: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


# -- models -----------------------------------------------------------------------------------


def test_models_list_show_delete_share_the_servers_storage(
    server,
    server_store,
    api: httpx.Client,
    planted,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Models fitted through the server are managed by the CLI in-process, and vice versa.

    The CLI gets the server's configuration (storage URI, credentials, data folder with the
    signing key), whichever storage backend the session runs on.
    """
    for name, value in server_store.env.items():
        monkeypatch.setenv(name, value)
    X, _ = planted
    ok(
        api.post(
            "/fit",
            json={
                "model": "cli-managed",
                "backend": "ecod",
                "data": X.tolist(),
                "description": "made over HTTP",
            },
        )
    )
    data_dir = ["--data-dir", str(server.data_dir)]

    assert main(["models", "list", *data_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["FILENAME", "NAME", "BACKEND", "ROWS", "SIZE", "CREATED"]
    row = next(line for line in lines if line.startswith("cli-managed_ecod.joblib "))
    assert " cli-managed " in row and " ecod " in row and " 300 " in row and "KiB" in row

    assert main(["models", "list", "--json", *data_dir]) == 0
    listed = {m["filename"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["cli-managed_ecod.joblib"]["description"] == "made over HTTP"

    assert main(["models", "show", "cli-managed_ecod.joblib", *data_dir]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (
        info["name"] == "cli-managed"
        and info["backend"] == "ecod"
        and info["samples_fitted"] == 300
    )
    assert info == ok(api.get("/models/cli-managed_ecod.joblib"))

    assert main(["models", "delete", "cli-managed_ecod.joblib", *data_dir]) == 0
    assert capsys.readouterr().out.strip() == "deleted cli-managed_ecod.joblib"
    assert api.get("/models/cli-managed_ecod.joblib").status_code == 404
    assert (
        api.post(
            "/score", json={"model": "cli-managed", "backend": "ecod", "data": X[:2].tolist()}
        ).status_code
        == 404
    )

    assert main(["models", "show", "cli-managed_ecod.joblib", *data_dir]) == 2
    assert capsys.readouterr().err.strip() == "anomd: model 'cli-managed_ecod.joblib' not found"
    assert main(["models", "delete", "../etc/passwd", *data_dir]) == 2
    assert "invalid model filename" in capsys.readouterr().err


def test_models_list_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--data-dir", str(tmp_path / "empty")]) == 0
    assert capsys.readouterr().out.strip() == f"no models in {tmp_path / 'empty'}"


# -- config -----------------------------------------------------------------------------------


def test_config_show_is_a_loadable_toml_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "anomd.toml"
    config.write_text(
        textwrap.dedent("""
        port = 9001
        secret_key = "hunter2-very-secret"
        enabled_backends = ["ecod", "isolation_forest"]
        storage = "s3://alice:s3cr3t@minio.local:9000/models"
        storage_options = {endpoint = "http://minio.local:9000", secret_access_key = "abc123"}
        job_storage_options = {region = "eu-west-1", session_token = "tok-job-42"}
        backend_defaults = {isolation_forest = {n_estimators = 200, "max_features" = 0.5}}
    """)
    )
    monkeypatch.setenv("ANOMD_LOG_LEVEL", "debug")  # the environment overrides the file
    assert main(["config", "show", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for secret in ("hunter2-very-secret", "abc123", "s3cr3t", "tok-job-42"):
        assert secret not in out

    shown = msgspec.convert(tomllib.loads(out), Settings)
    expected = load_settings(config)
    assert shown.port == 9001 and shown.log_level == "debug"
    assert shown.secret_key == "********"
    assert shown.storage == "s3://alice:********@minio.local:9000/models"
    assert shown.storage_options == {
        "endpoint": "http://minio.local:9000",
        "secret_access_key": "********",
    }
    assert shown.job_storage_options == {"region": "eu-west-1", "session_token": "********"}
    unmasked = msgspec.structs.replace(
        shown,
        secret_key=expected.secret_key,
        storage=expected.storage,
        storage_options=expected.storage_options,
        job_storage_options=expected.job_storage_options,
    )
    assert unmasked == expected

    assert main(["config", "show", "--format", "json", "--config", str(config)]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json == msgspec.to_builtins(shown)


def test_config_show_defaults_explain_empty_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["config", "show", "--data-dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"models go to data_dir ({(tmp_path / 'd').as_uri()})" in out
    assert msgspec.convert(tomllib.loads(out), Settings) == load_settings(
        env={}, data_dir=str(tmp_path / "d")
    )


# -- serve --workers --------------------------------------------------------------------------


def _children(pid: int) -> list[str]:
    """Command lines of ``pid``'s child processes (Linux /proc)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for kid in kids]


def test_serve_with_two_workers_shares_models(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANOMD_")}
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "anomd",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**env, "ANOMD_WARM_UP": "false"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(url + "/health", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        workers = [cmd for cmd in _children(process.pid) if "spawn_main" in cmd]
        assert len(workers) == 2, _children(process.pid)

        rng = np.random.default_rng(5)
        X = rng.normal(size=(100, 3))
        with httpx.Client(base_url=url + "/v1/ml/anomaly", timeout=60) as client:
            ok(client.post("/fit", json={"model": "shared", "backend": "knn", "data": X.tolist()}))
            # Fresh connections spread over both workers; every one finds the stored model.
            answers = set()
            for _ in range(4):
                with httpx.Client(base_url=url + "/v1/ml/anomaly", timeout=60) as fresh:
                    body = ok(
                        fresh.post(
                            "/score",
                            json={"model": "shared", "backend": "knn", "data": X[:3].tolist()},
                        )
                    )
                    answers.add(tuple(p["raw_score"] for p in body["data"]))
        assert len(answers) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            pytest.fail("anomd serve --workers 2 did not stop on SIGTERM")
    assert not _port_open(port)


def _port_open(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except OSError:
        return False
