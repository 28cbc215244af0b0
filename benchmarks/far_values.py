"""Far values: is one feature far beyond the training data flagged, by every backend?

``python -m benchmarks far_values [--quick] [--backends a,b]``

Synthetic, so that "far" has an exact meaning: ``n`` rows of ``d`` standard-normal features,
each backend fitted through anomd at its defaults (contamination 0.1), then rows with one
feature at 8 or 50 training standard deviations from its median, up and down, every feature
in turn. The other features hold either a fresh row from the training distribution (*typical*
rows) or every feature's median (*centre* rows, the issue's ``[0, 0, 8, 0]``: the most normal
row there is, so the far value alone must carry the score). Backends with a ``tail`` parameter
run twice: ``capped`` (PyOD's scores) and ``extrapolated`` (the default; see
``plugins/anomd_builtins/detectors/_range_tails.py``).

Also measured: the share of fresh rows from the training distribution flagged (the tail must not
raise it much above ``contamination``), on :func:`benchmarks.common.synthetic_matrix` data with
skewed, bimodal and correlated columns.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.common import (
    BACKENDS,
    command_line,
    describe_machine,
    machine_info,
    plugin_host,
    print_table,
    synthetic_matrix,
    write_json,
)

RESULT_NAME = "far_values"
DIMENSIONS = (2, 4, 10, 20)
SPREADS = (8.0, 50.0)


def planted_rows(X: np.ndarray, spreads: float, rng: np.random.Generator, centre_rows: bool) -> np.ndarray:
    """For every feature and both directions, a row with that feature at ``spreads`` training
    standard deviations from its median; the other features at their medians (``centre_rows``)
    or a fresh standard-normal row (training data here is standard normal)."""
    d = X.shape[1]
    median, spread = np.median(X, axis=0), X.std(axis=0)
    rows = np.tile(median, (2 * d, 1)) if centre_rows else rng.normal(size=(2 * d, d))
    for j in range(d):
        rows[2 * j, j] = median[j] + spreads * spread[j]
        rows[2 * j + 1, j] = median[j] - spreads * spread[j]
    return rows


def tails_of(backend: str) -> list[str | None]:
    spec = plugin_host().detectors.get(backend)
    return ["capped", "extrapolated"] if "tail" in spec.params.__struct_fields__ else [None]


def fit(backend: str, X: np.ndarray, tail: str | None, contamination: float = 0.1):
    from anomd.model import train

    spec = plugin_host().detectors.get(backend).require_available()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return train(spec, X, name="far", contamination=contamination, params={"tail": tail} if tail else {})


def planted(backend: str, tail: str | None, seeds: int, n: int) -> dict[str, Any]:
    """Share of planted rows flagged, per (row kind, spreads, d)."""
    flagged: dict[str, list[float]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for d in DIMENSIONS:
            X = rng.normal(size=(n, d))
            model = fit(backend, X, tail)
            for spreads in SPREADS:
                for kind in ("typical", "centre"):
                    rows = planted_rows(X, spreads, rng, kind == "centre")
                    key = f"{kind} {spreads:g} sd, d={d}"
                    flagged.setdefault(key, []).extend(model.score(rows).is_anomaly.tolist())
    return {key: float(np.mean(v)) for key, v in flagged.items()}


def false_alarms(backend: str, tail: str | None, n: int) -> float:
    """Share of fresh rows from the training distribution flagged (contamination 0.1)."""
    X, fresh = synthetic_matrix(n, 16, seed=11), synthetic_matrix(4 * n, 16, seed=12)
    return float(fit(backend, X, tail).score(fresh).is_anomaly.mean())


def issue_example(backend: str, tail: str | None) -> dict[str, float]:
    """The issue's measurement: 500 rows of 4 standard-normal features, [0, 0, 8, 0] and [0, 0, 50, 0]."""
    X = np.random.default_rng(0).normal(size=(500, 4))
    model = fit(backend, X, tail)
    scores = model.score(np.array([[0, 0, 8.0, 0], [0, 0, 50.0, 0]]))
    return {"score_8": float(scores.score[0]), "score_50": float(scores.score[1]), "threshold": scores.threshold}


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %" if value < 1 else "100 %"


def table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the result, for the terminal and for docs/backends.md."""
    rows = []
    for r in result["rows"]:
        p = r["planted"]

        def share(kind: str, spreads: float, dims: Sequence[int], p: dict[str, float] = p) -> str:
            return _pct(float(np.mean([p[f"{kind} {spreads:g} sd, d={d}"] for d in dims])))

        example = r["example"]
        rows.append([
            f"`{r['backend']}`", f"`{r['tail']}`" if r["tail"] else "–",
            share("typical", 8.0, DIMENSIONS), share("typical", 50.0, DIMENSIONS),
            share("centre", 8.0, (2, 4, 10)), share("centre", 8.0, (20,)), share("centre", 50.0, DIMENSIONS),
            f"{r['false_alarms']:.3f}",
            f"{example['score_8']:.3f} / {example['score_50']:.3f} ({example['threshold']:.3f})",
        ])
    headers = ["backend", "tail", "typical, 8 sd", "typical, 50 sd", "centre, 8 sd, d ≤ 10", "centre, 8 sd, d = 20",
               "centre, 50 sd", "fresh rows flagged", "[0,0,8,0] / [0,0,50,0] score (threshold)"]
    return headers, rows


NOTE = (
    "typical: the far value in a fresh row from the training distribution; centre: every other feature at its "
    "median. Shares over every feature, both directions, d in (2, 4, 10, 20) unless stated, and the seeds. "
    "fresh rows flagged: share of 8,000 new rows from the training distribution flagged (2,000 training rows, "
    "16 skewed, bimodal and correlated columns; contamination 0.1)."
)


def report(result: dict[str, Any]) -> None:
    print_table(
        f"Planted single-feature outliers flagged ({result['seeds']} seeds, {result['n']} training rows, "
        "contamination 0.1)", *table(result), note=NOTE,
    )


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks far_values", description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", help="comma-separated backend ids (default: all 12)")
    p.add_argument("--quick", action="store_true", help="2 seeds instead of 5")
    args = p.parse_args(argv)
    backends = args.backends.split(",") if args.backends else list(BACKENDS)
    seeds, n = (2 if args.quick else 5), 500
    machine = machine_info()
    print(f"machine: {describe_machine(machine)}")
    rows = []
    for backend in backends:
        if not plugin_host().detectors.get(backend).available:
            print(f"{backend}: unavailable here, skipped")
            continue
        for tail in tails_of(backend):
            started = time.perf_counter()
            rows.append({
                "backend": backend, "tail": tail, "planted": planted(backend, tail, seeds, n),
                "false_alarms": false_alarms(backend, tail, 2000), "example": issue_example(backend, tail),
            })
            print(f"{backend:22s} {tail or '-':13s} {time.perf_counter() - started:.1f} s", flush=True)
    result = {"seeds": seeds, "n": n, "rows": rows, "command": command_line(RESULT_NAME, argv)}
    path = write_json(RESULT_NAME, result, machine)
    report(result)
    print(f"\nwrote {path}")
    return 0
