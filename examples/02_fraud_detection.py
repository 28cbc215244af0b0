"""Fraud detection on transaction records: categorical and boolean fields, two backends compared.

The flow a service would follow:

1. fit on a month of (mostly honest) transactions: the model is saved on the server at once;
2. later, or from another process, look the model up and warm it with ``/load``;
3. score a new day of transactions in which a few frauds were planted;
4. compare two detectors on those planted frauds (precision, recall, ROC-AUC).

Transactions are records; the example holds them in a Polars DataFrame, which ``anomd.Client``
sends as an Arrow table. The server one-hot encodes the merchant category (a string column) and
reads booleans as 0/1, matching columns by name, so no client-side preparation is needed.

Run ``anomd serve``, then ``python examples/02_fraud_detection.py`` (server address from
``ANOMD_URL``, default ``http://127.0.0.1:8000``; API key from ``ANOMD_API_KEY`` if needed).
"""

import random
import sys

import polars as pl

import anomd
from anomd.client import ApiError, Unreachable

MODEL = "fraud-example"
BACKENDS = ("ecod", "isolation_forest")
CONTAMINATION = 0.05

# Typical amount (median, spread) per merchant category.
CATEGORIES = {
    "grocery": (35.0, 0.5),
    "fuel": (55.0, 0.3),
    "restaurant": (40.0, 0.6),
    "pharmacy": (20.0, 0.5),
    "online": (60.0, 0.8),
}


def honest_transaction(rng: random.Random) -> dict:
    category = rng.choice(list(CATEGORIES))
    median, spread = CATEGORIES[category]
    return {
        "amount": round(median * rng.lognormvariate(0.0, spread), 2),
        "merchant_category": category,
        "hour": min(23, max(6, round(rng.gauss(14, 3.5)))),
        "is_foreign": rng.random() < 0.03,
        "card_present": category != "online",
        "transactions_last_hour": rng.choice([0, 0, 0, 1, 1, 2]),
    }


def fraudulent_transaction(rng: random.Random) -> dict:
    """Card testing and cash-out: larger online amounts, often at night or abroad, in bursts.

    Not every fraud shows every sign, which is what makes some of them hard to catch.
    """
    return {
        "amount": round(rng.uniform(90, 900), 2),
        "merchant_category": rng.choice(["online", "online", "grocery", "fuel"]),
        "hour": rng.choice([0, 1, 2, 3, 4, 11, 15, 19]),
        "is_foreign": rng.random() < 0.4,
        "card_present": rng.random() < 0.3,
        "transactions_last_hour": rng.randint(1, 6),
    }


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a random fraud outscores a random honest transaction (ties count half)."""
    frauds = [s for s, y in zip(scores, labels) if y]
    honest = [s for s, y in zip(scores, labels) if not y]
    wins = sum((f > h) + 0.5 * (f == h) for f in frauds for h in honest)
    return wins / (len(frauds) * len(honest))


def main() -> None:
    rng = random.Random(42)
    history = [honest_transaction(rng) for _ in range(1500)]
    history += [fraudulent_transaction(rng) for _ in range(15)]  # history is never perfectly clean
    rng.shuffle(history)

    # A new day: 380 honest transactions and 20 planted frauds, in random order.
    today = [(honest_transaction(rng), False) for _ in range(380)]
    today += [(fraudulent_transaction(rng), True) for _ in range(20)]
    rng.shuffle(today)
    day = pl.DataFrame([t for t, _ in today])
    labels = [is_fraud for _, is_fraud in today]

    print(
        f"training on {len(history)} transactions; scoring {day.height} new ones "
        f"with {sum(labels)} planted frauds\n"
    )
    with anomd.Client() as client:
        for backend in BACKENDS:
            # 1. Train: the fitted model is persisted immediately as <model>_<backend>.joblib.
            fit = client.fit(
                pl.DataFrame(history), model=MODEL, backend=backend, contamination=CONTAMINATION,
                description="example fraud model on synthetic card transactions",
            )
            print(f"[{backend}] trained in {fit.training_time_ms:.0f} ms, saved to {fit.saved_path}")
            print(f"[{backend}] encoded features: {', '.join(fit.encoder['features'])}")

            # 2. Later: find the stored model and warm it into memory (scoring would also load it).
            info = client.model(fit.filename)
            loaded = client.load(MODEL, backend)
            print(
                f"[{backend}] {loaded.status} {info.filename} "
                f"({info.samples_fitted} rows, threshold {loaded.threshold:.3f})"
            )

            # 3. Score the new day (two models share the name now, so the backend is named).
            scored = client.score(day, model=MODEL, backend=backend)
            flagged = scored.is_anomaly.tolist()

            # 4. How well did it find the planted frauds?
            true_positives = sum(f and y for f, y in zip(flagged, labels))
            precision = true_positives / max(1, sum(flagged))
            recall = true_positives / sum(labels)
            auc = roc_auc(scored.score.tolist(), labels)
            print(
                f"{backend}: flagged={sum(flagged)} precision={precision:.2f} "
                f"recall={recall:.2f} roc_auc={auc:.3f}\n"
            )

    worst = int(scored.score.argmax())
    print(f"most suspicious transaction ({BACKENDS[-1]}): {day.row(worst, named=True)}")


if __name__ == "__main__":
    try:
        main()
    except (Unreachable, ApiError) as error:
        sys.exit(str(error))
