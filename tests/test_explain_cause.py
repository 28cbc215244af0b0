"""Explanations name the feature that made a row odd, for every backend.

A row is normal in every feature but one; the explanation's cause (and so the first, largest
entry of its contributions) must be that feature. Planted rows on Gaussian data cover a value
just outside the training range, and one far outside it, where most detectors saturate and
the documented tie-breaker (distance from the training median in robust units) decides. The
ODDS rows are real inliers of ``wbc`` with one feature corrupted.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BACKENDS, FAST_PARAMS, REQUIRE_ALL_BACKENDS

import anomd
from anomd.plugins import PluginHost

FEATURES = 4


def _fitted(backend: str, X: np.ndarray) -> anomd.Detector:
    spec = PluginHost().detectors.get(backend)
    if not spec.available:
        assert not REQUIRE_ALL_BACKENDS, f"{backend} must run here but misses {spec.missing_dependencies()}"
        pytest.skip(f"{backend} needs {spec.missing_dependencies()} (optional extra)")
    return anomd.Detector(backend, contamination=0.05, params=FAST_PARAMS.get(backend)).fit(X)


def _causes(detector: anomd.Detector, rows: np.ndarray) -> list[str]:
    model = detector.model_
    assert model is not None
    explained = model.explain(model.matrix(rows), range(len(rows)))
    for found in explained.values():
        assert next(iter(found.contributions)) == found.cause  # the cause is listed first
    return [explained[i].cause for i in range(len(rows))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_planted_feature_is_the_cause(backend: str) -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, FEATURES))
    detector = _fitted(backend, X)
    rows, expected = [], []
    for j in range(FEATURES):
        for offset in (5.0, 50.0):  # just outside the range; far beyond it (saturated)
            for sign in (1.0, -1.0):
                row = rng.normal(scale=0.3, size=FEATURES)
                row[j] = sign * offset
                rows.append(row)
                expected.append(f"x{j}")
    assert _causes(detector, np.array(rows)) == expected


def test_ties_from_saturated_scores_go_to_the_farthest_feature() -> None:
    """ECOD gives every feature beyond the training range the same contribution (its tail
    probability floors at 1/(n+1)); the tie is broken by robust distance from the median."""
    X = np.random.default_rng(3).normal(size=(300, 3))
    detector = anomd.Detector("ecod", params={"tail": "capped"}).fit(X)
    row = np.array([[8.0, 30.0, 9.0]])
    model = detector.model_
    explained = model.explain(model.matrix(row), [0])[0]
    values = sorted(explained.contributions.values())
    assert values[-1] - values[0] < 1e-6 * max(1.0, abs(values[-1]))  # tied contributions
    assert explained.cause == "x1"


@pytest.mark.data("odds")
@pytest.mark.parametrize("backend", BACKENDS)
def test_odds_rows_with_one_corrupted_feature(backend: str) -> None:
    from benchmarks import odds

    X, y = odds.load("wbc")
    inliers = X[y == 0]
    train, held_out = inliers[::2], inliers[1::2][:12]
    detector = _fitted(backend, train)
    median = np.median(train, axis=0)
    spread = np.maximum(np.percentile(train, 75, axis=0) - np.percentile(train, 25, axis=0), 1e-6)
    rng = np.random.default_rng(11)
    rows, expected = [], []
    for row in held_out:
        j = int(rng.integers(X.shape[1]))
        corrupted = row.copy()
        corrupted[j] = train[:, j].max() + 10 * spread[j] + abs(median[j])
        rows.append(corrupted)
        expected.append(f"x{j}")
    causes = _causes(detector, np.array(rows))
    assert causes == expected
