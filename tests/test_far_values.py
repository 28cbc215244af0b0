"""Gross outliers are anomalies: one value far beyond the training data is flagged, everywhere.

PyOD's rank and histogram detectors (ECOD, COPOD, HBOS), and the isolation forest and LODA in
effect, see a value beyond a feature's training range like the most extreme training value, so
a reading fifty standard deviations out could score below the threshold. The built-in plugins
add a tail beyond the training range (``plugins/anomd_builtins/detectors/_range_tails.py``,
``tail: "extrapolated"``, the default). These tests plant single-feature outliers and check
that every backend flags them at its default settings, that scores inside the training range
are exactly what they were (``tail: "capped"`` is PyOD's score), and that a stream flags a spike
in one of its fields (a real NAB series, ``../shared/data/nab``).
"""

from __future__ import annotations

import csv
import os
import warnings

import numpy as np
import pytest
from benchmarks.common import DATA_DIR
from benchmarks.far_values import planted_rows
from helpers import BACKENDS, REQUIRE_ALL_BACKENDS
from test_fast_paths import tabular

from anomd import StreamingAnomalyDetector
from anomd.model import train
from anomd.plugins import PluginHost
from anomd.streaming import InlineExecutor
from anomd_builtins.detectors._range_tails import RangeTails, tail_size

#: Backends whose plugin has the ``tail`` parameter.
TAILED = ("ecod", "copod", "hbos", "isolation_forest", "loda", "suod", "autoencoder")
#: The cheap ones, for the checks that compare both tails.
QUICK_TAILED = ("ecod", "copod", "hbos", "isolation_forest", "loda")


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost()


