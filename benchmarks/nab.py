"""NAB benchmark: every NAB series through a streaming detector, in arrival order, scored by NAB rules.

``python -m benchmarks nab [--quick] [--config NAME ...]``

Each of the 58 series (``../shared/data/nab``) is streamed, in arrival order, through a
fresh :class:`anomd.StreamingAnomalyDetector` (one ``process_batch`` call per series, which
scores exactly as one point at a time; retrains run inline so the figures are reproducible).
Two per-point scores are tried as the NAB anomaly score (0 during cold start):

* ``raw_score``: ECOD's own score, a sum of ``-log`` tail probabilities. It depends only on
  ranks within the window, so it means the same on every series, and it does not saturate.
* ``score``: the API's normalised score (logistic of a robust z-score of the raw score). It
  saturates at 1.0 when the training scores have a tiny spread (flat or periodic series),
  which ties many points at the top; NAB's single corpus-wide threshold then cannot separate
  them.

The scorer (:mod:`benchmarks.nab_scoring`) follows the rules in the data README; normalised
scores are printed next to the published scoreboard.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from typing import Any

import numpy as np

from benchmarks.common import DATA_DIR, describe_machine, machine_info, print_table, write_json
from benchmarks.nab_scoring import PROFILES, LabelledSeries, score_corpus, windows_to_rows

NAB_DIR = DATA_DIR / "nab"

#: Detector configurations compared (all ecod, defaults otherwise).
CONFIGS: dict[str, dict[str, Any]] = {
    "value only": {},
    "value + diff [1]": {"transforms": [{"transform": "diff", "periods": [1]}]},
    "value + rolling [5, 20] + diff [1]": {
        "rolling_windows": [5, 20], "transforms": [{"transform": "diff", "periods": [1]}],
    },
}


def load_series(limit: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray, tuple[tuple[int, int], ...]]]:
    """(name, timestamps, values, windows as row ranges) for every labelled series."""
    labels = json.loads((NAB_DIR / "labels" / "combined_windows.json").read_text())
    out = []
    for name in sorted(labels)[:limit]:
        with (NAB_DIR / "data" / name).open() as handle:
            rows = list(csv.reader(handle))[1:]
        timestamps = np.array([r[0] for r in rows], dtype="datetime64[s]")
        values = np.array([float(r[1]) for r in rows])
        out.append((name, timestamps, values, windows_to_rows(timestamps, labels[name])))
    return out


def stream_scores(values: np.ndarray, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(raw_score, score) of every point, 0 where the detector was still collecting."""
    from anomd.streaming import InlineExecutor, StreamingAnomalyDetector

    detector = StreamingAnomalyDetector("nab", executor=InlineExecutor(), **config)
    outcome = detector.process_many([{"value": v} for v in values.tolist()])
    return np.where(outcome.scored, outcome.raw, 0.0), np.where(outcome.scored, outcome.score, 0.0)


def published() -> list[list[str]]:
    rows = []
    with (NAB_DIR / "nab_scoreboard_published.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["source"].startswith("README.md scoreboard (main table)"):
                rows.append([row["detector"], row["standard"], row["reward_low_FP"], row["reward_low_FN"]])
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks nab", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="first 12 series only (not comparable to the scoreboard)")
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), help="run only these configurations")
    args = parser.parse_args(argv)
    if not NAB_DIR.exists():
        print(f"NAB data not found at {NAB_DIR}")
        return 2
    machine = machine_info()
    print(f"machine: {describe_machine(machine)}")
    corpus = load_series(12 if args.quick else None)
    print(f"{len(corpus)} series, {sum(len(v) for _, _, v, _ in corpus):,} rows, "
          f"{sum(len(w) for *_, w in corpus)} windows")
    results: dict[str, Any] = {"series": len(corpus), "quick": args.quick, "configs": {}}
    table = []
    for name in args.config or list(CONFIGS):
        started = time.perf_counter()
        streamed = [(s, stream_scores(values, CONFIGS[name]), windows) for s, _, values, windows in corpus]
        elapsed = time.perf_counter() - started
        rows = sum(len(values) for _, values, _, _ in corpus)
        entry: dict[str, Any] = {"config": CONFIGS[name], "seconds": elapsed, "points_per_s": rows / elapsed}
        for k, kind in enumerate(("raw_score", "score")):
            labelled = [LabelledSeries(s, both[k], windows) for s, both, windows in streamed]
            scores = {profile: score_corpus(labelled, profile) for profile in PROFILES}
            entry[kind] = {p: {"normalized": r.normalized, "raw": r.raw, "threshold": r.threshold}
                           for p, r in scores.items()}
            table.append([f"anomd ecod, {name} ({kind})", *(f"{scores[p].normalized:.1f}" for p in PROFILES)])
            print(f"  {name}, {kind}: standard {scores['standard'].normalized:.1f} "
                  f"(threshold {scores['standard'].threshold:.4g})", flush=True)
        print(f"  {rows:,} points streamed in {elapsed:.0f} s ({rows / elapsed:,.0f} points/s)", flush=True)
        results["configs"][name] = entry
    print_table(
        "NAB scores, normalised (0 = never fires, 100 = perfect)" + (" — QUICK, not comparable" if args.quick else ""),
        ["detector", "standard", "reward_low_FP", "reward_low_FN"],
        table + [["--- published (NAB README scoreboard) ---", "", "", ""]] + published(),
        note="anomd rows: this run (min_samples 50, retrain_interval 100, window_size 1000, "
             "retrains inline); scorer: benchmarks/nab_scoring.py",
    )
    path = write_json("nab", results, machine)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
