"""One PNG summarising the saved results: latency, artifact size and ODDS accuracy per backend.

``python -m benchmarks plot [--out PATH]`` reads ``benchmarks/results/{speed,accuracy}.json``
(whichever exist) and writes ``benchmarks/results/benchmarks.png``. Panels: single-row score
latency p50 (log scale) for anomd in-process, anomd over HTTP and raw PyOD; artifact size
(log scale) for anomd and PyOD; mean ODDS ROC-AUC for anomd, raw PyOD and PyOD's published
2024 table. Each backend is shown at the largest training size it was measured at.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, describe_machine, read_json


def _largest_per_backend(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if "anomd_fit_s" in r and r["rows"] >= best.get(r["backend"], {}).get("rows", 0):
            best[r["backend"]] = r
    return list(best.values())


def _bars(ax: Any, labels: list[str], series: dict[str, list[float | None]], log: bool) -> None:
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=name)
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def draw(out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed, accuracy = read_json("speed"), read_json("accuracy")
    if speed is None and accuracy is None:
        print("no saved results to plot; run the speed or accuracy benchmark first")
        return None
    panels = (2 if speed else 0) + (1 if accuracy else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(11, 3.6 * panels), squeeze=False)
    axes = list(axes[:, 0])
    if speed:
        rows = _largest_per_backend(speed["rows"])
        labels = [f"{r['backend']}\n{r['rows'] // 1000}k" for r in rows]
        ax = axes.pop(0)
        _bars(ax, labels, {
            "anomd in-process": [r["anomd_single"]["p50_ms"] for r in rows],
            "anomd over HTTP": [r.get("http_single", {}).get("p50_ms") for r in rows],
            "raw PyOD decision_function": [r.get("pyod_single", {}).get("p50_ms") for r in rows],
        }, log=True)
        ax.axhline(3.0, color="grey", linestyle="--", linewidth=1)
        ax.set_ylabel("single-row p50, ms")
        ax.set_title("Scoring one row after fitting (dashed: 3 ms HTTP target)", fontsize=10)
        ax = axes.pop(0)
        _bars(ax, labels, {
            "anomd artifact": [r["anomd_artifact_bytes"] / 1e6 for r in rows],
            "PyOD joblib": [r.get("pyod_artifact_bytes", np.nan) / 1e6 for r in rows],
        }, log=True)
        ax.set_ylabel("MB")
        ax.set_title("Saved model size", fontsize=10)
    if accuracy:
        summary = [s for s in accuracy.get("summary", []) if "unavailable" not in s]
        ax = axes.pop(0)
        _bars(ax, [s["backend"] for s in summary], {
            "anomd": [s["anomd_mean"] for s in summary],
            "raw PyOD (same run)": [s["raw_mean"] for s in summary],
            "PyOD published 2024": [s.get("published_mean") for s in summary],
        }, log=False)
        ax.set_ylim(0.5, 1.0)
        ax.set_ylabel("mean ROC-AUC")
        ax.set_title(f"ODDS, {accuracy['trials']} trials per dataset (published: over the datasets it lists)", fontsize=10)
    machine = (speed or accuracy)["machine"]
    fig.suptitle(f"anomd vs PyOD — {describe_machine(machine)}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks plot", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "benchmarks.png", help="PNG path")
    args = p.parse_args(argv)
    path = draw(args.out)
    if path is None:
        return 1
    print(f"wrote {path}")
    return 0
