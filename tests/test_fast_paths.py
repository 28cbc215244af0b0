"""The fast scoring paths give PyOD's answers, stay small, and can be switched off.

ECOD, COPOD, isolation forest and LODA score through anomd's own code after PyOD fits (see
``plugins/anomd_builtins/detectors/_fast_*.py``). These tests hold them to PyOD, the reference:
the same ranking of held-out rows, the same numbers where the semantics are the same (every
row for the forest and LODA; one-row batches for ECOD and COPOD, which PyOD otherwise ranks
together with the rest of the batch), the same ROC-AUC on real data, and training scores and
thresholds that still fit how new rows are scored. Speed is measured by the benchmarks, never
asserted here.

PyOD caps values beyond the training range; these tests fit with ``tail="capped"``, which keeps
that exactly (the default tail beyond the range is tested in ``test_far_values.py``).
"""

from __future__ import annotations

import io
import warnings

import joblib
import numpy as np
import pytest
from benchmarks import odds
from scipy.stats import skew, spearmanr
from sklearn.metrics import roc_auc_score

from anomd.model import FittedModel, train
from anomd.plugins import PluginHost
from anomd.service import AnomalyService
from anomd.settings import load_settings
from anomd_builtins.detectors._appended_skew import AppendedSkew
from anomd_builtins.detectors._ecdf_sketch import DEFAULT_REL_GAP, ECDFSketch
from anomd_builtins.detectors._packed_forest import PackedForest

FAST_BACKENDS = ("ecod", "copod", "isolation_forest", "loda")
ECDF_BACKENDS = ("ecod", "copod")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def tabular(n: int, seed: int) -> np.ndarray:
    """Skewed, symmetric, bimodal, discrete and constant columns: every case the paths branch on."""
    rng = np.random.default_rng(seed)
    return np.column_stack([
        rng.normal(size=n),
        rng.lognormal(sigma=0.8, size=n),
        -rng.exponential(size=n),
        rng.normal(size=n) * 0.5 + rng.integers(0, 2, n) * 4.0,
        rng.integers(0, 4, n).astype(float),
        rng.standard_t(3, size=n),
        np.full(n, 2.5),
        rng.gamma(0.5, size=n),
    ])


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """3,000 training rows and 600 held-out rows from the same distribution."""
    return tabular(3000, 1), tabular(600, 2)


def fit_both(host: PluginHost, backend: str, X: np.ndarray, **params) -> tuple[FittedModel, FittedModel]:
    """The fast path and PyOD's, both capped beyond the training range (PyOD's view) unless
    ``params`` say otherwise."""
    params = {"tail": "capped", **params}
    spec = host.detectors.get(backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # PyOD's skewness of the constant column
        fast = train(spec, X, name="fast", params=params)
        reference = train(spec, X, name="reference", params={**params, "fast_scoring": False})
    return fast, reference


def pyod_scores(model: FittedModel, X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(model.detector.estimator.decision_function(X), dtype=float)


# -- fidelity against PyOD --------------------------------------------------------------------


def _fitting_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "normal": rng.normal(size=(500, 6)),
        "ties": rng.integers(0, 4, size=(300, 5)).astype(float),
        "constant columns": np.column_stack([np.ones(100), rng.normal(size=100), np.zeros(100)]),
        "skewed": skewed_tabular(400, 3),
        "symmetric": np.tile(np.array([[-1.0, 0.0, 1.0]]).T, (50, 2)),
        "two rows": rng.normal(size=(2, 3)),
        "large offset": rng.normal(size=(2000, 8)) * 1e8 + 1e12,
    }


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
@pytest.mark.parametrize("case", ["normal", "ties", "constant columns", "skewed", "symmetric",
                                  "two rows", "large offset"])
def test_ecdf_fits_without_pyod_give_pyods_training_scores_exactly(host, backend, case) -> None:
    """The threshold is a quantile of the training scores: anomd's own fit must reproduce
    PyOD's ``decision_scores_`` bit for bit, ties, constant and symmetric columns included."""
    X = _fitting_cases()[case]
    fast, reference = fit_both(host, backend, X)
    np.testing.assert_array_equal(fast.detector.training_scores_, reference.detector.estimator.decision_scores_)
    assert fast.info.raw_threshold == reference.info.raw_threshold


def skewed_tabular(n: int, seed: int) -> np.ndarray:
    """Columns whose skewness sign no batch of new rows can flip."""
    rng = np.random.default_rng(seed)
    return np.column_stack([
        rng.lognormal(sigma=0.8, size=n),
        -rng.exponential(size=n),
        rng.gamma(0.5, size=n),
        (rng.random(n) < 0.2).astype(float),
        rng.normal(size=n) + (rng.random(n) < 0.15) * 5.0,
        rng.chisquare(3, size=n),
    ])


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_held_out_rows_are_ranked_as_pyod_ranks_them(host, backend) -> None:
    X, held_out = skewed_tabular(3000, 1), skewed_tabular(600, 2)
    fast, reference = fit_both(host, backend, X)
    ours, theirs = fast.detector.score(held_out), pyod_scores(reference, held_out)
    assert spearmanr(ours, theirs).statistic >= 0.99
    if backend in ("isolation_forest", "loda"):
        # Same semantics, same arithmetic: equal up to floating-point rounding.
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["ecod", "isolation_forest", "loda"])
def test_symmetric_columns_do_not_change_the_ranking(host, data, backend) -> None:
    X, held_out = data
    fast, reference = fit_both(host, backend, X)
    assert spearmanr(fast.detector.score(held_out), pyod_scores(reference, held_out)).statistic >= 0.99


