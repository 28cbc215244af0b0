"""Streams of time series: timestamps on points, the series pipeline, and what it catches."""

from __future__ import annotations

import numpy as np
import pytest

from anomd import StreamingAnomalyDetector
from anomd.errors import InvalidInput
from anomd.streaming import InlineExecutor, process_executor
from anomd.timeseries.timestamps import iso

START = 1709251200.0  # 2024-03-01T00:00:00Z


def daily(n: int, seed: int = 0, step: float = 300.0, noise: float = 0.3) -> list[dict]:
    """A daily rhythm sampled every ``step`` seconds, as ISO strings and epoch numbers mixed."""
    rng = np.random.default_rng(seed)
    t = START + step * np.arange(n)
    value = 10 * np.sin(2 * np.pi * t / 86_400) + 50 + rng.normal(scale=noise, size=n)
    return [{"timestamp": iso(ts) if i % 2 else ts, "value": v} for i, (ts, v) in enumerate(zip(t.tolist(), value.tolist()))]


def test_points_with_a_timestamp_get_the_series_pipeline() -> None:
    detector = StreamingAnomalyDetector("s", executor=InlineExecutor())
    assert detector.pipeline == "auto" and detector.backend is None
    detector.process_many(daily(2000))
    stats = detector.get_stats()
    assert (stats["pipeline"], stats["backend"], stats["timestamp_field"]) == ("series", "surprise", "timestamp")
    assert stats["columns"] == ["value"] and "timestamp" not in stats["features"]  # never a feature
    assert stats["features"] == ["value", "value_seasonal", "value_rolling_mean_4", "value_rolling_mean_16", "value_rolling_mean_64"]
    seasonal = next(t for t in stats["transforms"] if t["transform"] == "seasonal")
    assert seasonal["period"] == 288  # one day of 5-minute points, found in the data
    assert stats["last_timestamp"] == iso(START + 300.0 * 1999)
    assert stats["postprocessor"] == {"postprocessor": "episode"}


def test_a_seasonal_break_is_caught_where_the_value_itself_is_ordinary() -> None:
    """Four days of a daily rhythm, then an afternoon that stays at the morning's level: every
    value is inside the usual range; only the time makes it odd."""
    points = daily(288 * 6, seed=1)
    broken = range(288 * 5 + 120, 288 * 5 + 170)  # 10:00-14:10 on day 6, flat at the day's mean
    for i in broken:
        points[i]["value"] = 50.0
    detector = StreamingAnomalyDetector("break", executor=InlineExecutor())
    out = detector.process_many(points)
    assert out.flag[list(broken)].any()
    before = out.flag[288 * 3 : 288 * 5]
    assert before.mean() <= 0.01, f"{before.sum()} alarms on two ordinary days"


def test_series_results_equal_point_by_point_and_replay_on_processes() -> None:
    points = daily(1500, seed=2)
    points[1200]["value"] += 30
    batch = StreamingAnomalyDetector("a", executor=InlineExecutor()).process_many(points)
    one = StreamingAnomalyDetector("b")
    singles = [one.process(p) for p in points]
    np.testing.assert_array_equal(batch.flag, [bool(r.is_anomaly) for r in singles])
    np.testing.assert_allclose(np.nan_to_num(batch.score), [r.score or 0.0 for r in singles], rtol=1e-12)
    pool = process_executor(1)
    try:
        again = StreamingAnomalyDetector("c", executor=pool).process_many(points)
    finally:
        pool.shutdown()
    np.testing.assert_array_equal(again.score, batch.score)
    assert batch.flag[1200]


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [("yesterday", "point 3: 'timestamp': 'yesterday' is not an ISO 8601 timestamp"),
     (True, "point 3: 'timestamp': expected a timestamp, got a boolean"),
     (1.7e18, "point 3: 'timestamp': 1700000000000000000 is too large")],
)
def test_a_bad_timestamp_is_named_and_changes_nothing(timestamp, message) -> None:
    detector = StreamingAnomalyDetector("bad-time", executor=InlineExecutor())
    points = daily(10)
    detector.process_many(points[:5])
    batch = points[5:10]
    batch[3] = {"timestamp": timestamp, "value": 1.0}
    with pytest.raises(InvalidInput) as err:
        detector.process_many(batch)
    assert message in err.value.detail
    assert detector.get_stats()["total_processed"] == 5
    with pytest.raises(InvalidInput, match="missing key\\(s\\) 'timestamp'"):
        detector.process({"value": 1.0})
    with pytest.raises(InvalidInput, match="missing key\\(s\\) 'value'"):
        detector.process({"timestamp": START})