def fit(host: PluginHost, backend: str, X: np.ndarray, **params):
    spec = host.detectors.get(backend)
    if not spec.available:
        assert not REQUIRE_ALL_BACKENDS, f"{backend} must run here but misses {spec.missing_dependencies()}"
        pytest.skip(f"{backend} is not installed here ({spec.install_hint})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyOD's skewness of a constant column, SUOD's chatter
        return train(spec, X, name="far", params=params)


@pytest.mark.parametrize("backend", BACKENDS)
def test_planted_single_feature_outliers_are_flagged_at_default_settings(host, backend) -> None:
    """8 and 50 standard deviations out in one feature, 2 to 20 features, three seeds: flagged by
    every backend with its defaults (contamination 0.1).

    The row around the far value is a fresh row from the training distribution, and a row with
    every other feature at its median (the most typical row there is), except at 8 standard
    deviations in 20 features: such a centre row needs one feature to outweigh nineteen values *more typical
    than any training row has*: for ECOD that takes a tail probability below about e^-25, which
    the tail fitted to a few hundred Gaussian values puts at 8 to 9 standard deviations
    (docs/backends.md).
    """
    missed = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        for d in (2, 4, 10, 20):
            X = rng.normal(size=(300, d))
            model = fit(host, backend, X)
            for spreads in (8.0, 50.0):
                for centre_rows in (False, True) if d <= 10 or spreads == 50 else (False,):
                    rows = planted_rows(X, spreads, rng, centre_rows)
                    flagged = model.score(rows).is_anomaly
                    if not flagged.all():
                        missed.append(f"seed {seed}, {d} features, {spreads:g} sd, centre rows "
                                      f"{centre_rows}: {int((~flagged).sum())} of {len(rows)}")
    assert not missed, f"{backend} missed planted outliers: " + "; ".join(missed)


@pytest.mark.parametrize("backend", QUICK_TAILED)
def test_the_tail_leaves_every_score_inside_the_training_range_unchanged(host, backend) -> None:
    X = tabular(2000, 30)
    fresh = np.vstack([tabular(600, 31), tabular(200, 32) * 2.5])  # a quarter spread wider
    extrapolated, capped = fit(host, backend, X), fit(host, backend, X, tail="capped")
    np.testing.assert_array_equal(extrapolated.detector.training_scores_, capped.detector.training_scores_)
    assert extrapolated.info.raw_threshold == capped.info.raw_threshold
    outside = (fresh < X.min(axis=0)) | (fresh > X.max(axis=0))
    tailed = outside[:, X.std(axis=0) > 0].any(axis=1)  # beyond a column that is not constant
    inside = ~outside.any(axis=1)
    assert inside.sum() > 500 and tailed.sum() > 50  # both kinds of rows really are there
    ours, pyods = extrapolated.score(fresh).raw, capped.score(fresh).raw
    np.testing.assert_array_equal(ours[~tailed], pyods[~tailed])
    if not extrapolated.detector.clip_beyond_range:  # PyOD's capped score plus the tail
        assert np.all(ours[tailed] > pyods[tailed])


@pytest.mark.parametrize("backend", QUICK_TAILED)
def test_new_rows_from_the_training_distribution_are_flagged_as_often_as_before(host, backend) -> None:
    """The tail touches only values beyond the training range, which new rows from the same
    distribution reach now and then (1 in n + 1 per column and side): the share of them flagged
    stays about ``contamination`` and moves little from PyOD's capped view."""
    X, fresh = tabular(3000, 32), tabular(6000, 33)
    extrapolated, capped = fit(host, backend, X), fit(host, backend, X, tail="capped")
    ours, pyods = extrapolated.score(fresh).is_anomaly.mean(), capped.score(fresh).is_anomaly.mean()
    assert 0.06 <= ours <= 0.14, ours
    assert 0 <= ours - pyods <= 0.01, (ours, pyods)


@pytest.mark.parametrize("backend", TAILED)
def test_further_out_always_scores_strictly_higher(host, backend) -> None:
    rng = np.random.default_rng(40)
    X = np.column_stack([rng.normal(size=400), rng.lognormal(size=400), rng.integers(0, 3, 400)])
    model = fit(host, backend, X, **({"epochs": 5, "hidden_neurons": [8, 4]} if backend == "autoencoder" else {}))
    for j in range(X.shape[1]):
        for side in (1.0, -1.0):
            edge = X[:, j].max() if side > 0 else X[:, j].min()
            rows = np.tile(np.median(X, axis=0), (9, 1))
            rows[:, j] = edge + side * X[:, j].std() * np.array([0.01, 0.1, 0.5, 1, 2, 5, 10, 50, 500])
            raw = model.score(rows).raw
            assert np.all(np.diff(raw) > 0), (j, side, raw)


@pytest.mark.parametrize("backend", ["ecod", "copod", "hbos"])
def test_capped_is_pyods_score_exactly(host, backend) -> None:
    """``tail: "capped"`` with PyOD's own scoring is PyOD's ``decision_function``, bit for bit,
    far values included (the fast paths' parity with it is ``test_fast_paths.py``)."""
    X, rows = tabular(600, 34), tabular(200, 35) * 3.0
    params = {"tail": "capped"} | ({} if backend == "hbos" else {"fast_scoring": False})
    model = fit(host, backend, X, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pyod = np.asarray(model.detector.estimator.decision_function(rows), dtype=float)
        np.testing.assert_array_equal(model.score(rows).raw, pyod)
        far = fit(host, backend, X, **{**params, "tail": "extrapolated"})
        assert np.any(far.score(rows).raw > pyod)


@pytest.mark.parametrize("backend", TAILED)
def test_tail_is_a_published_parameter(host, backend) -> None:
    tail = host.detectors.get(backend).params_schema()["properties"]["tail"]
    assert sorted(tail["enum"]) == ["capped", "extrapolated"] and tail["default"] == "extrapolated"
    assert "PyOD" in tail["description"]
    untailed = set(BACKENDS) - set(TAILED)
    assert all("tail" not in host.detectors.get(b).params_schema()["properties"] for b in untailed)


def test_models_saved_before_tails_existed_keep_scoring_as_they_did(host) -> None:
    """An artifact pickled before this change has no tail state: it scores capped, as then."""
    X, rows = tabular(500, 36), tabular(100, 37) * 3.0
    model = fit(host, "ecod", X)
    before = fit(host, "ecod", X, tail="capped").score(rows).raw
    del model.detector.__dict__["beyond_"]
    np.testing.assert_array_equal(model.score(rows).raw, before)
    one_by_one = [model.detector.score_row(r) for r in rows.tolist()]  # the streaming path
    np.testing.assert_allclose(one_by_one, before, rtol=1e-12)


# -- the tail model --------------------------------------------------------------------------------


def test_the_tail_is_the_fitted_exponential_rate_growing_like_a_gaussian_tail() -> None:
    rng = np.random.default_rng(41)
    column = rng.normal(size=900)
    tails = RangeTails(column[:, None])
    k = tail_size(900)
    assert k == 30
    top = np.sort(column)[::-1]
    beta = top[:k].mean() - top[k]  # mean excess of the k largest over the next one
    reach = top[0] - np.median(column)
    for excess in (0.0, 0.3, 2.0, 40.0):
        want = excess / beta + excess**2 / (2 * beta * reach)
        assert tails.nats(np.array([[top[0] + excess]]))[0] == pytest.approx(want, rel=1e-12)
    inside = rng.uniform(column.min(), column.max(), size=(50, 1))
    assert np.all(tails.nats(inside) == 0.0)


def test_tied_extremes_fall_back_to_the_spread_and_a_constant_column_has_no_tail() -> None:
    rng = np.random.default_rng(42)
    rounding = np.where(rng.random(500) < 0.5, 0.3, 0.1 + 0.2)  # constant up to the last bit
    X = np.column_stack([(rng.random(500) < 0.4).astype(float), np.full(500, 3.0), rounding])
    tails = RangeTails(X)
    beta = X[:, 0].std()  # the 23 largest values are all 1: no excess to measure
    reach = 1.0  # the maximum's distance from the median, 0
    assert tails.nats(np.array([[2.0, 3.0, 0.3]]))[0] == pytest.approx(1 / beta + 1 / (2 * beta * reach))
    assert tails.nats(np.array([[1.0, 1e6, 5.0]]))[0] == 0.0
    clipped = tails.clip(np.array([[5.0, 1e6, 5.0], [-5.0, -1e6, -5.0]]))
    np.testing.assert_array_equal(clipped, [[1.0, 1e6, 5.0], [0.0, -1e6, -5.0]])  # constant columns left alone


# -- streaming -----------------------------------------------------------------------------------

NAB_SERIES = {  # one EC2 host's CPU, network and disk, 5-minute samples (4,032 each)
    "cpu": "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
    "network_in": "realAWSCloudwatch/ec2_network_in_257a54.csv",
    "disk_write": "realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
}


def nab_fields() -> np.ndarray:
    """The three series as columns; skips (or fails, in CI) when the NAB data is not there."""
    folder = DATA_DIR / "nab" / "data"
    missing = [str(folder / path) for path in NAB_SERIES.values() if not (folder / path).exists()]
    if missing:
        message = (f"NAB data not found ({', '.join(missing)}): put the Numenta Anomaly Benchmark "
                   "under ../shared/data/nab (see its README) to run this test")
        if os.environ.get("ANOMD_TEST_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    columns = []
    for path in NAB_SERIES.values():
        with open(folder / path, newline="") as f:
            columns.append([float(row["value"]) for row in csv.DictReader(f)])
    return np.column_stack(columns)


def stream(values: np.ndarray, further: dict[int, int] | None = None) -> tuple[list, dict, dict]:
    """Streams ``values`` at default settings; at each point of ``further`` (time -> field) also
    scores, without learning it, the point with that field pushed 10 times as far out."""
    detector = StreamingAnomalyDetector("nab-host", executor=InlineExecutor())  # defaults: ecod
    results, far_scores = [], {}
    for t, row in enumerate(values.tolist()):
        if further and t in further:
            j = further[t]
            window = values[t - 1000 : t, j]
            far = list(row)
            far[j] = window.max() + 10.0 * (row[j] - window.max())
            far_scores[t] = detector.score_one(dict(zip(NAB_SERIES, far))).raw_score
        results.append(detector.process_sync(dict(zip(NAB_SERIES, row))))
    return results, detector.get_stats(), far_scores


def test_a_stream_flags_a_spike_in_one_of_three_real_fields() -> None:
    """Spikes planted into one field at a time of a real three-field stream, each beyond
    everything that field showed in the last 1,000 points (the window) by 5 of its standard
    deviations, are all flagged by a stream at default settings; the same point with the spike
    ten times further out scores higher on the same model (PyOD's capped ECOD gave both the
    same score), and ordinary points are flagged about as often as ``contamination`` says."""
    clean = nab_fields()[:3000]
    spike_at = {t: i % 3 for i, t in enumerate(range(1100, 3000, 150))}  # field by turns

    values = clean.copy()
    for t, j in spike_at.items():
        window = values[t - 1000 : t, j]
        values[t, j] = window.max() + 5.0 * clean[t - 1000 : t, j].std()

    results, stats, further = stream(values, spike_at)
    spikes = sorted(spike_at)
    missed = [t for t in spikes if not results[t].is_anomaly]
    assert not missed, [(t, results[t].raw_score, results[t].threshold) for t in missed]
    ordinary = [r.is_anomaly for t, r in enumerate(results) if r.is_anomaly is not None and t not in spike_at]
    assert 0.05 <= np.mean(ordinary) <= 0.2
    assert stats["retrains_completed"] >= 25 and stats["retrains_failed"] == 0
    assert stats["anomalies_detected"] >= len(spikes)
    assert all(further[t] > results[t].raw_score for t in spikes), [(t, further[t], results[t].raw_score) for t in spikes]
