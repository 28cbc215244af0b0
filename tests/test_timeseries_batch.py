"""Series in batch: /detect, anomd.detect and `anomd detect FILE` on rows with timestamps, and
the guards that keep a timestamp (or any identifier-like string) from becoming features."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from helpers import ok, problem

import anomd
from anomd.errors import InvalidInput, TooLarge
from anomd.timeseries.timestamps import iso

START = 1709251200  # 2024-03-01T00:00:00Z


def series_rows(n: int = 600, spike: int | None = 500, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = START + 300 * np.arange(n)
    value = 10 * np.sin(2 * np.pi * np.arange(n) / 96) + rng.normal(scale=0.5, size=n)
    if spike is not None:
        value[spike] += 25.0
    return [{"timestamp": iso(float(s)), "value": float(v)} for s, v in zip(t, value)]


def test_rows_with_timestamps_are_scored_as_a_series_in_time_order() -> None:
    rows = series_rows()
    shuffled_order = np.random.default_rng(1).permutation(len(rows))
    shuffled = [rows[i] for i in shuffled_order]
    in_order, mixed = anomd.detect(rows), anomd.detect(shuffled)
    assert in_order.normalization == "calibrated" and in_order.is_anomaly[500]
    assert in_order.is_anomaly.sum() <= 0.02 * len(rows)
    # The same series sent in any order gets the same score per row (results in request order).
    np.testing.assert_array_equal(mixed.score, in_order.score[shuffled_order])
    np.testing.assert_array_equal(mixed.times, in_order.times[shuffled_order])
    assert (in_order.score[:29] == 0).all() and not in_order.is_anomaly[:29].any()  # warm-up
    table = anomd.detect(rows, series=False)  # the timestamp left out, rows unordered
    assert table.normalization == "standardization" and table.times is None


def test_series_detect_over_http(api) -> None:
    rows = series_rows()
    body = ok(api.post("/detect", json={"data": rows}))
    summary = body["summary"]
    assert (summary["pipeline"], summary["normalization"], summary["warm_up_rows"]) == ("series", "calibrated", 29)
    assert summary["period"] == 96 and summary["features"] == ["value", "value_seasonal", "value_rolling_mean_4", "value_rolling_mean_16", "value_rolling_mean_64"]
    flagged = {p["index"]: p for p in body["data"]}
    assert 500 in flagged and flagged[500]["timestamp"] == rows[500]["timestamp"]
    assert all(p["is_anomaly"] and p["score"] > summary["threshold"] for p in body["data"])
    assert body["backend"] == "surprise" and summary["threshold"] == pytest.approx(0.2)
    table = ok(api.post("/detect", json={"data": rows, "series": False}))
    assert table["summary"]["pipeline"] == "tabular" and "timestamp" not in table["data"][0]
    custom = [{"at": r["timestamp"], "value": r["value"]} for r in rows]
    assert ok(api.post("/detect", json={"data": custom, "timestamp_field": "at"}))["summary"]["pipeline"] == "series"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda rows: rows[7].update(timestamp="noon"), 422, "row 7, 'timestamp': 'noon' is not an ISO 8601"),
        (lambda rows: rows[3].pop("timestamp"), 422, "row 3: missing 'timestamp'"),
        (lambda rows: rows[4].update(value="high"), 422, "row 4"),
        (lambda rows: rows[5].update(extra=1.0), 422, "row 5"),
    ],
)
def test_bad_series_rows_are_named(api, change, status, message) -> None:
    rows = series_rows(100, spike=None)
    change(rows)
    assert message in problem(api.post("/detect", json={"data": rows}), status)


def test_too_short_a_series_and_series_without_timestamps_are_refused(api) -> None:
    message = problem(api.post("/detect", json={"data": series_rows(29, spike=None)}), 422)
    assert "a series needs at least 30 rows to score any (its first 29 are its warm-up); got 29" in message
    assert ok(api.post("/detect", json={"data": series_rows(30, spike=None)}))["summary"]["warm_up_rows"] == 29
    plain = [{"value": float(i)} for i in range(50)]
    assert "carry no 'timestamp'" in problem(api.post("/detect", json={"data": plain, "series": True}), 422)
    assert "normalization does not apply" in problem(
        api.post("/detect", json={"data": series_rows(100, spike=None), "normalization": "zscore"}), 422)


def test_a_timestamp_is_never_a_feature_of_a_table(tmp_path) -> None:
    rows = [{"timestamp": iso(START + 60.0 * i), "amount": float(i % 13), "items": i % 3} for i in range(2000)]
    service = anomd.AnomalyService(anomd.load_settings(env={}, data_dir=str(tmp_path)))
    outcome = service.fit(rows, model="payments")
    assert outcome.model.info.feature_names == ["amount", "items"]
    _, scores = service.score(rows[:5], model="payments")  # rows may keep carrying it
    assert scores.raw.shape == (5,)


def test_identifier_like_strings_are_refused_before_anything_is_allocated() -> None:
    rows = [{"user": f"user-{i}", "amount": float(i)} for i in range(1500)]
    with pytest.raises(InvalidInput, match="column 'user' has 1500 distinct strings, more than the 1000"):
        anomd.detect(rows)
    few = [{"country": ["fr", "de", "it"][i % 3], "amount": float(i)} for i in range(1500)]
    assert anomd.detect(few).raw.shape == (1500,)  # a real category is fine


def test_max_columns_counts_the_encoded_features(tmp_path) -> None:
    settings = anomd.load_settings(env={}, data_dir=str(tmp_path), max_columns=50)
    service = anomd.AnomalyService(settings)
    rows = [{"shop": f"s{i % 60}", "amount": float(i)} for i in range(600)]  # 2 keys, 61 features
    with pytest.raises(TooLarge, match="encode to 61 features, over this server's limit of 50"):
        service.fit(rows, model="too-wide")


def test_cli_detect_treats_a_file_with_a_timestamp_column_as_a_series(tmp_path) -> None:
    rows = series_rows()
    path = tmp_path / "sensor.csv"
    pl.DataFrame(rows).write_csv(path)
    out = tmp_path / "flagged.csv"
    done = subprocess.run([sys.executable, "-m", "anomd", "detect", str(path), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "as a time series" in done.stderr and "period 96" in done.stderr
    result = pl.read_csv(out)
    assert result.columns == ["timestamp", "value", "score", "is_anomaly", "raw_score"]
    assert result["is_anomaly"][500] and result["timestamp"][500] == rows[500]["timestamp"]
    np.testing.assert_allclose(result["score"].to_numpy(), anomd.detect(rows).score)
    table = subprocess.run([sys.executable, "-m", "anomd", "detect", str(path), "--no-series", "-q"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert table.returncode == 0 and "timestamp,value,score" in table.stdout.splitlines()[0]
