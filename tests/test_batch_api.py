"""The documented batch routes, over real HTTP, for every backend."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from helpers import BACKENDS, FAST_PARAMS, REQUIRE_ALL_BACKENDS, ok, problem, rows


def _backend_row(api: httpx.Client, backend: str) -> dict:
    listing = ok(api.get("/backends"))
    return next(b for b in listing["data"] if b["backend"] == backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_score_detect_finds_planted_anomalies(api: httpx.Client, planted, backend: str) -> None:
    X, mask = planted
    info = _backend_row(api, backend)
    body = {"model": f"planted-{backend}", "backend": backend, "data": rows(X),
            "contamination": 0.05, "params": FAST_PARAMS.get(backend, {})}
    if not info["available"]:
        assert not REQUIRE_ALL_BACKENDS, f"{backend} must be available in CI: {info}"
        assert info["install_hint"] and info["missing"]
        detail = problem(api.post("/fit", json=body), 422)
        assert "not available" in detail and info["install_hint"] in detail
        return

    fit = ok(api.post("/fit", json=body))
    assert fit["object"] == "fit_result" and fit["status"] == "fitted"
    assert fit["model"] == f"planted-{backend}" and fit["backend"] == backend
    assert fit["samples_fitted"] == len(X) and fit["training_time_ms"] > 0
    params = fit["model_params"]
    assert params["backend"] == backend and params["input_dim"] == 4 and params["contamination"] == 0.05
    assert fit["saved_path"] and fit["filename"] == f"planted-{backend}_{backend}.joblib"
    assert fit["warnings"] == []

    # Fresh rows: 200 inliers from the training distribution and 10 far outliers.
    rng = np.random.default_rng(11)
    directions = rng.normal(size=(10, 4))
    far = 7.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    fresh = np.vstack([rng.normal(size=(200, 4)), far])
    scored = ok(api.post("/score", json={"model": f"planted-{backend}", "backend": backend, "data": rows(fresh)}))
    assert scored["object"] == "list" and scored["total_count"] == 210
    assert [p["index"] for p in scored["data"]] == list(range(210))
    flags = np.array([p["is_anomaly"] for p in scored["data"]])
    scores = np.array([p["score"] for p in scored["data"]])
    assert np.all(np.isfinite(scores))
    threshold = scored["summary"]["threshold"]
    assert threshold == pytest.approx(params["threshold"])
    assert flags[200:].sum() >= 9, f"{backend} flagged only {flags[200:].sum()}/10 far outliers"
    assert flags[:200].mean() <= 0.2, f"{backend} flagged {flags[:200].mean():.0%} of inliers"
    assert scored["summary"]["anomaly_count"] == int(flags.sum())
    assert scores[200:].min() > np.median(scores[:200])

    detect = ok(api.post("/detect", json={**body, "model": "ignored"}))
    found = {p["index"] for p in detect["data"]}
    assert all(p["is_anomaly"] for p in detect["data"])
    assert detect["summary"]["total_points"] == len(X)
    assert detect["summary"]["anomalies_detected"] == len(found)
    assert len(found & set(np.flatnonzero(mask).tolist())) >= 5, f"{backend} detect found {sorted(found)}"


def test_unknown_backend_is_404(api: httpx.Client) -> None:
    detail = problem(api.post("/fit", json={"backend": "nope", "data": [[1.0], [2.0]]}), 404)
    assert "nope" in detail and "ecod" in detail


def test_backends_lists_metadata_and_schemas(api: httpx.Client) -> None:
    listing = ok(api.get("/backends"))
    assert listing["object"] == "list" and listing["total"] == len(listing["data"]) >= 12
    by_id = {b["backend"]: b for b in listing["data"]}
    assert set(BACKENDS) <= set(by_id)
    for b in by_id.values():
        assert {"name", "description", "category", "speed", "memory", "best_for", "parameters", "available", "plugin"} <= set(b)
        assert b["parameters"]["type"] == "object"
    assert by_id["ecod"]["plugin"].startswith("anomd ")
    assert by_id["isolation_forest"]["parameters"]["properties"]["n_estimators"]["default"] == 100


def test_params_reach_the_detector(api: httpx.Client, planted) -> None:
    X, _ = planted
    base = {"backend": "isolation_forest", "data": rows(X)}
    few = ok(api.post("/fit", json={**base, "model": "trees", "params": {"n_estimators": 3}}))
    s_few = ok(api.post("/score", json={"model": "trees", "backend": "isolation_forest", "data": rows(X[:20])}))
    many = ok(api.post("/fit", json={**base, "model": "trees", "params": {"n_estimators": 300}}))
    s_many = ok(api.post("/score", json={"model": "trees", "backend": "isolation_forest", "data": rows(X[:20])}))
    assert few["model_params"]["params"]["n_estimators"] == 3
    assert many["model_params"]["params"]["n_estimators"] == 300
    raw_few = [p["raw_score"] for p in s_few["data"]]
    raw_many = [p["raw_score"] for p in s_many["data"]]
    assert raw_few != raw_many, "refitting with other n_estimators must change the forest"


@pytest.mark.parametrize(
    ("params", "key"),
    [({"n_estimatorz": 10}, "n_estimatorz"), ({"n_estimators": 0}, "n_estimators"),
     ({"n_estimators": "many"}, "n_estimators"), ({"max_features": 2.0}, "max_features")],
)
def test_bad_params_are_422_naming_the_key(api: httpx.Client, params, key) -> None:
    detail = problem(api.post("/fit", json={"backend": "isolation_forest", "data": [[1.0], [2.0], [3.0]], "params": params}), 422)
    assert key in detail


def test_parameterless_backend_refuses_params(api: httpx.Client) -> None:
    detail = problem(api.post("/fit", json={"backend": "ecod", "data": [[1.0], [2.0]], "params": {"k": 1}}), 422)
    assert "`k`" in detail


def test_unknown_top_level_fields_are_reported(api: httpx.Client, planted) -> None:
    X, _ = planted
    fit = ok(api.post("/fit", json={"model": "legacy", "backend": "isolation_forest", "data": rows(X),
                                    "n_estimators": 7, "colour": "blue"}))
    assert fit["model_params"]["params"]["n_estimators"] == 7
    assert any("'n_estimators'" in w and "params" in w for w in fit["warnings"])
    assert any("'colour'" in w and "ignored" in w for w in fit["warnings"])


def test_epochs_shorthand_is_used_or_reported(api: httpx.Client, planted) -> None:
    X, _ = planted
    fit = ok(api.post("/fit", json={"model": "short", "backend": "ecod", "data": rows(X), "epochs": 5}))
    assert any("epochs" in w for w in fit["warnings"])


def test_contamination_sets_threshold_and_refit_uses_new_settings(api: httpx.Client, planted) -> None:
    X, _ = planted
    rates = {}
    for contamination in (0.02, 0.2):
        fit = ok(api.post("/fit", json={"model": "contam", "data": rows(X), "contamination": contamination}))
        assert fit["model_params"]["contamination"] == contamination
        scored = ok(api.post("/score", json={"model": "contam", "data": rows(X)}))
        rates[contamination] = scored["summary"]["anomaly_rate"]
        assert abs(rates[contamination] - contamination) <= 0.02, (contamination, rates)
    assert rates[0.2] > rates[0.02]


def test_threshold_override_is_honoured_even_at_zero(api: httpx.Client, planted) -> None:
    X, _ = planted
    ok(api.post("/fit", json={"model": "thr", "data": rows(X)}))
    zero = ok(api.post("/score", json={"model": "thr", "data": rows(X[:50]), "threshold": 0.0}))
    assert zero["summary"]["threshold"] == 0.0
    assert zero["summary"]["anomaly_count"] == 50  # standardized scores are all > 0
    high = ok(api.post("/score", json={"model": "thr", "data": rows(X[:50]), "threshold": 1.0}))
    assert high["summary"]["anomaly_count"] == 0
    detect = ok(api.post("/detect", json={"data": rows(X[:50]), "threshold": 0.0}))
    assert detect["summary"]["anomalies_detected"] == 50


@pytest.mark.parametrize("normalization", ["standardization", "zscore", "raw", "minmax"])
def test_normalizations_agree_on_decisions(api: httpx.Client, planted, normalization: str) -> None:
    X, _ = planted
    ok(api.post("/fit", json={"model": f"norm-{normalization}", "data": rows(X), "normalization": normalization}))
    fitted = ok(api.post("/score", json={"model": f"norm-{normalization}", "data": rows(X)}))
    assert fitted["summary"]["normalization"] == normalization
    flags = [p["is_anomaly"] for p in fitted["data"]]
    scores = np.array([p["score"] for p in fitted["data"]])
    raw = np.array([p["raw_score"] for p in fitted["data"]])
    assert np.all(np.argsort(scores, kind="stable") == np.argsort(raw, kind="stable"))
    if normalization == "standardization":
        assert scores.min() > 0 and scores.max() < 1
    # Asking for another scale converts the learned threshold: the same rows are flagged.
    for other in ("standardization", "zscore", "raw"):
        converted = ok(api.post("/score", json={"model": f"norm-{normalization}", "data": rows(X), "normalization": other}))
        assert converted["summary"]["normalization"] == other
        assert [p["is_anomaly"] for p in converted["data"]] == flags
        conv_scores = np.array([p["score"] for p in converted["data"]])
        conv_flags = conv_scores > converted["summary"]["threshold"]
        assert conv_flags.tolist() == flags


def test_dict_rows_are_matched_by_name_not_order(api: httpx.Client, planted) -> None:
    X, _ = planted
    names = ["temp", "pressure", "flow", "rpm"]
    records = [dict(zip(names, row)) for row in X.tolist()]
    fit = ok(api.post("/fit", json={"model": "dicts", "data": records}))
    assert fit["encoder"]["features"] == sorted(names)
    probe = X[:5]
    forward = [dict(zip(names, row)) for row in probe.tolist()]
    backward = [dict(reversed(list(zip(names, row)))) for row in probe.tolist()]
    s1 = ok(api.post("/score", json={"model": "dicts", "data": forward}))
    s2 = ok(api.post("/score", json={"model": "dicts", "data": backward}))
    assert [p["raw_score"] for p in s1["data"]] == [p["raw_score"] for p in s2["data"]]
    # The same rows swapped column-wise as dicts must score differently from a positional mix-up.
    swapped = [dict(zip(list(reversed(names)), row)) for row in probe.tolist()]
    s3 = ok(api.post("/score", json={"model": "dicts", "data": swapped}))
    assert [p["raw_score"] for p in s3["data"]] != [p["raw_score"] for p in s1["data"]]
    detail = problem(api.post("/score", json={"model": "dicts", "data": [{"temp": 1.0, "pressure": 1.0, "flow": 1.0}]}), 422)
    assert "rpm" in detail and "missing" in detail
    detail = problem(api.post("/score", json={"model": "dicts", "data": [{**forward[0], "extra": 1.0}]}), 422)
    assert "extra" in detail


def test_categorical_and_boolean_columns(api: httpx.Client) -> None:
    rng = np.random.default_rng(3)
    records = [{"amount": float(rng.normal(50, 5)), "merchant": str(rng.choice(["food", "fuel", "books"])),
                "foreign": bool(rng.random() < 0.05)} for _ in range(400)]
    fit = ok(api.post("/fit", json={"model": "tx", "backend": "isolation_forest", "data": records,
                                    "schema": {"amount": "numeric"}}))
    assert fit["encoder"]["schema"] == {"amount": "numeric", "foreign": "boolean", "merchant": "categorical"}
    assert "merchant=fuel" in fit["encoder"]["features"]
    probe = [{"amount": 50.0, "merchant": "food", "foreign": False},
             {"amount": 5000.0, "merchant": "casino", "foreign": True}]
    scored = ok(api.post("/score", json={"model": "tx", "backend": "isolation_forest", "data": probe}))
    assert scored["data"][1]["is_anomaly"] and not scored["data"][0]["is_anomaly"]
    detail = problem(api.post("/fit", json={"model": "tx2", "data": records[:5], "schema": {"amount": "money"}}), 422)
    assert "money" in detail


def test_explain_gives_contributions_for_anomalous_rows(api: httpx.Client, planted) -> None:
    X, _ = planted
    # A distance-based backend: ECOD's per-feature tail probability is capped at 1/(n+1), so one
    # extreme feature alone would not push its summed score over the threshold.
    ok(api.post("/fit", json={"model": "explained", "backend": "knn", "data": rows(X)}))
    probe = np.zeros((2, 4))
    probe[1, 2] = 9.0  # only feature x2 is off
    scored = ok(api.post("/score", json={"model": "explained", "backend": "knn", "data": rows(probe), "explain": True}))
    normal, odd = scored["data"]
    assert "explanation" not in normal
    assert odd["is_anomaly"] and next(iter(odd["explanation"])) == "x2"
    assert odd["explanation"]["x2"] > 0


def test_overwrite_false_refuses_existing_model(api: httpx.Client, planted) -> None:
    X, _ = planted
    ok(api.post("/fit", json={"model": "keep", "data": rows(X)}))
    detail = problem(api.post("/fit", json={"model": "keep", "data": rows(X), "overwrite": False}), 409)
    assert "keep" in detail


def test_score_without_fit_is_404(api: httpx.Client) -> None:
    detail = problem(api.post("/score", json={"model": "never-fitted", "data": [[1.0]]}), 404)
    assert "never-fitted" in detail


def test_openapi_schema_documents_requests_and_responses(server) -> None:
    schema = ok(httpx.get(server.url + "/schema/openapi.json"))
    paths = schema["paths"]
    for path in ("/fit", "/score", "/detect", "/load", "/models", "/models/{filename}", "/backends"):
        assert "/v1/ml/anomaly" + path in paths
    fit = paths["/v1/ml/anomaly/fit"]["post"]
    assert fit["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/FitRequest")
    components = schema["components"]["schemas"]
    assert {"data", "model", "backend", "contamination", "params"} <= set(components["FitRequest"]["properties"])
    assert "ScoreResponse" in components


def test_plugin_report(server) -> None:
    report = ok(httpx.get(server.url + "/v1/plugins"))
    loaded = {p["name"]: p for p in report["data"]}
    assert loaded["anomd_builtins.detectors.ecod"]["status"] == "loaded"
    assert loaded["anomd_builtins.detectors.ecod"]["distribution"] == "anomd"
    assert "detector:ecod" in loaded["anomd_builtins.detectors.ecod"]["provides"]
    assert all(p["status"] == "loaded" for p in report["data"]), report
    health = ok(httpx.get(server.url + "/health"))
    assert health["status"] == "ok" and health["plugin_failures"] == 0 and health["storage"]["backend"]
