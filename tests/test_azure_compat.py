"""The series routes over HTTP: native ones, and Azure AI Anomaly Detector v1.1 driven by
Microsoft's own Python SDK (``azure-ai-anomalydetector``) against a real server on 127.0.0.1.

The server has API keys configured, so the SDK's ``Ocp-Apim-Subscription-Key`` header is what
lets it in: an application written for Azure changes only its endpoint and its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient
from azure.ai.anomalydetector.models import (
    TimeGranularity,
    TimeSeriesPoint,
    UnivariateChangePointDetectionOptions,
    UnivariateDetectionOptions,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from helpers import ok, problem

from anomd.testing import ServerProcess, start_server

READ_KEY = "read-key-for-the-azure-tests"
ADMIN_KEY = "admin-key-for-the-azure-tests"
START = datetime(2026, 3, 1, tzinfo=UTC)
AZURE = "/anomalydetector/v1.1/timeseries"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("azure"),
                          env={"ANOMD_READ_KEYS": READ_KEY, "ANOMD_ADMIN_KEYS": ADMIN_KEY})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(keyed_server: ServerProcess) -> Iterator[AnomalyDetectorClient]:
    with AnomalyDetectorClient(keyed_server.url, AzureKeyCredential(READ_KEY)) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def http(keyed_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=keyed_server.url, timeout=60,
                      headers={"Ocp-Apim-Subscription-Key": READ_KEY}) as c:
        yield c


def daily_values(days: int = 120, seed: int = 3) -> np.ndarray:
    """Daily sales with a weekly cycle (weekends low) and noise."""
    rng = np.random.default_rng(seed)
    weekly = np.array([0, 2, 3, 3, 2, -4, -6], dtype=float)
    return 100 + weekly[np.arange(days) % 7] + rng.normal(0, 0.8, days)


def sdk_series(values: np.ndarray) -> list[TimeSeriesPoint]:
    return [TimeSeriesPoint(timestamp=START + timedelta(days=i), value=float(v)) for i, v in enumerate(values)]


def test_sdk_entire_finds_the_planted_spike_and_dip(client: AnomalyDetectorClient) -> None:
    values = daily_values()
    values[40] += 12
    values[90] -= 12
    result = client.detect_univariate_entire_series(
        UnivariateDetectionOptions(series=sdk_series(values), granularity=TimeGranularity.DAILY, sensitivity=95))
    assert result.period == 7
    assert np.flatnonzero(result.is_anomaly).tolist() == [40, 90]
    assert result.is_positive_anomaly[40] and result.is_negative_anomaly[90]
    assert len(result.expected_values) == len(result.upper_margins) == len(result.severity) == values.size
    # The expected values follow the weekly cycle (a Saturday is expected about 10 below a Wednesday).
    assert result.expected_values[5 + 7 * 5] < result.expected_values[2 + 7 * 5] - 6
    lower = np.array(result.expected_values) - np.array(result.lower_margins)
    upper = np.array(result.expected_values) + np.array(result.upper_margins)
    outside = (values < lower) | (values > upper)
    assert outside.tolist() == list(result.is_anomaly)


def test_sdk_last_point(client: AnomalyDetectorClient) -> None:
    values = daily_values(60)
    calm = client.detect_univariate_last_point(
        UnivariateDetectionOptions(series=sdk_series(values), granularity=TimeGranularity.DAILY))
    assert not calm.is_anomaly and calm.period == 7 and calm.suggested_window > 28
    values[-1] -= 15
    alarm = client.detect_univariate_last_point(
        UnivariateDetectionOptions(series=sdk_series(values), granularity=TimeGranularity.DAILY))
    assert alarm.is_anomaly and alarm.is_negative_anomaly and 0 < alarm.severity <= 1
    assert alarm.expected_value - alarm.lower_margin > values[-1]


def test_sdk_change_point(client: AnomalyDetectorClient) -> None:
    rng = np.random.default_rng(5)
    values = 50 + rng.normal(0, 1, 200)
    values[120:] += 10
    result = client.detect_univariate_change_point(UnivariateChangePointDetectionOptions(
        series=sdk_series(values), granularity=TimeGranularity.DAILY, stable_trend_window=10, threshold=0.99))
    found = np.flatnonzero(result.is_change_point)
    assert found.size == 1 and abs(int(found[0]) - 120) <= 2
    assert result.confidence_scores[int(found[0])] >= 0.99


def test_sdk_errors_carry_azure_codes(client: AnomalyDetectorClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        client.detect_univariate_entire_series(
            UnivariateDetectionOptions(series=sdk_series(daily_values(8)), granularity=TimeGranularity.DAILY))
    assert caught.value.status_code == 400 and caught.value.error.code == "InvalidSeries"
    assert "at least 12" in caught.value.error.message


def test_sdk_with_a_wrong_key_is_refused(keyed_server: ServerProcess) -> None:
    stranger = AnomalyDetectorClient(keyed_server.url, AzureKeyCredential("not-a-key-of-this-server"))
    with stranger, pytest.raises(ClientAuthenticationError):
        stranger.detect_univariate_last_point(UnivariateDetectionOptions(series=sdk_series(daily_values(20))))


def azure_series(values: np.ndarray, every: timedelta = timedelta(days=1)) -> list[dict]:
    return [{"timestamp": (START + i * every).isoformat().replace("+00:00", "Z"), "value": float(v)}
            for i, v in enumerate(values)]


@pytest.mark.parametrize(("body", "code"), [
    ({"series": azure_series(daily_values(5))}, "InvalidSeries"),
    ({}, "RequiredSeries"),
    ({"series": azure_series(daily_values())[::-1]}, "InvalidSeries"),
    ({"series": [{"timestamp": "2026-03-01T00:00:00Z", "value": "high"}] * 12}, "InvalidSeries"),
    ({"series": azure_series(daily_values()), "granularity": "fortnightly"}, "InvalidGranularity"),
    ({"series": azure_series(daily_values()), "granularity": "daily", "customInterval": 0}, "InvalidCustomInterval"),
    ({"series": azure_series(daily_values()), "period": 100}, "InvalidPeriod"),
    ({"series": azure_series(daily_values()), "sensitivity": 120}, "InvalidModelArgument"),
    ({"series": azure_series(daily_values()), "maxAnomalyRatio": 0.9}, "InvalidModelArgument"),
    ({"series": azure_series(daily_values()), "imputeMode": "guess"}, "InvalidImputeMode"),
    ({"series": [p for i, p in enumerate(azure_series(daily_values())) if i != 30], "imputeMode": "fixed"},
     "InvalidImputeFixedValue"),
    ({"series": azure_series(daily_values()), "granularity": "hourly"}, "InvalidSeries"),
])
def test_bad_requests_get_azure_error_codes(http: httpx.Client, body: dict, code: str) -> None:
    response = http.post(f"{AZURE}/entire/detect", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code and response.headers["x-ms-error-code"] == code
    assert response.json()["message"]


def test_v1_0_paths_answer_alike(http: httpx.Client) -> None:
    body = {"series": azure_series(daily_values()), "granularity": "daily"}
    assert ok(http.post("/anomalydetector/v1.0/timeseries/entire/detect", json=body)) == \
        ok(http.post(f"{AZURE}/entire/detect", json=body))


def test_malformed_json_is_invalid_json_format(http: httpx.Client) -> None:
    response = http.post(f"{AZURE}/last/detect", content=b'{"series": [', headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "InvalidJsonFormat"


def test_missing_points_are_imputed_on_the_compat_path(http: httpx.Client) -> None:
    values = daily_values()
    values[70] += 12
    series = [p for i, p in enumerate(azure_series(values)) if i % 9 != 4]
    body = ok(http.post(f"{AZURE}/entire/detect", json={"series": series, "granularity": "daily",
                                                           "imputeMode": "previous"}))
    assert len(body["isAnomaly"]) == len(series)
    flagged = [series[i]["timestamp"] for i, a in enumerate(body["isAnomaly"]) if a]
    assert flagged == [azure_series(values)[70]["timestamp"]]


def test_native_routes_answer_with_points_and_problem_details(keyed_server: ServerProcess) -> None:
    values = daily_values()
    values[33] += 12
    series = [{"timestamp": p["timestamp"], "value": p["value"]} for p in azure_series(values)]
    with httpx.Client(base_url=keyed_server.url, timeout=60,
                      headers={"Authorization": f"Bearer {READ_KEY}"}) as api:
        entire = ok(api.post("/v1/ml/anomaly/timeseries/entire", json={"series": series}))
        assert entire["granularity"] == "daily" and entire["period"] == 7 and entire["anomaly_count"] == 1
        point = entire["points"][33]
        assert point["is_anomaly"] and point["is_positive_anomaly"] and 0 < point["severity"] <= 1
        assert point["expected_value"] + point["upper_margin"] < values[33]
        last = ok(api.post("/v1/ml/anomaly/timeseries/last", json={"series": series[:34]}))
        assert last["is_anomaly"] and last["suggested_window"] > 0
        change = ok(api.post("/v1/ml/anomaly/timeseries/changepoint", json={"series": series}))
        assert change["change_points"] == [] and len(change["points"]) == values.size
        multi = ok(api.post("/v1/ml/anomaly/timeseries/multivariate", json={
            "timestamps": [p["timestamp"] for p in series],
            "variables": [{"name": "sales", "values": values.tolist()},
                          {"name": "returns", "values": (values * 0.05).round(2).tolist()}]}))
        assert [p["index"] for p in multi["points"] if p["is_anomaly"]] == [33]
        assert "at least 12" in problem(api.post("/v1/ml/anomaly/timeseries/entire",
                                                 json={"series": series[:3]}), 422)
        assert "$.series[0].value" in problem(api.post("/v1/ml/anomaly/timeseries/entire",
                                                       json={"series": [{"value": "x"}] * 12}), 422)
        overflow = b'{"series": [' + b",".join([b'{"value": 1e999}'] * 12) + b"]}"
        assert "$.series[0].value" in problem(api.post("/v1/ml/anomaly/timeseries/entire", content=overflow,
                                                       headers={"content-type": "application/json"}), 422)
        not_a_number = overflow.replace(b"1e999", b"NaN")
        problem(api.post("/v1/ml/anomaly/timeseries/entire", content=not_a_number,
                         headers={"content-type": "application/json"}), 400)
        assert "sensitivity" in problem(api.post("/v1/ml/anomaly/timeseries/entire",
                                                 json={"series": series, "sensitivity": 100}), 422)
    # A series route needs a key, and a read key is enough.
    assert httpx.post(keyed_server.url + "/v1/ml/anomaly/timeseries/entire", json={"series": series}).status_code == 401
