"""Every input form a Python caller holds works at every entry point, names kept, errors clear.

The planted data: 300 rows, three features, rows 0-5 far out. Each form must reach the same
model: the same anomalies flagged, the column names (where the form has them) kept as the
model's feature names, and a later table matched by name, not by position.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import anomd
from anomd.errors import InvalidInput
from anomd.inputs import prepare
from anomd.settings import load_settings

NAMES = ["temp", "pressure", "flow"]


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    X[:6] = rng.normal(size=(6, 3)) * 0.5 + 9.0
    return X


class ArrowProducer:
    """Anything speaking the Arrow PyCapsule stream protocol (pyarrow, DuckDB, nanoarrow...):
    here a Polars frame's own export, behind an object that offers nothing else."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._frame.__arrow_c_stream__(requested_schema)


def named_forms(X: np.ndarray) -> dict[str, Any]:
    columns = {n: X[:, i] for i, n in enumerate(NAMES)}
    structured = np.zeros(len(X), dtype=[(n, "f8") for n in NAMES])
    for n in NAMES:
        structured[n] = columns[n]
    return {
        "pandas DataFrame": pd.DataFrame(columns),
        "Polars DataFrame": pl.DataFrame(columns),
        "Polars LazyFrame": pl.DataFrame(columns).lazy(),
        "dict of columns": columns,
        "dict of lists": {n: c.tolist() for n, c in columns.items()},
        "list of dict rows": [dict(zip(NAMES, row, strict=True)) for row in X.tolist()],
        "Arrow stream producer": ArrowProducer(pl.DataFrame(columns)),
        "structured array": structured,
    }


def unnamed_forms(X: np.ndarray) -> dict[str, Any]:
    return {
        "2-D array": X,
        "list of list rows": X.tolist(),
        "pandas DataFrame, default columns": pd.DataFrame(X),
        "Polars DataFrame from an array": pl.DataFrame(X),
    }


@pytest.mark.parametrize("form", list(named_forms(np.zeros((1, 3)))))
def test_named_forms_find_the_planted_rows_and_keep_the_names(X, form) -> None:
    data = named_forms(X)[form]
    detector = anomd.Detector("ecod", contamination=0.02).fit(data)
    assert sorted(detector.feature_names_in_) == sorted(NAMES)
    assert detector.predict(data)[:6].all() and detector.predict(data).sum() == 6
    scores = anomd.detect(named_forms(X)[form], contamination=0.02)
    assert scores.is_anomaly[:6].all() and scores.is_anomaly.sum() == 6


@pytest.mark.parametrize("form", list(unnamed_forms(np.zeros((1, 3)))))
def test_unnamed_forms_are_matched_by_position(X, form) -> None:
    detector = anomd.Detector("ecod", contamination=0.02).fit(unnamed_forms(X)[form])
    assert detector.feature_names_in_ == ["x0", "x1", "x2"]
    reference = anomd.Detector("ecod", contamination=0.02).fit(X)
    np.testing.assert_array_equal(detector.score(X), reference.score(X))


@pytest.mark.parametrize("one_column", [
    "1-D array", "list of numbers", "pandas Series", "named pandas Series", "pandas DataFrame",
    "Polars Series", "Polars DataFrame",
])
def test_one_feature_in_every_form(X, one_column) -> None:
    """The crashes that opened the issue: a pandas frame of one column (KeyError: 0), a Series,
    a 1-D array ("wrong shape (n,)")."""
    values = X[:, 0].copy()
    values[7] = 40.0
    data = {
        "1-D array": values, "list of numbers": values.tolist(), "pandas Series": pd.Series(values),
        "named pandas Series": pd.Series(values, name="value"),
        "pandas DataFrame": pd.DataFrame({"value": values}),
        "Polars Series": pl.Series("value", values), "Polars DataFrame": pl.DataFrame({"value": values}),
    }[one_column]
    scores = anomd.detect(data, contamination=0.01)
    assert scores.raw.shape == (300,)
    assert scores.is_anomaly[7] and scores.raw.argmax() == 7


