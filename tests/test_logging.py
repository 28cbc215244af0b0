"""The server's log: one line per request, and with ``log_format = "json"`` nothing but JSON.

A log collector reading JSON lines chokes on one bare line, and PyOD and scipy print Python
warnings on degenerate data (a constant column here), so the test makes one happen.
"""

from __future__ import annotations

import json

import httpx
from helpers import ok

from anomd.testing import start_server


def test_json_log_has_a_line_per_request_and_nothing_else(tmp_path) -> None:
    server = start_server(tmp_path, env={"ANOMD_LOG_FORMAT": "json", "ANOMD_LOG_LEVEL": "info"})
    try:
        with httpx.Client(base_url=server.api, timeout=120) as api:
            constant_column = [[float(i % 7), 2.5] for i in range(60)]
            # PyOD's ECOD (the reference path; the fast path fits without scipy) warns about the
            # constant column's skewness: a Python warning that must reach the log as JSON.
            ok(api.post("/fit", json={"model": "logged", "backend": "ecod", "data": constant_column,
                                      "params": {"fast_scoring": False}}))
            # SUOD's joblib progress lines used to go straight to stderr, past the JSON logging.
            ok(api.post("/fit", json={"model": "logged", "backend": "suod", "data": constant_column,
                                      "params": {"base_estimators": ["hbos", "isolation_forest"]}}))
            assert api.post("/score", json={"model": "missing", "data": [[1.0, 2.0]]}).status_code == 404
            ok(api.post("/stream", json={"model_id": "logged-stream", "data": {"x": 1.0}}))
    finally:
        server.stop()

    lines = [line for line in server.log().splitlines() if line.strip()]
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"a log line is not JSON: {line!r}\nwhole log:\n{server.log()}") from None

    listening = [e for e in events if str(e.get("event", "")).startswith("anomd listening on http://127.0.0.1:")]
    assert len(listening) == 1 and "/schema" in listening[0]["event"], server.log()
    requests = [e for e in events if e.get("event") == "request"]
    by_path = {e["path"]: e for e in requests}
    fit = by_path["/v1/ml/anomaly/fit"]
    assert (fit["method"], fit["status"], fit["model"], fit["level"]) == ("POST", 200, "logged", "info")
    assert isinstance(fit["duration_ms"], float) and fit["duration_ms"] > 0 and "timestamp" in fit
    assert by_path["/v1/ml/anomaly/score"]["status"] == 404
    assert by_path["/v1/ml/anomaly/score"]["model"] == "missing"
    assert by_path["/v1/ml/anomaly/stream"]["model"] == "logged-stream"

    warned = [e for e in events if e.get("logger") == "py.warnings"]
    assert warned, f"the fit's RuntimeWarning did not reach the log:\n{server.log()}"
    assert warned[0]["level"] == "warning" and "RuntimeWarning" in warned[0]["event"]
