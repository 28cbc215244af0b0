"""NAB benchmark: every NAB series through a streaming detector, in arrival order, scored by NAB rules.

``python -m benchmarks nab [--quick] [--config NAME ...]``

Each of the 58 series (``$ANOMD_BENCH_DATA/nab``) is streamed, in arrival order, through a
fresh :class:`anomd.StreamingAnomalyDetector` (one ``process_many`` call per series, which
scores exactly as one point at a time, and since retrains land at fixed points the figures are
the same on every run). The headline configuration is the **default**: points are
``{"timestamp": ..., "value": ...}`` and the stream is created with nothing but its id, so it
gets the time-series pipeline (docs/timeseries.md); NAB scores its ``score`` field. The
tabular configurations are kept for comparison: they are what the benchmark measured before the
time-series pipeline existed (``raw_score``: ECOD's sum of ``-log`` tail probabilities).

The scorer (:mod:`benchmarks.nab_scoring`) follows the rules in the data README; normalised
scores are printed next to the published scoreboard, with, per configuration, the windows found
and the false alarms at the standard profile's best threshold.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from typing import Any

import numpy as np

from benchmarks.common import DATA_DIR, describe_machine, machine_info, print_table, write_json
from benchmarks.nab_scoring import (
    PROFILES,
    LabelledSeries,
    NabResult,
    probation_rows,
    score_corpus,
    windows_to_rows,
)

NAB_DIR = DATA_DIR / "nab"

#: Configurations compared: (stream settings, whether the points carry their timestamp, the
#: field NAB scores).
CONFIGS: dict[str, tuple[dict[str, Any], bool, str]] = {
    "default (timestamp + value)": ({}, True, "score"),
    "tabular ecod, value + diff [1]": (
        {"pipeline": "tabular", "transforms": [{"transform": "diff", "periods": [1]}]}, False, "raw_score"),
    "tabular ecod, value only": ({"pipeline": "tabular"}, False, "raw_score"),
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


def stream_scores(timestamps: np.ndarray, values: np.ndarray, config: dict[str, Any], timed: bool) -> dict[str, np.ndarray]:
    """``raw_score``, ``score`` and ``is_anomaly`` of every point (0 while the stream collects)."""
    if timed:
        seconds = timestamps.astype("datetime64[s]").astype(np.int64).tolist()
        points = [{"timestamp": t, "value": v} for t, v in zip(seconds, values.tolist())]
    else:
        points = [{"value": v} for v in values.tolist()]
    return stream_points(points, config)


def stream_points(points: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, np.ndarray]:
    """:func:`stream_scores` of ready-made points, in order, through a fresh stream."""
    from anomd.streaming import InlineExecutor, StreamingAnomalyDetector

    detector = StreamingAnomalyDetector("nab", executor=InlineExecutor(), **config)
    outcome = detector.process_many(points)
    return {"raw_score": np.where(outcome.scored, outcome.raw, 0.0),
            "score": np.where(outcome.scored, outcome.score, 0.0), "is_anomaly": outcome.flag}


def score_profiles(series: list[LabelledSeries]) -> tuple[dict[str, NabResult], int, int]:
    """Every profile's corpus score, and the windows found and false alarms at the standard
    profile's best threshold."""
    scores = {profile: score_corpus(series, profile) for profile in PROFILES}
    return (scores, *found(series, scores["standard"].threshold))


def found(series: list[LabelledSeries], threshold: float) -> tuple[int, int]:
    """Windows with a detection, and detections outside every window, at ``threshold``
    (after each series' probation)."""
    windows = alarms = 0
    for s in series:
        start = probation_rows(len(s.scores))
        hits = np.flatnonzero(s.scores[start:] >= threshold) + start
        inside = np.zeros(len(s.scores), dtype=bool)
        for left, right in s.windows:
            inside[left : right + 1] = True
            windows += bool(((hits >= left) & (hits <= right)).any())
        alarms += int((~inside[hits]).sum())
    return windows, alarms


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
        config, timed, field = CONFIGS[name]
        started = time.perf_counter()
        streamed = [(s, stream_scores(ts, values, config, timed), windows) for s, ts, values, windows in corpus]
        elapsed = time.perf_counter() - started
        rows = sum(len(values) for _, _, values, _ in corpus)
        labelled = [LabelledSeries(s, out[field], windows) for s, out, windows in streamed]
        scores, windows_found, false_alarms = score_profiles(labelled)
        flagged = float(np.mean([out["is_anomaly"].mean() for _, out, _ in streamed]))
        results["configs"][name] = {
            "config": config, "timestamps": timed, "field": field, "seconds": elapsed,
            "points_per_s": rows / elapsed, "windows_found": windows_found, "false_alarms": false_alarms,
            "mean_flagged_share": flagged,
            **{p: {"normalized": r.normalized, "raw": r.raw, "threshold": r.threshold} for p, r in scores.items()},
        }
        table.append([f"anomd, {name} ({field})", *(f"{scores[p].normalized:.1f}" for p in PROFILES),
                      f"{windows_found}/{sum(len(w) for *_, w in corpus)}", str(false_alarms)])
        print(f"  {name} ({field}): standard {scores['standard'].normalized:.1f}, "
              f"{windows_found} windows found, {false_alarms} false alarms; {rows:,} points in "
              f"{elapsed:.0f} s ({rows / elapsed:,.0f} points/s); flagged share {flagged:.4f}", flush=True)
    print_table(
        "NAB scores, normalised (0 = never fires, 100 = perfect)" + (" — QUICK, not comparable" if args.quick else ""),
        ["detector", "standard", "reward_low_FP", "reward_low_FN", "windows found", "false alarms"],
        table + [["--- published (NAB README scoreboard) ---", "", "", "", "", ""]]
        + [[*row, "", ""] for row in published()],
        note="anomd rows: this run, one configuration for all series; windows found and false "
             "alarms at the standard profile's best threshold; scorer: benchmarks/nab_scoring.py",
    )
    path = write_json("nab", results, machine)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
