"""The plugin host: entry-point loading, isolation of broken plugins, strict mode, blocking.

Unit-level cases register plugin objects directly (``extra=[...]``); the import-failure cases
use a real (tiny, hand-written) installed distribution on ``sys.path`` or ``PYTHONPATH``, so
they go through exactly the entry-point path a third-party package takes.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import httpx
import pytest
from helpers import BACKENDS, ok
from importlib_metadata import entry_points, version

import anomd
from anomd.detectors import DetectorSpec
from anomd.errors import PluginError
from anomd.plugins import ENTRY_POINT_GROUP, PluginHost
from anomd.testing import running_server

BROKEN_DIST = "anomd-broken-plugin"
BROKEN_MODULE = "anomd_broken_plugin_xyz"
BROKEN_MESSAGE = "this plugin is broken on purpose"


def write_distribution(root: Path, name: str, version: str, modules: dict[str, str]) -> Path:
    """Writes an installed distribution by hand: ``*.dist-info`` plus its top-level modules.

    Each module becomes one ``anomd`` entry point named after the module, which is all
    ``importlib.metadata`` needs to find it on ``sys.path``.
    """
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"{module} = {module}" for module in modules]
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n" + "\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root


@pytest.fixture
def broken_dist(tmp_path: Path) -> Path:
    return write_distribution(
        tmp_path / "site",
        BROKEN_DIST,
        "0.0.1",
        {BROKEN_MODULE: f"raise RuntimeError({BROKEN_MESSAGE!r})\n"},
    )


def spec_with_id(host: PluginHost, backend: str) -> DetectorSpec:
    return dataclasses.replace(host.detectors.get("ecod"), id=backend)


@pytest.fixture(scope="module")
def builtin_host() -> PluginHost:
    return PluginHost(strict=True)


class Registers:
    """A well-behaved plugin object registering a list of specs."""

    def __init__(self, *specs: DetectorSpec) -> None:
        self.specs = specs

    @anomd.hookimpl
    def register_detectors(self, register):
        for spec in self.specs:
            register(spec)


# -- built-ins -------------------------------------------------------------------------------


def test_builtins_load_through_the_anomd_entry_point_group(builtin_host: PluginHost) -> None:
    declared = {
        ep.name: ep
        for ep in entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist and ep.dist.name == "anomd"
    }
    assert {f"anomd_builtins.detectors.{b}" for b in BACKENDS} | {
        "anomd_builtins.storage.filesystem"
    } <= set(declared)
    for name, ep in declared.items():
        record = builtin_host.records[name]
        assert (record.distribution, record.version, record.status) == (
            "anomd",
            version("anomd"),
            "loaded",
        )
        assert record.module == ep.value == name, "entry-point names are the module paths"
        assert record.error is None and record.provides, record
    assert set(BACKENDS) <= set(builtin_host.detectors)
    for backend in BACKENDS:
        entry = builtin_host.detectors.entry(backend)
        assert entry.plugin == f"anomd {version('anomd')}"
        assert (
            f"detector:{backend}"
            in builtin_host.records[f"anomd_builtins.detectors.{backend}"].provides
        )
    assert "file" in builtin_host.storage
    assert builtin_host.failures == []


def test_entry_points_can_be_switched_off() -> None:
    host = PluginHost(use_entry_points=False)
    assert len(host.detectors) == 0 and host.records == {}


# -- a plugin that fails to import -------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_recorded_while_the_rest_load(
    broken_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(broken_dist))
    host = PluginHost()
    record = host.records[BROKEN_MODULE]
    assert (record.status, record.distribution, record.version) == ("failed", BROKEN_DIST, "0.0.1")
    assert record.error.startswith(f"import failed: RuntimeError: {BROKEN_MESSAGE}")
    assert f"{BROKEN_MODULE}.py:1" in record.error, "the error points at the failing line"
    assert host.failures == [record]
    assert set(BACKENDS) <= set(host.detectors)


def test_strict_mode_turns_an_import_failure_into_a_plugin_error(
    broken_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(broken_dist))
    with pytest.raises(
        PluginError, match=f"{BROKEN_MODULE}.*{BROKEN_DIST} 0.0.1.*{BROKEN_MESSAGE}"
    ):
        PluginHost(strict=True)


@pytest.mark.parametrize("block", [BROKEN_DIST, BROKEN_MODULE])
def test_a_blocked_plugin_is_not_imported(
    block: str, broken_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(broken_dist))
    host = PluginHost(strict=True, blocked=[block])  # strict: importing it would raise
    record = host.records[BROKEN_MODULE]
    assert (record.status, record.error, record.provides) == ("blocked", None, [])
    assert BROKEN_MODULE not in sys.modules
    assert host.failures == []


def test_blocking_a_builtin_removes_only_its_backend() -> None:
    host = PluginHost(blocked=["anomd_builtins.detectors.ecod"])
    assert host.records["anomd_builtins.detectors.ecod"].status == "blocked"
    assert "ecod" not in host.detectors
    assert set(host.detectors) >= set(BACKENDS) - {"ecod"}


def test_two_distributions_with_the_same_entry_point_name_keep_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = (
        "import dataclasses, anomd\n"
        "from anomd_builtins.detectors.ecod import SPEC\n"
        "@anomd.hookimpl\n"
        "def register_detectors(register):\n"
        "    register(dataclasses.replace(SPEC, id={backend!r}))\n"
    )
    # Same entry-point name in two distributions; each module lives in its own folder.
    first = write_distribution(
        tmp_path / "a", "anomd-first", "1.0", {"anomd_same_name": plugin.format(backend="first")}
    )
    second = write_distribution(
        tmp_path / "b", "anomd-second", "2.0", {"anomd_same_name": plugin.format(backend="second")}
    )
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    monkeypatch.delitem(sys.modules, "anomd_same_name", raising=False)
    host = PluginHost()
    assert host.records["anomd_same_name"].status == "loaded"
    assert host.records["anomd_same_name"].distribution == "anomd-first"
    assert "first" in host.detectors and "second" not in host.detectors
    clash = host.records["anomd_same_name#2"]
    assert clash.status == "failed" and "already used by anomd-first 1.0" in clash.error


# -- misbehaving plugin objects ----------------------------------------------------------------


class MisspeltHook:
    @anomd.hookimpl
    def register_detector(self, register):  # the hook is register_detectors
        raise AssertionError("a hook that does not exist must never be called")


def test_an_implementation_of_a_misspelt_hook_is_rejected_and_recorded(
    builtin_host: PluginHost,
) -> None:
    good = Registers(spec_with_id(builtin_host, "good_one"))
    host = PluginHost(extra=[MisspeltHook(), good], use_entry_points=False)
    record = host.records["MisspeltHook"]
    assert record.status == "failed" and "unknown hook 'register_detector'" in record.error
    assert host.pm.get_plugin("MisspeltHook") is None, "the rejected plugin is unregistered"
    assert list(host.detectors) == ["good_one"]
    with pytest.raises(PluginError, match="MisspeltHook.*register_detector"):
        PluginHost(extra=[MisspeltHook()], use_entry_points=False, strict=True)


def test_a_duplicate_detector_id_stops_start_up_naming_both_plugins(
    builtin_host: PluginHost,
) -> None:
    class FirstPlugin(Registers):
        pass

    class SecondPlugin(Registers):
        pass

    spec = spec_with_id(builtin_host, "twin")
    with pytest.raises(
        PluginError,
        match="'twin' is registered twice: by plugin 'FirstPlugin' and by plugin 'SecondPlugin'",
    ):
        PluginHost(extra=[FirstPlugin(spec), SecondPlugin(spec)], use_entry_points=False)
    # Also against a built-in: the message names the distribution that holds the id.
    with pytest.raises(
        PluginError,
        match=rf"'ecod' is registered twice: by plugin 'anomd {version('anomd')}'.*'FirstPlugin'",
    ):
        PluginHost(extra=[FirstPlugin(spec_with_id(builtin_host, "ecod"))])


class RaisingHook:
    @anomd.hookimpl
    def register_detectors(self, register):
        raise RuntimeError("cannot reach the licence server")


class HalfThenRaises(Registers):
    @anomd.hookimpl
    def register_detectors(self, register):
        super().register_detectors(register)
        raise RuntimeError("crashed after registering one")


class RegistersAString:
    @anomd.hookimpl
    def register_detectors(self, register):
        register("not a spec")


def test_a_hook_that_raises_is_isolated(builtin_host: PluginHost) -> None:
    good = Registers(spec_with_id(builtin_host, "good_one"))
    half = HalfThenRaises(spec_with_id(builtin_host, "half_registered"))
    host = PluginHost(extra=[RaisingHook(), half, RegistersAString(), good], use_entry_points=False)
    assert list(host.detectors) == ["good_one"], (
        "a failed plugin must serve nothing, not half of its backends"
    )
    errors = {r.name: r.error for r in host.failures}
    assert errors.keys() == {"RaisingHook", "HalfThenRaises", "RegistersAString"}
    assert errors["RaisingHook"].startswith(
        "hook register_detectors failed: RuntimeError: cannot reach the licence server"
    )
    assert "expects DetectorSpec, got str" in errors["RegistersAString"]
    assert host.records["HalfThenRaises"].provides == []
    assert host.records["Registers"].provides == ["detector:good_one"]
    with pytest.raises(PluginError, match="RaisingHook.*licence server"):
        PluginHost(extra=[RaisingHook()], use_entry_points=False, strict=True)


# -- through a real server -------------------------------------------------------------------


def test_a_real_server_reports_the_broken_plugin_and_serves_the_builtins(
    broken_dist: Path, tmp_path: Path
) -> None:
    env = {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(broken_dist), os.environ.get("PYTHONPATH")])
        )
    }
    with (
        running_server(data_dir=tmp_path / "data", env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        plugins = ok(http.get("/v1/plugins"))["data"]
        broken = [p for p in plugins if p["name"] == BROKEN_MODULE]
        assert len(broken) == 1, plugins
        assert broken[0]["status"] == "failed" and broken[0]["distribution"] == BROKEN_DIST
        assert BROKEN_MESSAGE in broken[0]["error"]
        assert all(p["status"] == "loaded" for p in plugins if p["distribution"] == "anomd")
        backends = ok(http.get("/v1/ml/anomaly/backends"))
        assert {row["backend"] for row in backends["data"]} == set(BACKENDS)
        assert backends["total"] == len(BACKENDS) == 13
        assert ok(http.get("/health"))["plugin_failures"] == 1
