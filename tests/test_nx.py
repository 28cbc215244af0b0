"""The nx workspace: `npx nx start universal-runtime` really starts the server.

These tests drive the nx installed by ``npm ci`` (``node_modules/.bin/nx``). CI installs it
(``.ci/run``) and sets ``ANOMD_TEST_REQUIRE_NX=1``, so there a missing nx fails the suite; on a
machine where nobody ran ``npm ci`` the tests are skipped with that instruction.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from anomd.testing.server import free_port

ROOT = Path(__file__).resolve().parent.parent
NX = ROOT / "node_modules" / ".bin" / "nx"
REQUIRE_NX = os.environ.get("ANOMD_TEST_REQUIRE_NX") == "1" or os.environ.get("CI", "").lower() in (
    "1",
    "true",
)
TARGETS = {"start", "test", "lint", "bench"}

#: No daemon left behind, no cloud, plain output.
NX_ENV = {
    **os.environ,
    "NX_DAEMON": "false",
    "NX_NO_CLOUD": "true",
    "NX_TUI": "false",
    "NX_SKIP_NX_CACHE": "true",
    "CI": "true",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
}


@pytest.fixture(scope="module")
def nx() -> Path:
    if not NX.exists():
        message = "nx is not installed: run `npm ci` in the repository root"
        if REQUIRE_NX:
            pytest.fail(message)
        pytest.skip(message)
    return NX


def test_the_lock_is_complete_so_npm_ci_installs_it_unchanged() -> None:
    """``npm ci`` refuses a lock that misses an optional dependency of a locked package (nx's
    native binary for other platforms), and ``npm install`` would then rewrite the tracked lock."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    packages = lock["packages"]
    missing = [
        f"{name} (optional dependency of {path})"
        for path, entry in packages.items()
        for name in entry.get("optionalDependencies", {})
        if f"node_modules/{name}" not in packages
    ]
    assert not missing, f"package-lock.json is incomplete; run `npm install` and commit it: {missing}"
    assert lock["packages"][""]["devDependencies"] == json.loads((ROOT / "package.json").read_text())["devDependencies"]


def run_nx(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NX), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=NX_ENV,
        timeout=timeout,
        check=False,
    )


def test_workspace_files_pin_nx_reproducibly() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = package["devDependencies"]["nx"]
    assert version[0].isdigit(), "nx is pinned to an exact version"
    assert lock["packages"][""]["devDependencies"]["nx"] == version
    assert lock["packages"]["node_modules/nx"]["version"] == version
    assert json.loads((ROOT / "nx.json").read_text())["neverConnectToCloud"] is True
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "node_modules/" in gitignore and ".nx/" in gitignore


def test_project_has_the_four_targets_in_the_projects_environment(nx: Path) -> None:
    result = run_nx("show", "project", "universal-runtime", "--json")
    assert result.returncode == 0, result.stderr
    project = json.loads(result.stdout)
    assert project["name"] == "universal-runtime" and project["root"] == "."
    targets = project["targets"]
    assert TARGETS <= set(targets)
    for name in TARGETS:
        command = targets[name]["options"]["command"]
        # uv runs the project's .venv (creating it from uv.lock if needed), never the python
        # that nx happens to find first on PATH.
        assert command.startswith("uv run --frozen "), (name, command)
    assert targets["start"]["options"]["command"].endswith("anomd serve")
    assert targets["bench"]["options"]["command"].endswith("python -m benchmarks all")
    assert targets["start"].get("continuous") is True


def test_nx_start_serves_the_api(nx: Path, tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(NX), "start", "universal-runtime", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=(tmp_path / "nx.log").open("wb"),
        stderr=subprocess.STDOUT,
        env={**NX_ENV, "ANOMD_WARM_UP": "false"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "nx.log").read_text()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=1
                ) as response:
                    health = json.load(response)
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "nx.log").read_text()
                time.sleep(0.3)
        assert health["status"] == "ok" and health["storage"]["root"] == str(tmp_path)
        assert health["backends"] >= 12
    finally:
        # nx passes the signal on to the task; the session id is the nx process's own.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)


def test_nx_test_and_lint_targets_run_their_tools(nx: Path) -> None:
    # Arguments after the target go to the command: here, pytest only collects this file.
    tests = run_nx("run", "universal-runtime:test", "--collect-only", "-q", "tests/test_nx.py")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "tests/test_nx.py::test_nx_start_serves_the_api" in tests.stdout

    lint = run_nx("run", "universal-runtime:lint")
    # The target ran ruff on the sources, and the sources are lint-clean (CI keeps them so).
    assert "ruff check ." in lint.stdout
    assert lint.returncode == 0 and "All checks passed!" in lint.stdout, lint.stdout + lint.stderr
