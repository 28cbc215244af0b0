"""The series routes that stand in for Azure AI Anomaly Detector: accuracy on NAB, speed over HTTP.

``python -m benchmarks azure [--quick] [--skip-speed] [--skip-nab] [--sensitivity 95]``

Accuracy, every labelled NAB series through ``entire`` at one sensitivity (the default unless
told), the same options for all:

* **windows found**: labelled windows with at least one flagged point, over the corpus, and the
  share of all points flagged (the target: 80 % of windows with at most 2 % of points);
* the **NAB score of ``severity``** per cost profile (:mod:`benchmarks.nab_scoring`; note that
  ``entire`` sees the whole series, which NAB's causal rules do not allow a streaming detector);
* **expected values**: the median absolute percentage error of ``expected_value`` on points
  outside every window, per NAB group, next to a seasonal-naive forecast (the value one period
  earlier, with the period ``entire`` used; the previous value without one) in the same run.
  Points whose value is 0 have no percentage error and are left out of both.

Speed, on a real server on 127.0.0.1: ``entire`` and ``last`` on 8,640 points (30 days at 5
minutes) next to a plain ``/detect`` of the same 8,640 rows, medians of repeated keep-alive
requests, and the in-process time of the operations alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from typing import Any

import numpy as np

from benchmarks.common import (
    KeepAliveClient,
    describe_machine,
    machine_info,
    print_table,
    write_json,
)
from benchmarks.nab import NAB_DIR, load_series
from benchmarks.nab_scoring import PROFILES, LabelledSeries, score_corpus

#: Points in the speed test: Azure's largest series, 30 days at 5 minutes.
SPEED_POINTS = 8640


def nab_points(timestamps: np.ndarray, values: np.ndarray) -> list[Any]:
    from anomd.timeseries.options import SeriesPoint

    seconds = timestamps.astype("datetime64[s]").astype(np.int64).tolist()
    return [SeriesPoint(value=v, timestamp=float(t)) for t, v in zip(seconds, values.tolist(), strict=True)]


def seasonal_naive(values: np.ndarray, period: int) -> np.ndarray:
    """The value one period earlier (the previous value without a period); NaN where none is."""
    lag = period if period > 0 else 1
    out = np.full(values.size, np.nan)
    out[lag:] = values[:-lag]
    return out


def mdape(actual: np.ndarray, forecast: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Absolute percentage errors where ``keep``, the forecast exists and the actual is not 0."""
    ok = keep & np.isfinite(forecast) & (actual != 0)
    return np.abs((actual[ok] - forecast[ok]) / actual[ok]) * 100.0


def _spread(result: Any, back: np.ndarray) -> Any:
    """``result`` with each column indexed by ``back`` (rows of repeated timestamps)."""
    import msgspec

    columns = {f: np.asarray(getattr(result, f))[back].tolist() for f in
               ("expected_values", "upper_margins", "lower_margins", "is_anomaly", "is_positive_anomaly",
                "is_negative_anomaly", "severity")}
    return msgspec.structs.replace(result, **columns)


def nab_accuracy(sensitivity: int = 95, limit: int | None = None) -> dict[str, Any]:
    """Runs ``entire`` on every labelled NAB series and measures it (see the module docstring)."""
    from anomd.timeseries.options import DetectOptions
    from anomd.timeseries.univariate import detect_entire

    corpus = load_series(limit)
    labelled, windows_total, windows_found, flagged, points = [], 0, 0, 0, 0
    errors: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: {"entire": [], "seasonal_naive": []})
    per_series = {}
    started = time.perf_counter()
    for name, timestamps, values, windows in corpus:
        # A few NAB series repeat a timestamp, which the API refuses (as Azure did): the first
        # row of each timestamp is sent, and repeats take its result.
        _, first, back = np.unique(timestamps, return_index=True, return_inverse=True)
        result = detect_entire(DetectOptions(series=nab_points(timestamps[first], values[first]),
                                             sensitivity=sensitivity), max_points=10 * values.size)
        result = _spread(result, back)
        flags = np.array(result.is_anomaly)
        inside = np.zeros(values.size, dtype=bool)
        found = 0
        for left, right in windows:
            inside[left : right + 1] = True
            found += bool(flags[left : right + 1].any())
        windows_total += len(windows)
        windows_found += found
        flagged += int(flags.sum())
        points += values.size
        labelled.append(LabelledSeries(name, np.array(result.severity), windows))
        group = name.split("/")[0]
        expected = np.array(result.expected_values)
        errors[group]["entire"].append(mdape(values, expected, ~inside))
        errors[group]["seasonal_naive"].append(mdape(values, seasonal_naive(values, result.period), ~inside))
        per_series[name] = {"period": result.period, "granularity": result.granularity,
                            "custom_interval": result.custom_interval, "windows": len(windows),
                            "windows_found": found, "flagged_share": float(flags.mean())}
    elapsed = time.perf_counter() - started
    groups = {
        group: {kind: float(np.median(np.concatenate(parts))) for kind, parts in kinds.items()}
        for group, kinds in sorted(errors.items())
    }
    scores = {p: score_corpus(labelled, p) for p in PROFILES}
    return {
        "series": len(corpus), "points": points, "sensitivity": sensitivity, "seconds": elapsed,
        "windows": windows_total, "windows_found": windows_found,
        "window_recall": windows_found / max(windows_total, 1), "flagged_share": flagged / max(points, 1),
        "nab": {p: {"normalized": r.normalized, "threshold": r.threshold} for p, r in scores.items()},
        "mdape": groups, "per_series": per_series,
    }