def test_late_points_are_accepted_in_arrival_order_or_refused_by_choice() -> None:
    points = daily(60)
    late = dict(points[40], timestamp=START - 3600)
    accepting = StreamingAnomalyDetector("late", executor=InlineExecutor())
    accepting.process_many(points[:50])
    accepting.process(late)
    accepting.process_many([late, points[50]])
    stats = accepting.get_stats()
    assert stats["late_points"] == 2 and stats["total_processed"] == 53
    assert stats["last_timestamp"] == iso(points[50]["timestamp"])
    refusing = StreamingAnomalyDetector("strict", late_points="reject", executor=InlineExecutor())
    refusing.process_many(points[:50])
    with pytest.raises(InvalidInput, match="earlier than the stream's latest point"):
        refusing.process(late)
    with pytest.raises(InvalidInput, match="point 1: 'timestamp' is earlier"):
        refusing.process_many([points[50], late])
    assert refusing.get_stats()["total_processed"] == 50


def test_a_custom_timestamp_field_and_calendar_features() -> None:
    points = [{"at": p["timestamp"], "load": p["value"]} for p in daily(400, seed=3)]
    detector = StreamingAnomalyDetector(
        "clock", timestamp_field="at", executor=InlineExecutor(), pipeline="series",
        transforms=[{"transform": "calendar", "features": ["hour_of_day"]}],
    )
    detector.process_many(points)
    assert detector.get_stats()["features"] == ["load", "hour_of_day_sin", "hour_of_day_cos"]
    with pytest.raises(InvalidInput, match="reads the points' timestamps"):
        StreamingAnomalyDetector("no-clock", transforms=[{"transform": "calendar"}]).process({"load": 1.0})


def test_a_stream_without_timestamps_keeps_the_tabular_pipeline() -> None:
    detector = StreamingAnomalyDetector("plain", executor=InlineExecutor())
    detector.process_many([{"a": float(i % 7)} for i in range(60)])
    stats = detector.get_stats()
    assert (stats["pipeline"], stats["backend"], stats["timestamp_field"]) == ("tabular", "ecod", None)
    with pytest.raises(InvalidInput, match="unexpected key\\(s\\) 'timestamp'"):
        detector.process({"a": 1.0, "timestamp": START})


@pytest.mark.data("nab")
def test_a_default_stream_catches_the_labelled_windows_of_real_series() -> None:
    """nyc_taxi (5 windows: marathon, Thanksgiving, Christmas, New Year, a blizzard) and
    machine_temperature (4 windows, a failure building up), streamed as they arrived into a
    stream created with nothing but its id."""
    from benchmarks.nab import load_series

    wanted = ("realKnownCause/nyc_taxi.csv", "realKnownCause/machine_temperature_system_failure.csv")
    for name, ts, values, windows in (s for s in load_series() if s[0] in wanted):
        seconds = ts.astype("datetime64[s]").astype(np.int64).tolist()
        detector = StreamingAnomalyDetector("nab")
        out = detector.process_many([{"timestamp": t, "value": v} for t, v in zip(seconds, values.tolist())])
        inside = np.zeros(len(values), dtype=bool)
        for left, right in windows:
            inside[left : right + 1] = True
        caught = sum(bool(out.flag[left : right + 1].any()) for left, right in windows)
        assert caught == len(windows), f"{name}: {caught} of {len(windows)} windows"
        assert out.flag[~inside].mean() < 0.03, f"{name}: {out.flag[~inside].mean():.3f} of ordinary points flagged"


def test_a_series_stream_over_http(api) -> None:
    from helpers import ok, problem

    points = daily(700, seed=7)
    points[650]["value"] += 40.0
    first = ok(api.post("/stream", json={"model_id": "http-series", "data": points[:600]}))
    assert first["status"] == "ready" and first["model_version"] >= 1
    stats = ok(api.get("/stream/http-series"))
    assert (stats["pipeline"], stats["backend"], stats["timestamp_field"]) == ("series", "surprise", "timestamp")
    assert stats["last_timestamp"] == iso(START + 300.0 * 599)
    body = ok(api.post("/stream", json={"model_id": "http-series", "data": points[600:]}))
    flagged = [p["index"] for p in body["results"] if p["is_anomaly"]]
    assert 50 in flagged and len(flagged) <= 3
    single = ok(api.post("/stream", json={"model_id": "http-series",
                                          "data": {"timestamp": iso(START + 300.0 * 700), "value": 50.0}}))
    assert single["results"][0]["score"] is not None
    detail = problem(api.post("/stream", json={"model_id": "http-series",
                                               "data": {"timestamp": "later", "value": 1.0}}), 422)
    assert "'timestamp': 'later' is not an ISO 8601" in detail
    assert 'pipeline="tabular" (detector has "series")' in problem(api.post("/stream", json={
        "model_id": "http-series", "pipeline": "tabular", "data": points[:1]}), 409)
    strict = {"model_id": "http-strict", "late_points": "reject", "data": points[:40]}
    ok(api.post("/stream", json=strict))
    late = dict(points[10])
    assert "earlier than the stream's latest" in problem(
        api.post("/stream", json={"model_id": "http-strict", "data": late}), 422)
    assert ok(api.get("/stream/http-strict"))["total_processed"] == 40
    tabular = ok(api.post("/stream", json={"model_id": "http-plain", "data": [{"v": 1.0}, {"v": 2.0}]}))
    assert tabular["status"] == "collecting" and ok(api.get("/stream/http-plain"))["pipeline"] == "tabular"
