"""Every available backend on the same labelled data: fit time, detection quality, one chart.

The data are three clusters of ordinary rows with anomalies planted between and around them,
so the label of every row is known. Each backend is fitted on a training set and scored on a
separate test set; quality is the ROC-AUC of the test scores against the planted labels (1.0:
every anomaly outscores every ordinary row; 0.5: no better than chance).

Run ``anomd serve``, then::

    python examples/04_backend_comparison.py            # chart in the temp folder
    python examples/04_backend_comparison.py --output chart.png

The server address comes from ``ANOMD_URL`` (default ``http://127.0.0.1:8000``), an API key
from ``ANOMD_API_KEY``. The arrays travel as Arrow tables (``anomd.Client``). The chart needs
matplotlib (installed with the dev dependencies).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

import anomd
from anomd.client import ApiError, Unreachable

#: Keep the slow backends quick on example-sized data (everything else uses its defaults).
FAST_PARAMS = {
    "autoencoder": {
        "epochs": 8,
        "hidden_neurons": [16, 8],
        "dropout_rate": 0.0,
        "batch_norm": False,
    },
    "suod": {"base_estimators": ["lof", "hbos", "isolation_forest"]},
}


def labelled_data(
    n: int, anomaly_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows in 6-D: three Gaussian clusters and anomalies around them; (X, is_anomaly).

    Anomalies come from the same centres with four times the spread, so some land inside the
    clusters: no detector can find those, and the scores differ in how they rank the rest.
    """
    centres = np.array([[0, 0, 0, 0, 0, 0], [6, 6, 0, 0, 3, 3], [0, 6, 6, 6, 0, -3]], dtype=float)
    n_anomalies = round(n * anomaly_share)
    normal = centres[rng.integers(0, 3, n - n_anomalies)] + rng.normal(
        scale=1.0, size=(n - n_anomalies, 6)
    )
    anomalies = centres[rng.integers(0, 3, n_anomalies)] + rng.normal(
        scale=4.0, size=(n_anomalies, 6)
    )
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(n - n_anomalies, bool), np.ones(n_anomalies, bool)]
    order = rng.permutation(n)
    return X[order], y[order]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Rank formula (Mann-Whitney U), with ties sharing their average rank."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def compare(
    client: anomd.Client, backends: list[str], train: np.ndarray, test: np.ndarray, labels: np.ndarray
) -> list[dict]:
    results = []
    for backend in backends:
        started = time.perf_counter()
        try:
            fit = client.fit(train, model="backend-comparison", backend=backend, contamination=0.05,
                             params=FAST_PARAMS.get(backend, {}))
            fit_seconds = time.perf_counter() - started
            scored = client.score(test, model="backend-comparison", backend=backend)
        except ApiError as failure:
            print(f"{backend:22s} failed: {failure}")
            continue
        scores = scored.score
        results.append(
            {
                "backend": backend,
                "fit_ms": fit.training_time_ms,
                "request_s": fit_seconds,
                "roc_auc": roc_auc(scores, labels),
            }
        )
        r = results[-1]
        print(f"{backend:22s} fit {r['fit_ms']:9.1f} ms   roc_auc {r['roc_auc']:.3f}")
    return results


def plot(results: list[dict], path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        sys.exit("the chart needs matplotlib: pip install matplotlib")
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    ranked = sorted(results, key=lambda r: r["roc_auc"])
    names = [r["backend"] for r in ranked]
    fig, (quality, cost) = plt.subplots(1, 2, figsize=(11, 0.45 * len(ranked) + 1.5), sharey=True)
    bars = quality.barh(names, [r["roc_auc"] for r in ranked], color="#4c72b0")
    quality.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
    quality.set_xlim(0.5, 1.05)
    quality.set_xlabel("ROC-AUC on the test set (higher is better)")
    cost.barh(names, [r["fit_ms"] for r in ranked], color="#dd8452")
    cost.set_xscale("log")
    cost.set_xlabel("fit time, ms (log scale)")
    fig.suptitle("anomd backends on the same planted-anomaly data")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        default=os.path.join(tempfile.gettempdir(), "anomd-backend-comparison.png"),
        help="where to save the PNG chart (default: anomd-backend-comparison.png in the temp folder)",
    )
    args = parser.parse_args()

    client = anomd.Client()
    backends = client.backends()
    available = [b.backend for b in backends if b.available]
    for b in backends:
        if not b.available:
            hint = b.install_hint if isinstance(b.install_hint, str) else "disabled"
            print(f"{b.backend:22s} skipped: not available here ({hint})")

    rng = np.random.default_rng(3)
    train, _ = labelled_data(600, 0.05, rng)
    test, labels = labelled_data(300, 0.10, rng)
    print(
        f"{len(available)} available backends; train {train.shape}, test {test.shape} "
        f"with {labels.sum()} planted anomalies\n"
    )

    results = compare(client, available, train, test, labels)
    client.close()
    if not results:
        sys.exit("no backend produced results")
    plot(results, args.output)
    best = max(results, key=lambda r: r["roc_auc"])
    print(
        f"\ncompared {len(results)} backends; best ROC-AUC: {best['backend']} ({best['roc_auc']:.3f})"
    )
    print(f"chart saved to {args.output}")


if __name__ == "__main__":
    try:
        main()
    except Unreachable as error:
        sys.exit(str(error))
