"""SKAB benchmark: the valve rig's labelled runs through a stream, scored by NAB rules.

``python -m benchmarks skab [--data DIR] [--config NAME ...]``

The Skoltech Anomaly Benchmark (SKAB, github.com/waico/SKAB, GPL-3.0) records a water-pump
rig: 8 sensors a second (vibration, current, pressure, temperatures, voltage, flow), 34 runs
of up to 1,328 points, each with one labelled anomaly (a valve closed, a cavitation, a leak...).
It is not NAB and was not looked at while the series pipeline's defaults were chosen, so it is
the held-out check those defaults are measured on (docs/timeseries.md): every run is streamed,
in time order, through a fresh stream created with nothing but its id, exactly as ``nab``
streams NAB. A run's anomaly windows are its runs of consecutive rows labelled ``anomaly = 1``,
and the corpus is scored by :mod:`benchmarks.nab_scoring` (probation, scaled sigmoid, one
threshold for the corpus). The tabular pipeline runs beside it as the reference.

The data is not shipped: clone SKAB and pass ``--data SKAB/data``, or put its ``valve1``,
``valve2`` and ``other`` folders in ``$ANOMD_BENCH_DATA/skab``.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DATA_DIR, describe_machine, machine_info, print_table, write_json
from benchmarks.nab import score_profiles, stream_points
from benchmarks.nab_scoring import PROFILES, LabelledSeries

#: The folders of labelled runs (SKAB's ``anomaly-free`` run has no label to score).
FOLDERS = ("valve1", "valve2", "other")

#: Configurations compared: (stream settings, the field scored).
CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "default (timestamp + 8 sensors)": ({}, "score"),
    "tabular ecod": ({"pipeline": "tabular"}, "raw_score"),
}


@dataclass(frozen=True)
class Run:
    """One SKAB experiment: its sensors over time and its labelled windows (row ranges)."""

    name: str
    times: np.ndarray
    fields: tuple[str, ...]
    values: np.ndarray
    windows: tuple[tuple[int, int], ...]


def labelled_windows(labels: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Inclusive ``(first, last)`` rows of each run of consecutive true labels."""
    flags = np.concatenate(([False], np.asarray(labels, dtype=bool), [False]))
    edges = np.flatnonzero(flags[1:] != flags[:-1])
    return tuple((int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2]))


def read_run(path: Path, name: str) -> Run:
    """A SKAB file: ``;``-separated, ``datetime``, the sensors, then ``anomaly`` and ``changepoint``."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], [r for r in rows[1:] if r]
    label = header.index("anomaly")
    fields = tuple(header[1:label])
    times = np.array([r[0].replace(" ", "T") for r in body], dtype="datetime64[s]")
    values = np.array([[float(x) for x in r[1:label]] for r in body])
    labels = np.array([float(r[label]) > 0 for r in body])
    return Run(name, times, fields, values, labelled_windows(labels))


def find_data(given: str | None) -> Path | None:
    """The folder holding SKAB's run folders: ``--data``, else ``$ANOMD_BENCH_DATA/skab``."""
    candidate = Path(given) if given else DATA_DIR / "skab"
    return candidate if any((candidate / folder).is_dir() for folder in FOLDERS) else None


def load_runs(root: Path) -> list[Run]:
    runs = []
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*.csv"), key=lambda p: (len(p.stem), p.stem)):
            runs.append(read_run(path, f"{folder}/{path.name}"))
    return runs


def stream_run(run: Run, config: dict[str, Any], field: str) -> np.ndarray:
    """``field`` of every point of ``run`` streamed in time order (0 while the stream collects)."""
    seconds = run.times.astype(np.int64).tolist()
    points = [{"timestamp": t, **dict(zip(run.fields, row))} for t, row in zip(seconds, run.values.tolist())]
    return stream_points(points, config)[field]


def score_runs(runs: list[Run], config: dict[str, Any], field: str) -> dict[str, Any]:
    """NAB scores of every profile, with the windows found and false alarms at the standard
    profile's threshold, and how long the streaming took."""
    started = time.perf_counter()
    labelled = [LabelledSeries(r.name, stream_run(r, config, field), r.windows) for r in runs]
    elapsed = time.perf_counter() - started
    scores, windows_found, false_alarms = score_profiles(labelled)
    return {"seconds": elapsed, "windows_found": windows_found, "false_alarms": false_alarms,
            **{p: {"normalized": r.normalized, "threshold": r.threshold} for p, r in scores.items()}}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks skab", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="SKAB's data folder (holding valve1, valve2, other); default $ANOMD_BENCH_DATA/skab")
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS), help="run only these configurations")
    args = parser.parse_args(argv)
    root = find_data(args.data)
    if root is None:
        print(f"SKAB data not found (looked in {args.data or DATA_DIR / 'skab'}): clone "
              "github.com/waico/SKAB and pass --data SKAB/data")
        return 2
    machine = machine_info()
    print(f"machine: {describe_machine(machine)}")
    runs = load_runs(root)
    windows = sum(len(r.windows) for r in runs)
    print(f"{len(runs)} runs, {sum(len(r.times) for r in runs):,} points, {windows} windows ({root})")
    results: dict[str, Any] = {"runs": len(runs), "windows": windows, "configs": {}}
    table = []
    for name in args.config or list(CONFIGS):
        config, field = CONFIGS[name]
        outcome = score_runs(runs, config, field)
        results["configs"][name] = {"config": config, "field": field, **outcome}
        table.append([f"anomd, {name} ({field})", *(f"{outcome[p]['normalized']:.1f}" for p in PROFILES),
                      f"{outcome['windows_found']}/{windows}", str(outcome["false_alarms"]),
                      f"{outcome['seconds']:.1f}"])
    print_table(
        "SKAB scores by NAB rules, normalised (0 = never fires, 100 = perfect)",
        ["detector", "standard", "reward_low_FP", "reward_low_FN", "windows found", "false alarms", "seconds"],
        table,
        note="one configuration for all runs; windows found and false alarms at the standard profile's "
             "best threshold; scorer: benchmarks/nab_scoring.py",
    )
    path = write_json("skab", results, machine)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