def test_tables_are_scored_by_column_name(X) -> None:
    frame = pd.DataFrame(X, columns=NAMES)
    detector = anomd.Detector("isolation_forest", contamination=0.02, n_estimators=50).fit(frame)
    shuffled = frame[["flow", "temp", "pressure"]]
    np.testing.assert_array_equal(detector.score(shuffled), detector.score(frame))
    np.testing.assert_array_equal(detector.score(pl.from_dict(shuffled.to_dict("list"))), detector.score(frame))
    # A plain array is matched by position, as scikit-learn does.
    np.testing.assert_array_equal(detector.score(X), detector.score(frame))
    with pytest.raises(InvalidInput, match=r"missing 'flow'.*fitted on columns \['temp', 'pressure', 'flow'\]"):
        detector.score(frame[["temp", "pressure"]])
    with pytest.raises(InvalidInput, match="unexpected 'label'"):
        detector.score(frame.assign(label=0))


def test_string_columns_become_categories(X) -> None:
    frame = pd.DataFrame(X, columns=NAMES)
    frame["site"] = ["north", "south", "east"] * 100
    frame.loc[10, "site"] = "mars"  # one row in a category of its own
    detector = anomd.Detector("ecod", contamination=0.03).fit(frame)
    assert "site=mars" in detector.feature_names_in_
    assert detector.predict(frame)[:6].all()
    polars_frame = pl.DataFrame(frame.to_dict("list"))
    np.testing.assert_array_equal(detector.score(polars_frame), detector.score(frame))


def test_nullable_and_boolean_pandas_columns(X) -> None:
    frame = pd.DataFrame({"count": pd.array(np.arange(300) % 7, dtype="Int64"),
                          "flag": np.arange(300) % 2 == 0, "value": X[:, 0]})
    detector = anomd.Detector("ecod").fit(frame)
    assert detector.feature_names_in_ == ["count", "flag", "value"]
    assert detector.score(frame).shape == (300,)


@pytest.mark.parametrize(("data", "message"), [
    (np.zeros((2, 2, 2)), "array of shape (2, 2, 2); expected 1-D (one feature) or 2-D"),
    (np.array([["a", "b"], ["c", "d"]]), "array of <U1; expected numbers"),
    (np.empty((0, 3)), "data is empty"),
    ([], "data is empty"),
    (None, "data is missing"),
    ("x", "data of type str is not supported"),
    (["a", "b"], "data is a list of strings"),
    ([1.0, "x", 3.0], "a list of numbers (one feature) but item 1 is 'x'"),
    ({"a": [1, 2], "b": [1]}, "dict of columns of different lengths: {'a': 2, 'b': 1}"),
    (pd.DataFrame({"a": [1.0, np.nan, 2.0]}), "row 1, column 'a': value is not finite (nan)"),
    (pd.DataFrame({"a": ["x", None, "y"]}), "column 'a' has 1 empty (null) value(s)"),
    (pl.DataFrame({"a": [1.0, None, 2.0]}), "column 'a' has 1 empty (null) value(s)"),
    (pl.DataFrame({"a": [[1.0], [2.0]]}), "column 'a' is of type List(Float64); features must be"),
    (pl.DataFrame({"a": [1.0, 2.0], "b": [3.0, float("inf")]}), "row 1, column 'b': value is not finite (inf)"),
    (pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), "duplicate column names: 'a'"),
    (pl.DataFrame(), "data has no columns"),
])
def test_bad_shapes_get_one_clear_message(data, message) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        anomd.detect(data)


def test_the_service_takes_every_form_and_checks_limits_on_it(tmp_path, X) -> None:
    settings = load_settings(env={}, data_dir=str(tmp_path), max_rows=299)
    service = anomd.AnomalyService(settings)
    frame = pd.DataFrame(X[:200], columns=NAMES)
    outcome = service.fit(frame, model="frames", contamination=0.05)
    assert outcome.model.info.feature_names == NAMES
    _, by_frame = service.score(pl.DataFrame(X[:50], schema=NAMES), model="frames")
    _, by_rows = service.score([dict(zip(NAMES, r, strict=True)) for r in X[:50].tolist()], model="frames")
    np.testing.assert_array_equal(by_frame.raw, by_rows.raw)
    assert by_frame.is_anomaly[:6].all()
    with pytest.raises(anomd.errors.TooLarge, match="300 rows is over this server's limit of 299"):
        service.score(pd.DataFrame(X, columns=NAMES), model="frames")


def test_prepare_keeps_rows_that_are_already_rows_as_they_are() -> None:
    """JSON rows are handed on untouched (no copy, no per-row work: the HTTP hot path)."""
    rows = [[1.0, 2.0], [3.0, 4.0]]
    assert prepare(rows).data is rows
    records = [{"a": 1.0}, {"a": 2.0}]
    assert prepare(records).data is records