def speed(rounds: int) -> dict[str, Any]:
    """Median request times of entire, last and a plain /detect of the same size, on a real server."""
    from anomd.testing import running_server
    from anomd.timeseries.options import DetectOptions, SeriesPoint
    from anomd.timeseries.univariate import detect_entire, detect_last

    rng = np.random.default_rng(0)
    n = SPEED_POINTS
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    start = 1_767_225_600
    series = [{"timestamp": start + 300 * i, "value": float(v)} for i, v in enumerate(values)]
    bodies = {
        "entire": ("/v1/ml/anomaly/timeseries/entire", {"series": series}),
        "last": ("/v1/ml/anomaly/timeseries/last", {"series": series}),
        "azure entire": ("/anomalydetector/v1.1/timeseries/entire/detect", {"series": series, "granularity": "minutely",
                                                                           "customInterval": 5}),
        "azure last": ("/anomalydetector/v1.1/timeseries/last/detect", {"series": series, "granularity": "minutely",
                                                                       "customInterval": 5}),
        "/detect (ecod, 8,640 rows)": ("/v1/ml/anomaly/detect", {"backend": "ecod", "data": [[float(v)] for v in values]}),
        "/detect (series, 8,640 rows)": ("/v1/ml/anomaly/detect", {"data": series}),
    }
    out: dict[str, Any] = {"points": n, "rounds": rounds, "http_ms": {}, "in_process_ms": {}}
    with running_server() as server, KeepAliveClient(server.url) as client:
        for label, (path, body) in bodies.items():
            payload = json.dumps(body).encode()
            status, _ = client.post(path, payload)  # warm: imports, first compile
            assert status == 200, (label, status)
            times = []
            for _ in range(rounds if "series" not in label else max(2, rounds // 5)):
                t0 = time.perf_counter()
                status, _ = client.post(path, payload)
                times.append((time.perf_counter() - t0) * 1000.0)
                assert status == 200
            out["http_ms"][label] = statistics.median(times)
            print(f"  {label}: {out['http_ms'][label]:.1f} ms (median of {len(times)})", flush=True)
    points = [SeriesPoint(value=p["value"], timestamp=float(p["timestamp"])) for p in series]
    options = DetectOptions(series=points)
    for label, fn in (("entire", detect_entire), ("last", detect_last)):
        fn(options, n)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn(options, n)
            times.append((time.perf_counter() - t0) * 1000.0)
        out["in_process_ms"][label] = statistics.median(times)
    return out


#: The NAB series of the worked example in docs/migrating-from-azure.md.
EXAMPLE_SERIES = "realKnownCause/nyc_taxi.csv"


def plot_example(path: str) -> dict[str, Any]:
    """Draws value, expected value, margins and anomalies of :data:`EXAMPLE_SERIES` (``entire``
    with default options) to ``path``: the whole series, and the weeks around Thanksgiving."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anomd.timeseries.options import DetectOptions
    from anomd.timeseries.univariate import detect_entire

    name, timestamps, values, windows = next(s for s in load_series() if s[0] == EXAMPLE_SERIES)
    result = detect_entire(DetectOptions(series=nab_points(timestamps, values)), max_points=values.size)
    expected = np.array(result.expected_values)
    upper = expected + np.array(result.upper_margins)
    lower = expected - np.array(result.lower_margins)
    flags = np.array(result.is_anomaly)
    times = timestamps.astype("datetime64[m]").astype(object)
    fig, axes = plt.subplots(2, 1, figsize=(11, 7), constrained_layout=True)
    zoom = (timestamps >= np.datetime64("2014-11-17")) & (timestamps < np.datetime64("2014-12-08"))
    for ax, part, title in ((axes[0], slice(None), f"NAB {name}: whole series ({values.size:,} points, 30 min)"),
                            (axes[1], np.flatnonzero(zoom), "three weeks around Thanksgiving 2014")):
        t = np.asarray(times, dtype=object)[part]
        ax.fill_between(t, lower[part], upper[part], color="tab:blue", alpha=0.18, label="margins (sensitivity 95)")
        ax.plot(t, values[part], color="black", lw=0.6, label="value")
        ax.plot(t, expected[part], color="tab:blue", lw=0.8, label="expected value")
        hits = np.flatnonzero(flags[part])
        ax.scatter(t[hits], values[part][hits], color="tab:red", s=14, zorder=3, label="is_anomaly")
        for left, right in windows:
            ax.axvspan(times[left], times[right], color="tab:orange", alpha=0.12)
        if ax is axes[0]:
            ax.axvspan(times[0], times[0], color="tab:orange", alpha=0.12, label="NAB labelled window")
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("taxi passengers / 30 min")
    axes[0].legend(loc="upper left", fontsize=8, ncol=5)
    axes[1].set_xlim(times[np.flatnonzero(zoom)[0]], times[np.flatnonzero(zoom)[-1]])
    fig.savefig(path, dpi=110)
    found = sum(bool(flags[a : b + 1].any()) for a, b in windows)
    return {"series": name, "period": result.period, "granularity": result.granularity,
            "custom_interval": result.custom_interval, "points": int(values.size), "flagged": int(flags.sum()),
            "windows": len(windows), "windows_found": found}


def _verdict(ours: float, reference: float) -> str:
    if reference == 0.0 and ours < 1e-9:
        return "equal (both exact)"
    return "yes" if ours < reference else "NO"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks azure", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 NAB series and fewer speed rounds")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-nab", action="store_true")
    parser.add_argument("--sensitivity", type=int, default=95)
    parser.add_argument("--plot", metavar="PNG", help="also draw the worked example of docs/migrating-from-azure.md")
    args = parser.parse_args(argv)
    machine = machine_info()
    print(f"machine: {describe_machine(machine)}")
    results: dict[str, Any] = {"quick": args.quick}
    if not args.skip_nab:
        if not NAB_DIR.exists():
            print(f"NAB data not found at {NAB_DIR}; accuracy skipped")
        else:
            acc = results["nab"] = nab_accuracy(args.sensitivity, 12 if args.quick else None)
            print(f"NAB, entire at sensitivity {acc['sensitivity']}: {acc['windows_found']}/{acc['windows']} windows "
                  f"found ({100 * acc['window_recall']:.1f} %), {100 * acc['flagged_share']:.2f} % of "
                  f"{acc['points']:,} points flagged; {acc['seconds']:.1f} s for {acc['series']} series")
            print_table("NAB score of severity (normalised; entire sees the whole series)",
                        ["profile", "score", "threshold"],
                        [[p, f"{r['normalized']:.1f}", f"{r['threshold']:.3f}"] for p, r in acc["nab"].items()])
            print_table("Expected values: MdAPE (%) on points outside the windows, per NAB group",
                        ["group", "entire", "seasonal-naive", "better"],
                        [[g, f"{m['entire']:.2f}", f"{m['seasonal_naive']:.2f}",
                          _verdict(m["entire"], m["seasonal_naive"])] for g, m in acc["mdape"].items()])
    if not args.skip_speed:
        print("speed, 8,640 points over HTTP on 127.0.0.1 (keep-alive):", flush=True)
        sp = results["speed"] = speed(5 if args.quick else 21)
        rows = [[label, f"{ms:.1f}", f"{sp['in_process_ms'].get(label, float('nan')):.1f}"]
                for label, ms in sp["http_ms"].items()]
        print_table("8,640 points: median time per request (ms)", ["request", "HTTP", "in-process"], rows,
                    note="targets: entire <= 150 ms, last <= 30 ms (HTTP)")
    if args.plot:
        results["example"] = plot_example(args.plot)
        print(f"worked example: {results['example']}; drawn to {args.plot}")
    path = write_json("azure", results, machine)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
