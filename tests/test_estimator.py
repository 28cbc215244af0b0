"""``anomd.Detector``: the in-memory estimator, its PyOD/scikit-learn shape, and that the
service and the server give exactly its results; model lookup by name."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pytest

import anomd
from anomd.arrow import ARROW_STREAM, write_stream
from anomd.errors import Conflict, InvalidInput, NotFound
from anomd.estimator import NotFittedError
from anomd.settings import load_settings
from anomd.testing import ServerProcess

on_filesystem = pytest.mark.parametrize("storage_backend", ["filesystem"], indirect=True)


def test_fit_predict_score_explain_on_planted_rows(planted) -> None:
    X, mask = planted
    detector = anomd.Detector("knn", contamination=0.02, n_neighbors=10)
    assert detector.fit(X) is detector
    assert detector.params == {"n_neighbors": 10}
    assert detector.model_.info.params["n_neighbors"] == 10
    labels = detector.predict(X)
    assert labels.dtype == np.int64 and set(np.unique(labels)) <= {0, 1}
    assert labels[mask].all()
    raw = detector.decision_function(X)
    np.testing.assert_array_equal(raw, detector.score(X))
    assert (raw[mask] > detector.threshold_).all()
    # PyOD's fitted attributes: training scores and labels at the learned threshold.
    np.testing.assert_array_equal(detector.labels_, detector.fit_predict(X))
    assert detector.decision_scores_.shape == (len(X),)
    scores = detector.scores(X)
    np.testing.assert_array_equal(scores.is_anomaly.astype(np.int64), labels)
    assert ((scores.score > scores.threshold) == scores.is_anomaly).all()
    explained = detector.explain(X)
    assert set(explained) == set(np.flatnonzero(labels).tolist())
    assert set(explained[0]) == {"x0", "x1", "x2", "x3"}


def test_an_unfitted_detector_says_so() -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(X\) first"):
        anomd.Detector().predict([[1.0]])


def test_unknown_backends_and_params_are_clear_errors(planted) -> None:
    X, _ = planted
    with pytest.raises(NotFound, match="unknown backend 'nope'"):
        anomd.Detector("nope").fit(X)
    with pytest.raises(InvalidInput, match="n_neighbours"):
        anomd.Detector("knn", n_neighbours=5).fit(X)


def test_pickles_with_its_model_and_scores_the_same(planted) -> None:
    X, _ = planted
    detector = anomd.Detector("isolation_forest", contamination=0.05, n_estimators=40).fit(pd.DataFrame(X))
    restored = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(restored.score(X), detector.score(X))
    assert restored.get_params() == detector.get_params()


def test_scikit_learn_can_clone_it(planted) -> None:
    from sklearn.base import clone

    detector = anomd.Detector("hbos", contamination=0.05, n_bins=20)
    twin = clone(detector)
    assert twin is not detector and twin.get_params() == detector.get_params()
    assert twin.model_ is None


def test_nothing_is_written_anywhere(planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = planted
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANOMD_DATA_DIR", str(tmp_path / "data"))
    detector = anomd.Detector("ecod").fit(X)
    detector.predict(X)
    anomd.detect(X)
    assert os.listdir(tmp_path) == []


def test_the_service_fits_and_scores_through_the_estimator(tmp_path, planted) -> None:
    X, _ = planted
    service = anomd.AnomalyService(load_settings(env={}, data_dir=str(tmp_path)))
    outcome = service.fit(X, model="svc", backend="isolation_forest", params={"n_estimators": 30})
    local = anomd.Detector("isolation_forest", n_estimators=30).fit(X)
    _, scores = service.score(X, model="svc", backend="isolation_forest")
    np.testing.assert_array_equal(scores.raw, local.score(X))
    assert outcome.model.info.raw_threshold == local.threshold_
    stored = anomd.Detector.from_model(service.get_model("svc", "isolation_forest")[0])
    np.testing.assert_array_equal(stored.predict(X), local.predict(X))


# -- the same results as the server -------------------------------------------------------------


@on_filesystem
@pytest.mark.parametrize("backend", ["ecod", "isolation_forest"])
def test_estimator_scores_equal_the_servers(server: ServerProcess, api: httpx.Client, planted, backend) -> None:
    """Fitted in memory here and over HTTP there (JSON and Arrow bodies) on the same rows: the
    same raw scores, scores, flags and threshold, to the bit."""
    X, _ = planted
    frame = pl.DataFrame({f"c{i}": X[:, i] for i in range(X.shape[1])})
    local_rows = anomd.Detector(backend, contamination=0.05).fit(X)
    local_frame = anomd.Detector(backend, contamination=0.05).fit(frame)

    fit = api.post("/fit", json={"model": f"same-{backend}", "backend": backend, "contamination": 0.05,
                                 "data": X.tolist()})
    assert fit.status_code == 200, fit.text
    served = api.post("/score", json={"model": f"same-{backend}", "backend": backend, "data": X.tolist()}).json()
    assert [p["raw_score"] for p in served["data"]] == local_rows.score(X).tolist()
    expected = local_rows.scores(X)
    assert [p["score"] for p in served["data"]] == expected.score.tolist()
    assert [p["is_anomaly"] for p in served["data"]] == expected.is_anomaly.tolist()
    assert served["summary"]["threshold"] == expected.threshold

    headers = {"content-type": ARROW_STREAM}
    fit = api.post(f"/fit?model=same-arrow-{backend}&backend={backend}&contamination=0.05",
                   content=write_stream(frame), headers=headers)
    assert fit.status_code == 200, fit.text
    assert fit.json()["model_params"]["feature_names"] == frame.columns
    served = api.post(f"/score?model=same-arrow-{backend}", content=write_stream(frame),
                      headers={**headers, "accept": ARROW_STREAM})
    assert served.status_code == 200, served.text
    table = pl.read_ipc_stream(served.content)
    np.testing.assert_array_equal(table["raw_score"].to_numpy(), local_frame.score(frame))
    np.testing.assert_array_equal(table["is_anomaly"].to_numpy(), local_frame.scores(frame).is_anomaly)


# -- model lookup by name -----------------------------------------------------------------------


def test_a_unique_name_needs_no_backend_and_two_are_a_conflict(tmp_path, planted) -> None:
    X, _ = planted
    service = anomd.AnomalyService(load_settings(env={}, data_dir=str(tmp_path)))
    service.fit(X, model="solo", backend="isolation_forest", params={"n_estimators": 20})
    service.fit(X, model="solo_x", backend="ecod")  # a longer name sharing the prefix
    model, scores = service.score(X, model="solo")
    assert model.info.backend == "isolation_forest" and scores.is_anomaly.any()
    assert service.load("solo")[1] == "solo_isolation_forest.joblib"
    service.fit(X, model="solo", backend="hbos")
    with pytest.raises(Conflict) as conflict:
        service.score(X, model="solo")
    assert conflict.value.detail == (
        "2 stored models are named 'solo': solo_hbos.joblib (backend 'hbos'), "
        "solo_isolation_forest.joblib (backend 'isolation_forest'); name the backend to choose one")
    assert service.score(X, model="solo", backend="hbos")[0].info.backend == "hbos"
    with pytest.raises(NotFound, match="no stored model is named 'ghost'"):
        service.score(X, model="ghost")


@on_filesystem
def test_lookup_by_name_over_http(api: httpx.Client, planted) -> None:
    X, _ = planted
    rows = X[:60].tolist()
    assert api.post("/fit", json={"model": "byname", "backend": "isolation_forest", "data": rows}).status_code == 200
    scored = api.post("/score", json={"model": "byname", "data": rows})
    assert scored.status_code == 200 and scored.json()["backend"] == "isolation_forest"
    assert api.post("/load", json={"model": "byname"}).json()["backend"] == "isolation_forest"
    assert api.post("/fit", json={"model": "byname", "backend": "ecod", "data": rows}).status_code == 200
    for route in ("/score", "/load"):
        body = {"model": "byname", **({"data": rows} if route == "/score" else {})}
        conflict = api.post(route, json=body)
        assert conflict.status_code == 409, conflict.text
        assert conflict.headers["content-type"] == "application/problem+json"
        detail = conflict.json()["detail"]
        assert "byname_ecod.joblib (backend 'ecod')" in detail
        assert "byname_isolation_forest.joblib (backend 'isolation_forest')" in detail
    missing = api.post("/score", json={"model": "nobody-has-this", "data": rows})
    assert missing.status_code == 404 and "no stored model is named" in missing.json()["detail"]
    for filename in ("byname_ecod.joblib", "byname_isolation_forest.joblib"):
        api.delete(f"/models/{filename}")
