"""The 17 ODDS datasets and PyOD's published evaluation protocol (see the data README).

Protocol, as PyOD's benchmark ran it: for trial ``i`` in ``0..9``, split with
``train_test_split(X, y, test_size=0.4, random_state=np.random.RandomState(i))``, standardise
with a z-score fitted on the training part, fit each detector on the training part without
labels (default hyper-parameters; CBLOF with ``n_clusters=10``), and take the ROC-AUC of the
test part's scores; report the mean over trials.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from benchmarks.common import DATA_DIR

ODDS_DIR = DATA_DIR / "odds"
PUBLISHED_2024 = ODDS_DIR / "published_rocauc_pyod_2024_notebooks_roc_CLEAN.csv"

DATASETS: tuple[str, ...] = (
    "arrhythmia", "cardio", "glass", "ionosphere", "letter", "lympho", "mnist", "musk", "optdigits",
    "pendigits", "pima", "satellite", "satimage-2", "shuttle", "vertebral", "vowels", "wbc",
)

#: anomd backend -> column of the published 2024 table (SUOD is not in it).
PUBLISHED_COLUMN: dict[str, str] = {
    "ecod": "ECOD", "copod": "COPOD", "hbos": "HBOS", "isolation_forest": "IForest", "loda": "LODA",
    "mcd": "MCD", "cblof": "CBLOF", "knn": "KNN", "local_outlier_factor": "LOF",
    "one_class_svm": "OCSVM", "autoencoder": "AutoEncoder",
}

#: Hyper-parameters the protocol fixes; everything else stays at the backend's default.
PROTOCOL_PARAMS: dict[str, dict[str, object]] = {"cblof": {"n_clusters": 10}}


@dataclass(frozen=True)
class Split:
    """One trial: standardised train and test parts and the test labels."""

    trial: int
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@cache
def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (float64) and ``y`` (0/1 int) of one dataset, read from ``../shared/data/odds``."""
    from scipy.io import loadmat

    path = ODDS_DIR / f"{name}.mat"
    if not path.exists():
        raise FileNotFoundError(f"ODDS dataset {name!r} not found at {path} (see the data README)")
    mat = loadmat(path)
    return np.asarray(mat["X"], dtype=np.float64), np.asarray(mat["y"]).ravel().astype(int)


def splits(name: str, trials: int) -> Iterator[Split]:
    """The protocol's trials for one dataset, standardised on each training part."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load(name)
    for i in range(trials):
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.4, random_state=np.random.RandomState(i))
        scaler = StandardScaler().fit(X_train)
        yield Split(i, scaler.transform(X_train), scaler.transform(X_test), y_test)


@cache
def published_2024() -> dict[str, dict[str, float]]:
    """``{dataset: {detector column: ROC-AUC}}`` from PyOD's 2024 benchmark table."""
    with PUBLISHED_2024.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["Data"]: {k: float(v) for k, v in row.items() if k in PUBLISHED_COLUMN.values()} for row in rows}


def published(backend: str, dataset: str) -> float | None:
    """The published ROC-AUC of ``backend`` on ``dataset``, or None where the table has none."""
    column = PUBLISHED_COLUMN.get(backend)
    if column is None:
        return None
    return published_2024().get(dataset, {}).get(column)
