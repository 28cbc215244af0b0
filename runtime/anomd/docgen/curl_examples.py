"""Example requests shown in ``docs/api.md``, one per route.

They are data rather than prose so that ``tests/test_api_docs.py`` can send every one of them,
in this order, to a real server: an example that the API rejects fails the tests.
"""

from __future__ import annotations

from typing import Any

BASE_URL = "http://127.0.0.1:8000"

_TRANSACTIONS = [
    {"amount": 12.5, "merchant_category": "grocery", "hour": 9, "is_foreign": False},
    {"amount": 40.0, "merchant_category": "fuel", "hour": 18, "is_foreign": False},
    {"amount": 23.9, "merchant_category": "grocery", "hour": 12, "is_foreign": False},
    {"amount": 61.0, "merchant_category": "restaurant", "hour": 20, "is_foreign": False},
    {"amount": 35.2, "merchant_category": "fuel", "hour": 8, "is_foreign": False},
    {"amount": 18.4, "merchant_category": "restaurant", "hour": 13, "is_foreign": False},
    {"amount": 27.0, "merchant_category": "grocery", "hour": 17, "is_foreign": False},
    {"amount": 3200.0, "merchant_category": "restaurant", "hour": 3, "is_foreign": True},
]

#: Hourly visits to a page for a day, with one odd hour (20:00).
_VISITS = [
    {"timestamp": f"2026-11-02T{h:02d}:00:00Z", "value": v}
    for h, v in enumerate([120, 118, 121, 119, 122, 120, 117, 121, 123, 119, 120, 122,
                           118, 121, 120, 119, 122, 120, 121, 118, 310, 121, 119, 120])
]
#: Orders per hour: about a tenth of the visits, except at 20:00.
_ORDERS = [12, 12, 12, 12, 12, 12, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 13, 12, 12, 12]
#: A level that steps up at the ninth point and stays.
_LEVELS = [
    {"timestamp": f"2026-11-02T{h:02d}:00:00Z", "value": v}
    for h, v in enumerate([10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 10.0, 9.9, 15.1, 14.9, 15.0, 15.2,
                           14.8, 15.1, 15.0, 14.9, 15.1, 15.0, 14.9, 15.2])
]

