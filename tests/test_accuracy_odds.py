"""Every backend still finds real anomalies: the ODDS accuracy harness on two small datasets.

Runs ``benchmarks.accuracy`` (PyOD's published protocol, through anomd's own API) on the two
ODDS datasets where all twelve detectors are clearly better than chance in PyOD's published
table: ``wbc`` (378 rows, 30 features, 21 anomalies) and ``lympho`` (148 rows, 18 features,
6 anomalies). Splits and seeds are fixed, so the figures are deterministic; a detector whose
ROC-AUC falls toward 0.5 (a sign error, a broken fast path, scores that stopped depending on
the data) fails here. The full 17-dataset comparison with raw PyOD and the published table is
``python -m benchmarks accuracy`` (docs/backends.md).

Floors: 0.70 for every backend. A detector scoring at random has a mean ROC-AUC of 0.5 with a
standard deviation of about 0.06 over these trials (few anomalies per test part), so 0.70 is
more than three standard deviations above chance; the lowest real figure is LODA's 0.76 on
lympho, where each test part holds only two or three anomalies.
"""

from __future__ import annotations

import pytest
from benchmarks.accuracy import evaluate_cell
from benchmarks.common import BACKENDS, plugin_host
from helpers import REQUIRE_ALL_BACKENDS

#: dataset -> trials (lympho is tiny: ten trials cost about a second and steady its mean).
DATASETS = {"wbc": 3, "lympho": 10}
FLOOR = 0.70


def test_the_harness_covers_all_twelve_backends() -> None:
    assert len(BACKENDS) == 12
    assert set(BACKENDS) <= set(plugin_host().detectors)


@pytest.mark.data("odds")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_backend_finds_odds_anomalies_well_above_chance(backend: str, dataset: str) -> None:
    spec = plugin_host().detectors.get(backend)
    cell = evaluate_cell(backend, dataset, DATASETS[dataset], with_raw=False)
    if not spec.available:
        assert not REQUIRE_ALL_BACKENDS, f"{backend} must run here but misses {spec.missing_dependencies()}"
        # Without its optional dependency the backend is reported unavailable, never scored.
        assert cell["unavailable"] == spec.missing_dependencies() and not cell["anomd_auc"]
        return
    assert not cell["errors"], cell["errors"]
    assert cell["trials_run"] == DATASETS[dataset]
    assert cell["anomd_mean"] >= FLOOR, f"{backend} on {dataset}: ROC-AUC {cell['anomd_mean']:.3f}"
