"""Batch use from Python, without a server, over the same runtime."""

from __future__ import annotations

import re

import numpy as np
import pytest

import anomd
from anomd.errors import BackendDisabled, Conflict, InvalidInput, NotFound
from anomd.settings import load_settings


@pytest.fixture()
def service(tmp_path):
    return anomd.AnomalyService(load_settings(env={}, data_dir=str(tmp_path)))


def test_detect_on_numpy_finds_planted(planted) -> None:
    X, mask = planted
    scores = anomd.detect(X, backend="ecod", contamination=0.05)
    assert scores.raw.shape == (len(X),) and scores.is_anomaly.dtype == bool
    assert scores.is_anomaly[mask].all()
    assert scores.is_anomaly.mean() == pytest.approx(0.05, abs=0.02)


def test_detect_on_dict_rows(planted) -> None:
    X, mask = planted
    records = [{"a": r[0], "b": r[1], "c": r[2], "d": r[3]} for r in X.tolist()]
    scores = anomd.detect(records, backend="knn", contamination=0.05)
    assert scores.is_anomaly[mask].sum() >= 5


def test_detect_rejects_nan() -> None:
    with pytest.raises(InvalidInput, match="not finite"):
        anomd.detect(np.array([[1.0], [np.nan], [2.0]]))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 2.0], [3.0, float("inf")], [1.0, 1.0]], "row 1, column 1: value is not finite"),
        ([[1.0, 2.0], [10**400, 1.0], [1.0, 1.0]], "row 1, column 0: the integer is too large"),
        ([{"a": 1.0}, {"a": 10**400}, {"a": 2.0}], "row 1, column 'a': the integer is too large"),
        ([[1.0, 2.0], [3.0], [1.0, 1.0]], "ragged rows: row 0 has 2 values, row 1 has 1"),
        ([[1.0, 2.0], [3.0, "x"], [1.0, 1.0]], "row 1, column 1: expected a number, got 'x'"),
        ([[1.0, 2.0], {"a": 1.0}, [1.0, 1.0]], "row 1 is an object"),
        ([1.0, "x", 3.0], "a list of numbers (one feature) but item 1 is 'x'"),
        (["a", "b"], "data is a list of strings; expected rows"),
    ],
)
def test_python_rows_get_the_servers_clear_errors(rows, message) -> None:
    """The Python API has no JSON decoder in front of it: odd Python values must still end in
    InvalidInput naming the cell, never in a numpy or overflow exception."""
    with pytest.raises(InvalidInput, match=re.escape(message)):
        anomd.detect(rows)


def test_service_round_trip(service, planted) -> None:
    X, mask = planted
    outcome = service.fit(X, model="py", backend="isolation_forest", contamination=0.05,
                          params={"n_estimators": 50}, description="from python")
    assert outcome.model.info.params["n_estimators"] == 50
    assert outcome.saved_path.endswith("py_isolation_forest.joblib")
    _, scores = service.score(X, model="py", backend="isolation_forest")
    assert scores.is_anomaly[mask].all()
    listed = service.list_models()
    assert [m.filename for m in listed] == ["py_isolation_forest.joblib"]
    info = service.model_info("py_isolation_forest.joblib")
    assert info.description == "from python" and info.content_hash == outcome.content_hash
    with pytest.raises(Conflict):
        service.fit(X, model="py", backend="isolation_forest", overwrite=False)
    assert service.delete_model("py_isolation_forest.joblib")
    with pytest.raises(NotFound):
        service.score(X, model="py", backend="isolation_forest")


def test_allow_list_and_backend_defaults(tmp_path, planted) -> None:
    X, _ = planted
    settings = load_settings(env={}, data_dir=str(tmp_path), enabled_backends=["ecod", "isolation_forest"],
                             backend_defaults={"isolation_forest": {"n_estimators": 25}})
    service = anomd.AnomalyService(settings)
    with pytest.raises(BackendDisabled, match="disabled"):
        service.fit(X, backend="hbos")
    outcome = service.fit(X, backend="isolation_forest")
    assert outcome.model.info.params["n_estimators"] == 25
    override = service.fit(X, backend="isolation_forest", params={"n_estimators": 5})
    assert override.model.info.params["n_estimators"] == 5
    rows = {b.backend: b for b in service.backends()}
    assert rows["hbos"].available is False and rows["hbos"].enabled is False
    assert rows["ecod"].available is True


def test_cblof_works_on_unclustered_and_clustered_data() -> None:
    rng = np.random.default_rng(1)
    plain = rng.normal(size=(500, 3))
    centers = np.array([[0, 0, 0], [8, 8, 8], [-8, 8, -8]])
    blobs = np.vstack([c + rng.normal(size=(200, 3)) for c in centers])
    for X in (plain, blobs):
        X = np.vstack([X, [[30.0, -30.0, 30.0]]])
        for seed in range(4):  # some seeds give clusters no alpha/beta split exists for
            scores = anomd.detect(X, backend="cblof", params={"random_state": seed})
            assert scores.is_anomaly[-1], f"seed {seed}: the far point must be flagged"
            assert np.argmax(scores.raw) == len(X) - 1