#: (method, path, body) keyed by ``"METHOD path"`` as the OpenAPI document spells the path.
EXAMPLES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "POST /v1/ml/anomaly/fit": (
        "POST",
        "/v1/ml/anomaly/fit",
        {
            "model": "fraud-detector",
            "backend": "ecod",
            "contamination": 0.1,
            "data": _TRANSACTIONS,
        },
    ),
    "POST /v1/ml/anomaly/score": (
        "POST",
        "/v1/ml/anomaly/score",
        {
            "model": "fraud-detector",
            "backend": "ecod",
            "data": [
                {"amount": 30.0, "merchant_category": "grocery", "hour": 10, "is_foreign": False},
                {"amount": 4100.0, "merchant_category": "fuel", "hour": 4, "is_foreign": True},
            ],
        },
    ),
    "POST /v1/ml/anomaly/detect": (
        "POST",
        "/v1/ml/anomaly/detect",
        {
            "backend": "isolation_forest",
            "contamination": 0.2,
            "data": [[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.2], [8.0, -5.0]],
        },
    ),
    "POST /v1/ml/anomaly/load": (
        "POST",
        "/v1/ml/anomaly/load",
        {
            "model": "fraud-detector",
            "backend": "ecod",
        },
    ),
    "POST /v1/ml/anomaly/timeseries/entire": (
        "POST",
        "/v1/ml/anomaly/timeseries/entire",
        {"series": _VISITS, "sensitivity": 95},
    ),
    "POST /v1/ml/anomaly/timeseries/last": (
        "POST",
        "/v1/ml/anomaly/timeseries/last",
        {"series": _VISITS[:21], "sensitivity": 95},
    ),
    "POST /v1/ml/anomaly/timeseries/changepoint": (
        "POST",
        "/v1/ml/anomaly/timeseries/changepoint",
        {"series": _LEVELS, "stable_trend_window": 5},
    ),
    "POST /v1/ml/anomaly/timeseries/multivariate": (
        "POST",
        "/v1/ml/anomaly/timeseries/multivariate",
        {
            "timestamps": [p["timestamp"] for p in _VISITS],
            "variables": [
                {"name": "visits", "values": [p["value"] for p in _VISITS]},
                {"name": "orders", "values": _ORDERS},
            ],
        },
    ),
    "GET /v1/ml/anomaly/models": ("GET", "/v1/ml/anomaly/models", None),
    "GET /v1/ml/anomaly/models/{filename}": (
        "GET",
        "/v1/ml/anomaly/models/fraud-detector_ecod.joblib",
        None,
    ),
    "POST /v1/ml/anomaly/stream": (
        "POST",
        "/v1/ml/anomaly/stream",
        {
            "model_id": "my-sensor",
            "backend": "ecod",
            "min_samples": 5,
            "retrain_interval": 10,
            "data": [
                {"temp": 21.0},
                {"temp": 21.4},
                {"temp": 20.9},
                {"temp": 21.2},
                {"temp": 21.1},
                {"temp": 21.3},
                {"temp": 45.0},
            ],
        },
    ),
    "GET /v1/ml/anomaly/stream/detectors": ("GET", "/v1/ml/anomaly/stream/detectors", None),
    "GET /v1/ml/anomaly/stream/{model_id}": ("GET", "/v1/ml/anomaly/stream/my-sensor", None),
    "POST /v1/ml/anomaly/stream/{model_id}/reset": (
        "POST",
        "/v1/ml/anomaly/stream/my-sensor/reset",
        None,
    ),
    "DELETE /v1/ml/anomaly/stream/{model_id}": ("DELETE", "/v1/ml/anomaly/stream/my-sensor", None),
    "POST /v1/ml/anomaly/jobs": (
        "POST",
        "/v1/ml/anomaly/jobs",
        {
            "kind": "score",
            "input": "transactions/2026-11-*.parquet",
            "output": "scored/2026-11",
            "model": "fraud-detector",
            "backend": "ecod",
            "keep": ["id", "timestamp"],
        },
    ),
    "GET /v1/ml/anomaly/jobs": ("GET", "/v1/ml/anomaly/jobs", None),
    "GET /v1/ml/anomaly/jobs/{job_id}": (
        "GET",
        "/v1/ml/anomaly/jobs/20261204T153012-5f1c9a2e",
        None,
    ),
    "DELETE /v1/ml/anomaly/jobs/{job_id}": (
        "DELETE",
        "/v1/ml/anomaly/jobs/20261204T153012-5f1c9a2e",
        None,
    ),
    "GET /v1/ml/anomaly/backends": ("GET", "/v1/ml/anomaly/backends", None),
    "GET /v1/ml/anomaly/health": ("GET", "/v1/ml/anomaly/health", None),
    "GET /health": ("GET", "/health", None),
    "GET /": ("GET", "/", None),
    "GET /v1/plugins": ("GET", "/v1/plugins", None),
    "DELETE /v1/ml/anomaly/models/{filename}": (
        "DELETE",
        "/v1/ml/anomaly/models/fraud-detector_ecod.joblib",
        None,
    ),
}


def compact_json(body: dict[str, Any]) -> str:
    """JSON with one line per top-level key and per data row: easy to read, valid to paste."""
    import json

    def render(value: Any) -> str:
        if (
            isinstance(value, list)
            and len(value) > 1
            and all(isinstance(v, (list, dict)) for v in value)
        ):
            return "[\n" + ",\n".join(f"    {json.dumps(v)}" for v in value) + "\n  ]"
        return json.dumps(value)

    items = [f"  {json.dumps(k)}: {render(v)}" for k, v in body.items()]
    return "{\n" + ",\n".join(items) + "\n}"


def curl(method: str, path: str, body: dict[str, Any] | None) -> str:
    """A copy-pasteable curl command (the body in single quotes, as POSIX shells want)."""
    if body is None:
        flag = "" if method == "GET" else f"-X {method} "
        return f"curl {flag}{BASE_URL}{path}"
    return (
        f"curl -X {method} {BASE_URL}{path} \\\n"
        f"  -H 'Content-Type: application/json' \\\n"
        f"  -d '{compact_json(body)}'"
    )
