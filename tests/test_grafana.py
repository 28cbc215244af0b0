"""deploy/grafana/anomd.json is a valid board whose every query reads a metric anomd exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from helpers import ok

from anomd.testing import start_server

BOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "anomd.json"
METRIC = re.compile(r"\banomd_[a-z0-9_]+\b")
SAMPLE = re.compile(r"^(anomd_[a-z0-9_]+)(?:\{| )", re.MULTILINE)


@pytest.fixture(scope="module")
def board() -> dict:
    return json.loads(BOARD.read_text())


def panels(board: dict) -> Iterator[dict]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Metric names with samples on a real server's /metrics after every kind of work.

    Labelled counters and histograms have samples only once something was counted, so the
    server first fits, scores, detects, streams (through a retrain), deletes and fails a fit.
    """
    server = start_server(tmp_path_factory.mktemp("grafana"))
    try:
        with httpx.Client(base_url=server.api, timeout=120) as api:
            X = np.random.default_rng(0).normal(size=(80, 3)).tolist()
            ok(api.post("/fit", json={"model": "g", "data": X}))
            ok(api.post("/score", json={"model": "g", "data": X[:5]}))
            ok(api.post("/detect", json={"data": X}))
            assert api.post("/fit", json={"model": "g2", "data": [[1.0]]}).status_code == 422
            points = [{"a": float(v)} for v in np.random.default_rng(1).normal(size=60)]
            ok(api.post("/stream", json={"model_id": "g", "min_samples": 20, "retrain_interval": 10,
                                          "data": points}))
            for point in points[:15]:
                ok(api.post("/stream", json={"model_id": "g", "data": point}))
            ok(api.delete("/models/g_ecod.joblib"))
            text = httpx.get(server.url + "/metrics", timeout=30).text
    finally:
        server.stop()
    return set(SAMPLE.findall(text))


def test_the_board_is_a_grafana_dashboard(board: dict) -> None:
    assert board["title"] == "anomd" and board["uid"] and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(board):
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]


def test_every_panel_queries_metrics_a_real_server_exports(board: dict, exported: set[str]) -> None:
    assert {"anomd_stream_points_flagged_total", "anomd_http_request_duration_seconds_bucket",
            "anomd_fit_duration_seconds_bucket"} <= exported
    used: set[str] = set()
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            names = set(METRIC.findall(expr))
            assert names, f"{panel['title']!r}: {expr} names no anomd metric"
            missing = names - exported
            assert not missing, f"{panel['title']!r} queries {missing}, which /metrics does not export"
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
            assert 'instance=~"$instance"' in expr, f"{panel['title']!r} ignores the instance filter"
            used |= names
    instance_query = next(v for v in board["templating"]["list"] if v["name"] == "instance")
    assert set(METRIC.findall(instance_query["definition"])) <= exported
    # The board covers what the issue asks for: requests, latency, fits, stream points,
    # retrains and the flagged share.
    assert {"anomd_http_requests_total", "anomd_http_request_duration_seconds_bucket",
            "anomd_fits_total", "anomd_stream_points_total", "anomd_stream_retrains_total",
            "anomd_stream_points_flagged_total", "anomd_stream_points_scored_total"} <= used
