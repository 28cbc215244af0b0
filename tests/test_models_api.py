"""Model management: list, inspect, load, delete; persistence across restarts."""

from __future__ import annotations

import httpx
import numpy as np
from helpers import ok, problem, rows

from anomd.testing import running_server


def test_list_inspect_load_delete(api: httpx.Client, planted) -> None:
    X, _ = planted
    fit = ok(api.post("/fit", json={"model": "fraud-detector", "backend": "ecod", "data": rows(X),
                                    "contamination": 0.05, "description": "card fraud v1"}))
    filename = "fraud-detector_ecod.joblib"
    assert fit["filename"] == filename

    listing = ok(api.get("/models"))
    assert listing["object"] == "list" and listing["total"] == len(listing["data"])
    entry = next(m for m in listing["data"] if m["filename"] == filename)
    assert entry["name"] == "fraud-detector" and entry["backend"] == "ecod"
    assert entry["size_bytes"] > 0 and entry["created"] and entry["description"] == "card fraud v1"

    info = ok(api.get(f"/models/{filename}"))
    assert info["name"] == "fraud-detector" and info["backend"] == "ecod"
    assert info["contamination"] == 0.05 and info["normalization"] == "standardization"
    assert info["threshold"] == fit["model_params"]["threshold"]
    assert info["input_dim"] == 4 and info["feature_names"] == ["x0", "x1", "x2", "x3"]
    assert info["samples_fitted"] == len(X) and info["content_hash"].startswith("sha256:")
    assert info["content_hash"] == fit["content_hash"]
    assert {"pyod", "numpy", "python"} <= set(info["library_versions"])
    assert info["params"] == {"fast_scoring": True, "tail": "extrapolated"} and info["created"]  # ECOD's parameters

    loaded = ok(api.post("/load", json={"model": "fraud-detector", "backend": "ecod"}))
    assert loaded == {"object": "load_result", "model": "fraud-detector", "backend": "ecod",
                      "filename": filename, "is_fitted": True, "threshold": info["threshold"],
                      "normalization": "standardization", "status": "loaded"}

    deleted = ok(api.delete(f"/models/{filename}"))
    assert deleted == {"object": "delete_result", "filename": filename, "deleted": True}
    problem(api.get(f"/models/{filename}"), 404)
    problem(api.post("/score", json={"model": "fraud-detector", "data": rows(X[:2])}), 404)
    problem(api.delete(f"/models/{filename}"), 404)
    problem(api.post("/load", json={"model": "fraud-detector", "backend": "ecod"}), 404)
    assert filename not in {m["filename"] for m in ok(api.get("/models"))["data"]}


def test_same_name_different_backends_are_separate_models(api: httpx.Client, planted) -> None:
    X, _ = planted
    ok(api.post("/fit", json={"model": "twin", "backend": "ecod", "data": rows(X)}))
    ok(api.post("/fit", json={"model": "twin", "backend": "hbos", "data": rows(X)}))
    names = {m["filename"] for m in ok(api.get("/models"))["data"]}
    assert {"twin_ecod.joblib", "twin_hbos.joblib"} <= names
    a = ok(api.post("/score", json={"model": "twin", "backend": "ecod", "data": rows(X[:3])}))
    b = ok(api.post("/score", json={"model": "twin", "backend": "hbos", "data": rows(X[:3])}))
    assert a["backend"] == "ecod" and b["backend"] == "hbos"
    assert [p["raw_score"] for p in a["data"]] != [p["raw_score"] for p in b["data"]]


def test_models_survive_a_restart_and_score_without_load(tmp_path, planted) -> None:
    X, _ = planted
    with running_server(data_dir=tmp_path) as first, httpx.Client(base_url=first.api, timeout=120) as api:
        ok(api.post("/fit", json={"model": "durable", "backend": "isolation_forest", "data": rows(X)}))
        before = ok(api.post("/score", json={"model": "durable", "backend": "isolation_forest", "data": rows(X[:20])}))
    with running_server(data_dir=tmp_path) as second, httpx.Client(base_url=second.api, timeout=120) as api:
        after = ok(api.post("/score", json={"model": "durable", "backend": "isolation_forest", "data": rows(X[:20])}))
        assert "durable_isolation_forest.joblib" in {m["filename"] for m in ok(api.get("/models"))["data"]}
    assert [p["raw_score"] for p in after["data"]] == [p["raw_score"] for p in before["data"]]
    assert after["summary"]["threshold"] == before["summary"]["threshold"]


def test_python_api_shares_the_store_with_the_server(tmp_path, planted) -> None:
    """A model fitted through the Python API scores over HTTP (same data folder, same key)."""
    from anomd import AnomalyService
    from anomd.settings import load_settings

    X, _ = planted
    service = AnomalyService(load_settings(env={}, data_dir=str(tmp_path)))
    outcome = service.fit(X, model="from-python", backend="hbos", contamination=0.05)
    assert outcome.filename == "from-python_hbos.joblib"
    _, local = service.score(X[:10], model="from-python", backend="hbos")
    with running_server(data_dir=tmp_path) as srv, httpx.Client(base_url=srv.api, timeout=60) as api:
        remote = ok(api.post("/score", json={"model": "from-python", "backend": "hbos", "data": rows(X[:10])}))
    assert np.allclose([p["raw_score"] for p in remote["data"]], local.raw)
    assert [p["is_anomaly"] for p in remote["data"]] == local.is_anomaly.tolist()