def test_copod_follows_pyods_one_row_computation_on_symmetric_columns(host, data) -> None:
    """COPOD's per-feature score hinges on the sign of the column's skewness, which PyOD takes
    over training *and* scored rows together. On a near-symmetric column the held-out batch
    decides that sign (here the normal column: -1 over the training rows, +1 with the 600
    held-out rows), so PyOD's ranking of a row depends on the batch it came in and the fast
    path, which scores every row as a batch of one, agrees with PyOD's batch only to ~0.90
    rank correlation. Against PyOD's one-row computation it agrees exactly (up to the sketch)."""
    X, held_out = data
    fast, reference = fit_both(host, "copod", X)
    rows = held_out[:120]
    one_row = np.array([pyod_scores(reference, rows[i : i + 1])[0] for i in range(len(rows))])
    assert spearmanr(fast.detector.score(rows), one_row).statistic >= 0.999
    assert np.abs(fast.detector.score(rows) - one_row).max() <= X.shape[1] * DEFAULT_REL_GAP * 1.5


def test_loda_bins_tied_rows_as_pyod_did_at_fit(host) -> None:
    """Binary features make many rows project exactly onto a histogram edge; the last bit of
    the projection then decides the bin. Scoring the training rows must give PyOD's training
    scores, whatever BLAS kernel computed the projection."""
    rng = np.random.default_rng(8)
    X = (rng.random((400, 18)) < 0.3).astype(float)
    fast, _ = fit_both(host, "loda", X)
    np.testing.assert_allclose(fast.detector.score(X), fast.detector.training_scores_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.detector.score(X[:5]), fast.detector.training_scores_[:5], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "params", [{"max_features": 0.5}, {"max_samples": 0.3, "bootstrap": True, "n_estimators": 37}],
    ids=["feature-subsets", "bootstrap-float-samples"],
)
def test_packed_forest_matches_pyod_with_subsampling(host, data, params) -> None:
    X, held_out = data
    fast, reference = fit_both(host, "isolation_forest", X, **params)
    np.testing.assert_allclose(fast.detector.score(held_out), pyod_scores(reference, held_out), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_one_row_scores_equal_pyods_one_row_batches_exactly_on_small_data(host, backend) -> None:
    """Below ~300 distinct values per column the sketch keeps every value, so a row of values
    not seen in training, scored alone, must get PyOD's number for a batch of that one row
    (skewness sign included)."""
    X = tabular(250, 3)
    rows = tabular(40, 4) * 1.8 + 0.01  # wider: many rows in or beyond the tails; no value seen in training
    assert not np.isin(rows, X).any()
    fast, reference = fit_both(host, backend, X)
    ours = fast.detector.score(rows)
    theirs = np.array([pyod_scores(reference, rows[i : i + 1])[0] for i in range(len(rows))])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_one_row_scores_stay_within_the_sketch_bound_on_large_data(host, backend) -> None:
    """With 20k rows the sketch interpolates between knots: each feature's ``-log p`` may be
    off by about the knot gap (1/128), so a row's sum by at most ~d/128."""
    X, rows = tabular(20_000, 5), tabular(30, 6) * 1.5
    fast, reference = fit_both(host, backend, X)
    ours = fast.detector.score(rows)
    theirs = np.array([pyod_scores(reference, rows[i : i + 1])[0] for i in range(len(rows))])
    bound = X.shape[1] * DEFAULT_REL_GAP * 1.5
    assert np.abs(ours - theirs).max() <= bound
    assert np.abs(ours - theirs).max() > 0  # the sketch really is in use at this size


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_rescoring_the_training_rows_gives_pyods_training_scores(host, backend) -> None:
    """A value seen in training scores as the training rows holding it did, so fitting and
    then scoring the same rows (what ``/detect`` does) flags ``contamination`` of them, as
    PyOD's batch path did. Exact on small data, where every value is a knot."""
    X = tabular(300, 10)
    fast, _ = fit_both(host, backend, X)
    np.testing.assert_allclose(fast.detector.score(X), fast.detector.training_scores_, rtol=0, atol=1e-9)
    for contamination in (0.02, 0.2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # PyOD's skewness of the constant column
            model = train(host.detectors.get(backend), X, name="again", contamination=contamination)
        assert abs(model.score(X).is_anomaly.mean() - contamination) <= 0.01


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_seen_values_keep_their_training_score_on_large_data(host, backend) -> None:
    """With 20k rows only the tails are stored exactly; the middle is interpolated, where a
    seen value's count differs from the appended-row rule by one in ~100 or more."""
    X = tabular(20_000, 11)
    fast, _ = fit_both(host, backend, X)
    rescored, training = fast.detector.score(X), fast.detector.training_scores_
    assert np.abs(rescored - training).max() <= X.shape[1] * DEFAULT_REL_GAP * 1.5
    assert abs(np.mean(rescored > np.quantile(training, 0.9)) - 0.1) <= 0.005


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_a_rows_score_does_not_depend_on_its_batch(host, data, backend) -> None:
    X, held_out = data
    fast, _ = fit_both(host, backend, X)
    batch = fast.detector.score(held_out)
    alone = np.array([fast.detector.score(held_out[i : i + 1])[0] for i in range(0, 600, 37)])
    np.testing.assert_allclose(alone, batch[::37], rtol=0, atol=1e-12)


def odds_auc(host, backend: str, dataset: str, trials: int, one_row: bool = False) -> tuple[float, float]:
    """Mean ROC-AUC of the fast path and of PyOD (batch, or each test row alone) on the
    protocol's first ``trials`` splits."""
    ours, theirs = [], []
    for split in odds.splits(dataset, trials):
        fast, reference = fit_both(host, backend, split.X_train)
        ours.append(roc_auc_score(split.y_test, fast.score(split.X_test).raw))
        if one_row:
            pyod = np.array([pyod_scores(reference, row[None, :])[0] for row in split.X_test])
        else:
            pyod = pyod_scores(reference, split.X_test)
        theirs.append(roc_auc_score(split.y_test, pyod))
    return float(np.mean(ours)), float(np.mean(theirs))


@pytest.mark.data("odds")
@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_odds_roc_auc_stays_within_0_005_of_pyod(host, backend) -> None:
    """PyOD's protocol on cardio (1,831 rows; 3 of its 10 trials), PyOD scoring the test part
    as a batch. The benchmark reports all 17 datasets (docs/backends.md). On small datasets a
    single split moves ECOD/COPOD by more (wbc, 8 anomalies per test part: 0.007 over 3
    trials, 0.002 over 10), and COPOD by up to ~0.035 where PyOD's batch decides its skewness
    signs (see above), so those are reported by the benchmark rather than gated here."""
    ours, theirs = odds_auc(host, backend, "cardio", 3)
    assert abs(ours - theirs) <= 0.005, (ours, theirs)


@pytest.mark.data("odds")
@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_odds_roc_auc_stays_close_to_pyods_one_row_scoring(host, backend) -> None:
    """The service's semantics is PyOD's one-row scoring, except that values already present
    in the training data (wbc has such ties) keep their training score."""
    ours, theirs = odds_auc(host, backend, "wbc", 2, one_row=True)
    assert abs(ours - theirs) <= 0.005, (ours, theirs)


# -- thresholds and training scores -----------------------------------------------------------


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_training_scores_are_pyods_and_the_threshold_fits_new_rows(host, data, backend) -> None:
    """Training scores come from PyOD's fit either way; the threshold learned from them must
    flag about ``contamination`` of new rows from the training distribution."""
    X, _ = data
    fast, reference = fit_both(host, backend, X)
    np.testing.assert_array_equal(fast.detector.training_scores_, reference.detector.training_scores_)
    assert fast.info.raw_threshold == reference.info.raw_threshold
    fresh = tabular(4000, 9)
    rate = fast.score(fresh).is_anomaly.mean()
    assert 0.06 <= rate <= 0.14, rate


# -- artifact size and the switch -------------------------------------------------------------


def artifact_bytes(model: FittedModel) -> int:
    buffer = io.BytesIO()
    joblib.dump(model.detector, buffer)
    return len(buffer.getvalue())


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_the_fast_model_drops_pyods_estimator(host, data, backend) -> None:
    X, _ = data
    fast, reference = fit_both(host, backend, X)
    assert fast.detector.estimator is None
    assert reference.detector.estimator is not None
    assert artifact_bytes(fast) < artifact_bytes(reference)


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
def test_ecdf_models_do_not_grow_with_the_training_set(host, backend) -> None:
    """PyOD keeps the training matrix and four more of its size; the sketch is O(log n)."""
    X = np.random.default_rng(0).normal(size=(40_000, 16))
    fast, reference = fit_both(host, backend, X)
    assert artifact_bytes(fast) <= 0.10 * artifact_bytes(reference)
    assert artifact_bytes(fast) < X.nbytes / 4


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_fast_scoring_off_in_params_scores_with_pyod(host, data, backend) -> None:
    X, held_out = data
    _, reference = fit_both(host, backend, X)
    assert reference.info.params["fast_scoring"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        served = reference.score(held_out).raw
    np.testing.assert_array_equal(served, pyod_scores(reference, held_out))


def test_operators_switch_fast_scoring_off_with_backend_defaults(host, data, tmp_path) -> None:
    X, _ = data
    settings = load_settings(env={}, data_dir=str(tmp_path), backend_defaults={"ecod": {"fast_scoring": False}})
    service = AnomalyService(settings, plugins=host)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        by_default = service.fit(X, model="ops", backend="ecod").model
        by_request = service.fit(X, model="client", backend="ecod", params={"fast_scoring": True}).model
    assert by_default.info.params["fast_scoring"] is False and by_default.detector.estimator is not None
    assert by_request.info.params["fast_scoring"] is True and by_request.detector.estimator is None


@pytest.mark.parametrize("backend", FAST_BACKENDS)
def test_fast_scoring_is_a_published_parameter(host, backend) -> None:
    schema = host.detectors.get(backend).params_schema()
    assert schema["properties"]["fast_scoring"]["type"] == "boolean"
    assert schema["properties"]["fast_scoring"]["default"] is True
    assert "PyOD" in schema["properties"]["fast_scoring"]["description"]


# -- the building blocks ----------------------------------------------------------------------


def brute_counts(column: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (column[None, :] <= x[:, None]).sum(1).astype(float), (column[None, :] >= x[:, None]).sum(1).astype(float)


def test_sketch_counts_are_exact_on_small_and_discrete_columns() -> None:
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=500), rng.integers(0, 5, 500), np.full(500, 1.0)])
    sketch = ECDFSketch(X)
    probes = np.column_stack([
        np.concatenate([X[:50, 0], [-9.0, 9.0, X[:, 0].min(), X[:, 0].max()], rng.normal(size=20)]),
        np.concatenate([X[:50, 1], [-1.0, 7.0, 0.0, 4.0], rng.uniform(-1, 5, 20)]),
        np.concatenate([X[:50, 2], [0.0, 2.0, 1.0, 1.0], rng.uniform(0, 2, 20)]),
    ])
    below, above, seen = sketch.counts(probes)
    for j in range(3):
        want_below, want_above = brute_counts(X[:, j], probes[:, j])
        np.testing.assert_array_equal(below[:, j], want_below)
        np.testing.assert_array_equal(above[:, j], want_above)
        np.testing.assert_array_equal(seen[:, j], np.isin(probes[:, j], X[:, j]))


def test_sketch_tails_are_exact_and_the_middle_within_the_relative_gap() -> None:
    rng = np.random.default_rng(5)
    column = rng.standard_t(4, size=60_000)
    sketch = ECDFSketch(column[:, None])
    probes = np.concatenate([np.sort(column)[:200], np.sort(column)[-200:], rng.standard_t(4, size=3000)])
    below, above, _ = (c[:, 0] for c in sketch.counts(probes[:, None]))
    want_below, want_above = brute_counts(column, probes)
    tails = slice(0, 400)
    np.testing.assert_array_equal(below[tails], want_below[tails])
    np.testing.assert_array_equal(above[tails], want_above[tails])
    smaller_true = np.minimum(want_below, want_above)
    smaller_error = np.where(want_below <= want_above, np.abs(below - want_below), np.abs(above - want_above))
    assert np.all(smaller_error <= DEFAULT_REL_GAP * smaller_true + 1)
    assert sketch.keys.size < column.size / 10


def test_appended_skew_signs_match_scipy_on_the_appended_column() -> None:
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.normal(size=300), rng.exponential(size=300), np.full(300, 3.0)])
    rows = np.column_stack([rng.normal(size=40) * 4, -rng.exponential(size=40) * 6, np.r_[np.full(20, 3.0), rng.normal(size=20)]])
    signs = AppendedSkew(X).signs(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.array([np.sign(np.nan_to_num(skew(np.vstack([X, row]), axis=0))) for row in rows])
    np.testing.assert_array_equal(signs, want)
    assert set(np.unique(want[:, 0])) == {-1.0, 1.0}  # the row really does flip the symmetric column


def test_packed_forest_walks_every_row_to_a_leaf(data) -> None:
    from sklearn.ensemble import IsolationForest

    X, held_out = data
    forest = IsolationForest(n_estimators=20, random_state=0).fit(X)
    packed = PackedForest(forest)
    np.testing.assert_allclose(packed.score_samples(held_out), -forest.score_samples(held_out), rtol=0, atol=1e-12)
    many = np.repeat(held_out, 5, axis=0)  # more rows than one chunk
    np.testing.assert_allclose(packed.score_samples(many), -forest.score_samples(many), rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ECDF_BACKENDS)
@pytest.mark.parametrize("n_train", [300, 20_000])  # every value a knot / interpolated middle
def test_one_row_python_path_equals_the_vectorised_path(host, backend, n_train) -> None:
    """Streaming scores points through ``score_row`` (plain Python); it must give ``score``'s
    numbers for new values, values seen in training, values beyond both extremes, and the
    constant and discrete columns."""
    X = tabular(n_train, 20)
    fast, _ = fit_both(host, backend, X, tail="extrapolated")
    beyond = np.vstack([X.max(axis=0) + 1.0, X.min(axis=0) - 1.0, X.max(axis=0), X.min(axis=0), X.max(axis=0) * 40.0])
    rows = np.vstack([tabular(200, 21) * 1.3, X[:50], beyond])
    vectorised = fast.detector.score(rows)
    one_by_one = np.array([fast.detector.score_row(row.tolist()) for row in rows])
    np.testing.assert_allclose(one_by_one, vectorised, rtol=1e-12, atol=1e-12)
    restored = joblib.load(io.BytesIO(_dumped(fast.detector)))  # the row cache is not pickled
    assert "_row_scorer" not in restored.__dict__
    assert restored.score_row(rows[0].tolist()) == pytest.approx(vectorised[0], rel=1e-12)


def test_wide_rows_take_the_vectorised_path(host) -> None:
    from anomd_builtins.detectors._ecdf_row import MAX_FEATURES

    X = np.random.default_rng(22).lognormal(size=(500, MAX_FEATURES + 1))
    fast, _ = fit_both(host, "ecod", X, tail="extrapolated")
    row = X[0] * 1.01
    row[3] = X[:, 3].max() * 3.0  # beyond the range: the tail term on both paths
    assert fast.detector.score_row(row.tolist()) == pytest.approx(fast.detector.score(row[None, :])[0], rel=1e-12)
    assert "_row_scorer" not in fast.detector.__dict__


def _dumped(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()
