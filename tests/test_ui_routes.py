"""The dashboard's routes on a real server: page, assets, data, the live event stream, /schema.

What the page does with them in a browser is tests/test_ui_browser.py.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import ok

from anomd.server.app import create_app
from anomd.server.auth import required_scope
from anomd.settings import load_settings
from anomd.testing import ServerProcess, start_server
from anomd.ui.routes import STATIC

ADMIN = "ui-admin-key-000000001"
READ = "ui-read-key-0000000002"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def client(module_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=module_server.url, timeout=60) as c:
        yield c


def feed_stream(client: httpx.Client, stream: str, n: int = 60, spike: bool = True) -> list[dict]:
    """A ready stream: ``n`` normal points as one batch, then a far spike on its own."""
    rng = np.random.default_rng(3)
    normal = [{"temp": float(a), "load": float(b)} for a, b in rng.normal(size=(n, 2))]
    replies = [ok(client.post("/v1/ml/anomaly/stream",
                              json={"model_id": stream, "min_samples": 30, "data": normal}))]
    if spike:
        replies.append(ok(client.post("/v1/ml/anomaly/stream",
                                      json={"model_id": stream, "data": {"temp": 15.0, "load": -15.0}})))
    return replies


def events(response: httpx.Response) -> Iterator[tuple[str, dict | None]]:
    """Server-Sent Events of a streamed response: (event, data) pairs; comments as ("", None)."""
    block: list[str] = []
    for line in response.iter_lines():
        if line:
            block.append(line)
            continue
        kind, data = "", None
        for field in block:
            if field.startswith("event:"):
                kind = field[6:].strip()
            elif field.startswith("data:"):
                data = json.loads(field[5:].strip())
        block = []
        yield kind, data


# -- page and assets ------------------------------------------------------------------------


def test_the_page_and_every_asset_it_names_are_served_from_here(client: httpx.Client) -> None:
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert not EXTERNAL.search(page.text)
    assets = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text)
    assert "/ui/static/vendor/uplot/uPlot.iife.min.js" in assets and "/ui/static/js/app.js" in assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["cache-control"] == "no-cache"
    assert client.get("/ui/static/vendor/uplot/LICENSE").text.startswith("The MIT License")


def test_every_module_the_page_imports_exists() -> None:
    """The script is plain ES modules (no build step): a typo in an import is a blank page."""
    js = STATIC / "js"
    seen = 0
    for module in js.rglob("*.js"):
        for target in re.findall(r'from\s+"(\.[^"]+)"', module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"
            seen += 1
        assert not EXTERNAL.search(module.read_text()), module.name
    assert seen > 10


def test_vendored_libraries_ship_with_their_licences() -> None:
    vendor = STATIC / "vendor"
    for library, bundle in (("uplot", "uPlot.iife.min.js"), ("redoc", "redoc.standalone.js")):
        assert (vendor / library / "LICENSE").read_text().startswith("The MIT License"), library
        assert (vendor / library / bundle).stat().st_size > 10_000
    assert (vendor / "redoc" / "redoc.standalone.js.LICENSE.txt").is_file()


def test_schema_renders_from_local_assets_only(client: httpx.Client) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    head = page.text.split("Redoc.init(", 1)[0]  # the inline spec may quote URLs as text
    assert '<script src="/schema/static/redoc.standalone.js"' in head
    assert not EXTERNAL.search(head) and "fonts.googleapis" not in page.text
    bundle = client.get("/schema/static/redoc.standalone.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert len(bundle.content) > 500_000


# -- data -----------------------------------------------------------------------------------


def test_stream_rows_carry_flagged_share_and_last_anomaly(client: httpx.Client) -> None:
    replies = feed_stream(client, "ui-rows")
    assert replies[-1]["results"][0]["is_anomaly"] is True
    rows = {r["model_id"]: r for r in ok(client.get("/ui/api/streams"))["data"]}
    row = rows["ui-rows"]
    assert row["status"] in ("ready", "retraining") and row["live"] is True
    assert row["total_processed"] == 61 and row["columns"] == ["load", "temp"]
    assert row["anomalies_detected"] >= 1 and 0 < row["anomaly_rate"] <= 1
    assert row["last_anomaly_seq"] == 60 and abs(row["last_anomaly_at"] - time.time()) < 60
    assert row["watchers"] == 0


def test_figures_and_metrics_count_scored_and_flagged_points(client: httpx.Client) -> None:
    def flagged_metric() -> tuple[float, float]:
        text = client.get("/metrics").text
        values = dict(re.findall(r"^(anomd_stream_points_(?:scored|flagged)_total) (\S+)$", text, re.MULTILINE))
        return float(values["anomd_stream_points_scored_total"]), float(values["anomd_stream_points_flagged_total"])

    scored0, flagged0 = flagged_metric()
    replies = feed_stream(client, "ui-counted")
    points = [p for r in replies for p in r["results"]]
    scored = sum(p["score"] is not None for p in points)
    flagged = sum(bool(p["is_anomaly"]) for p in points)
    assert scored > 0 and flagged > 0
    assert flagged_metric() == (scored0 + scored, flagged0 + flagged)
    figures = ok(client.get("/ui/api/figures"))
    assert figures["stream_points_flagged"] == flagged0 + flagged
    assert figures["flagged_share"] == pytest.approx(figures["stream_points_flagged"] / figures["stream_points_scored"])
    assert figures["requests"] > 0 and figures["latency_p95_s"] is not None


def test_transforms_are_listed_with_their_option_schemas(client: httpx.Client) -> None:
    rows = {r["transform"]: r for r in ok(client.get("/ui/api/transforms"))["data"]}
    assert {"rolling", "lag", "diff"} <= rows.keys()
    assert rows["rolling"]["options"]["type"] == "object" and rows["rolling"]["options"]["properties"]


# -- the live event stream ------------------------------------------------------------------


def test_live_events_send_the_kept_points_then_new_ones_as_they_arrive(
    client: httpx.Client, module_server: ServerProcess
) -> None:
    feed_stream(client, "ui-live", spike=False)
    with httpx.Client(base_url=module_server.url, timeout=30) as watcher, \
            watcher.stream("GET", "/ui/api/streams/ui-live/live") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        assert next(stream) == ("hello", {"model_id": "ui-live", "batch_s": 0.1})
        kind, history = next(stream)
        assert kind == "points" and history["seq"] == 0 and len(history["score"]) == 60
        assert history["columns"] == ["load", "temp"] and len(history["values"]) == 2
        assert history["score"][0] is None and history["score"][-1] is not None  # cold start first
        rows = {r["model_id"]: r for r in ok(client.get("/ui/api/streams"))["data"]}
        assert rows["ui-live"]["watchers"] == 1

        sent = time.monotonic()
        spike = ok(client.post("/v1/ml/anomaly/stream",
                               json={"model_id": "ui-live", "data": {"temp": 15.0, "load": -15.0}}))
        kind, update = next(stream)
        assert time.monotonic() - sent < 2.0
        assert kind == "points" and update["seq"] == 60 and update["flag"] == [1]
        assert update["values"] == [[-15.0], [15.0]]
        assert update["score"][0] == pytest.approx(spike["results"][0]["score"])
        assert update["threshold"][0] == pytest.approx(spike["threshold"])

    with httpx.Client(base_url=module_server.url, timeout=30) as watcher, \
            watcher.stream("GET", "/ui/api/streams/ui-live/live", params={"since": 58}) as response:
        stream = events(response)
        next(stream)
        kind, resumed = next(stream)
        assert resumed["seq"] == 58 and len(resumed["score"]) == 3  # a reconnect resumes


def test_live_events_refuse_a_bad_stream_id(client: httpx.Client) -> None:
    assert client.get("/ui/api/streams/detectors/live").status_code == 422


def test_an_open_event_stream_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            feed_stream(c, "ui-stop", spike=False)
        ended = threading.Event()

        def watch() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as c, \
                    c.stream("GET", "/ui/api/streams/ui-stop/live") as response:
                for _ in events(response):
                    pass
            ended.set()

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        time.sleep(1.0)
        started = time.monotonic()
        server.stop(signal.SIGTERM, timeout=15)
        assert time.monotonic() - started < 10, server.log()[-2000:]
        assert ended.wait(5)
        # A graceful stop: the lifespan ran to its end (uvicorn then re-raises the signal).
        assert "stream detectors checkpointed" in server.log()
    finally:
        server.stop(signal.SIGKILL)


# -- who gets the dashboard -----------------------------------------------------------------


def _paths(tmp_path: Path, **settings) -> set[str]:
    app = create_app(load_settings(env={}, data_dir=str(tmp_path), warm_up=False, **settings))
    return {route.path for route in app.routes}


@pytest.mark.parametrize(("settings", "served"), [
    ({}, True),                                                          # loopback
    ({"host": "0.0.0.0", "allow_unauthenticated": True}, False),         # open and reachable
    ({"host": "0.0.0.0", "allow_unauthenticated": True, "ui": "on"}, True),
    ({"host": "0.0.0.0", "read_keys": [READ]}, True),                    # keys: data needs one
    ({"ui": "off"}, False),
])
def test_the_dashboard_is_off_by_default_on_an_open_reachable_server(
    tmp_path: Path, settings: dict, served: bool
) -> None:
    paths = _paths(tmp_path, **settings)
    assert ("/ui" in paths) is served
    assert "/schema/static" in {p.rsplit("/{", 1)[0] for p in paths}  # the API docs always


def test_page_and_assets_are_open_data_needs_a_key() -> None:
    assert required_scope("GET", "/ui") == "open"
    assert required_scope("GET", "/ui/static/js/app.js") == "open"
    assert required_scope("GET", "/ui/static/vendor/uplot/uPlot.min.css") == "open"
    assert required_scope("GET", "/ui/api/streams") == "read"
    assert required_scope("GET", "/ui/api/streams/s/live") == "read"
    assert required_scope("GET", "/ui/static/../api/figures") == "read"
    assert required_scope("GET", "/ui/static/js/../../api/figures") == "read"
    assert required_scope("POST", "/ui") == "admin"


def test_with_keys_the_page_loads_and_its_data_needs_a_read_key(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"ANOMD_ADMIN_KEYS": ADMIN, "ANOMD_READ_KEYS": READ})
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            assert c.get("/ui").status_code == 200
            assert c.get("/ui/static/app.css").status_code == 200
            for path in ("/ui/api/streams", "/ui/api/figures", "/ui/api/transforms",
                         "/ui/api/streams/s/live"):
                assert c.get(path).status_code == 401, path
            assert c.get("/ui/api/figures", headers={"authorization": f"Bearer {READ}"}).status_code == 200
    finally:
        server.stop()
