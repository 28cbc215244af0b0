"""ODDS accuracy: every backend through anomd's own API, raw PyOD alongside, published next to both.

``python -m benchmarks accuracy [--datasets a,b] [--backends x,y] [--trials N] [--quick]``

For each (backend, dataset) cell the protocol's trials (see :mod:`benchmarks.odds`) run twice
on identical splits: once through anomd (``anomd.model.train`` then ``FittedModel.score``, i.e.
with the fast scoring paths) and once with the raw PyOD estimator the backend wraps, built
with the same hyper-parameters and seed. ROC-AUC is computed on raw scores (anomd's
normalised ``score`` is a monotone map of them, but the logistic map can saturate into ties).

Targets checked at the end (per backend, means over the datasets where both ran):
anomd within 0.01 of raw PyOD (0.005 for the fast-path backends, the fidelity bound), and
within 0.02 of PyOD's published 2024 table where it lists the backend (isolation forest 0.03:
it is randomised).

Slow cells are bounded by ``--cell-budget SECONDS`` (default 600, 0 for none): after that much
time in a cell no new trial starts (at least ``--min-trials`` run); the tables mark such cells,
never hide them.
Results go to ``benchmarks/results/accuracy.json`` after every cell, and ``--resume`` skips
cells already there, so a long run can be continued.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks import odds
from benchmarks.common import (
    BACKENDS,
    FAST_PATH_BACKENDS,
    command_line,
    machine_info,
    plugin_host,
    print_table,
    raw_pyod_estimator,
    read_json,
    report_saved,
    seed_like_plugin,
    write_json,
)

RESULT_NAME = "accuracy"
QUICK_DATASETS = ("wbc", "lympho", "glass", "vertebral", "cardio")
RAW_TOLERANCE = 0.01
FAST_PATH_TOLERANCE = 0.005
PUBLISHED_TOLERANCE = {"isolation_forest": 0.03}
DEFAULT_PUBLISHED_TOLERANCE = 0.02
#: A full run without it takes hours here (one-class SVM on shuttle, SUOD on mnist); cells that
#: hit it are marked in every table.
DEFAULT_CELL_BUDGET_S = 600.0


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def anomd_scores(backend: str, split: odds.Split, params: dict[str, Any] | None = None) -> np.ndarray:
    """Fits ``backend`` through anomd on the training part; raw scores of the test part."""
    from anomd.model import train

    spec = plugin_host().detectors.get(backend).require_available()
    merged = {**odds.PROTOCOL_PARAMS.get(backend, {}), **(params or {})}
    model = train(spec, split.X_train, name=f"odds-{backend}", contamination=0.1, params=merged)
    return model.score(split.X_test).raw


def raw_pyod_scores(backend: str, split: odds.Split) -> np.ndarray:
    """The same with the raw PyOD estimator (PyOD's own fit and ``decision_function``)."""
    estimator = raw_pyod_estimator(backend, odds.PROTOCOL_PARAMS.get(backend))
    seed_like_plugin(backend, odds.PROTOCOL_PARAMS.get(backend))
    estimator.fit(split.X_train)
    return np.asarray(estimator.decision_function(split.X_test), dtype=np.float64).ravel()


def evaluate_cell(
    backend: str,
    dataset: str,
    trials: int,
    *,
    with_raw: bool = True,
    cell_budget_s: float | None = None,
    min_trials: int = 3,
) -> dict[str, Any]:
    """Runs up to ``trials`` protocol trials of one backend on one dataset.

    Returns:
        A JSON-ready dict: per-trial ROC-AUCs of anomd and raw PyOD (``None`` where a run
        raised), their means, seconds spent, the published value and any errors.
    """
    cell: dict[str, Any] = {
        "backend": backend, "dataset": dataset, "trials_requested": trials, "anomd_auc": [],
        "raw_auc": [], "anomd_seconds": 0.0, "raw_seconds": 0.0, "errors": [],
        "published_2024": odds.published(backend, dataset),
    }
    spec = plugin_host().detectors.get(backend)
    if spec is None or not spec.available:
        cell["unavailable"] = spec.missing_dependencies() if spec else ["not registered"]
        return cell
    started = time.perf_counter()
    rank_corr = []
    for split in odds.splits(dataset, trials):
        if cell_budget_s is not None and split.trial >= min_trials and time.perf_counter() - started > cell_budget_s:
            break
        scores: dict[str, np.ndarray] = {}
        for side, run in (("anomd", lambda s=split: anomd_scores(backend, s)), ("raw", lambda s=split: raw_pyod_scores(backend, s))):
            if side == "raw" and not with_raw:
                continue
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores[side] = run()
                    auc: float | None = roc_auc(split.y_test, scores[side])
            except Exception as exc:  # noqa: BLE001 - a detector that raises is a result, not a crash
                auc = None
                cell["errors"].append(f"{side} trial {split.trial}: {type(exc).__name__}: {exc}"[:300])
            cell[f"{side}_seconds"] += time.perf_counter() - t0
            cell[f"{side}_auc"].append(auc)
        if len(scores) == 2:
            rank_corr.append(spearman(scores["anomd"], scores["raw"]))
    cell["trials_run"] = len(cell["anomd_auc"])
    # How closely anomd ranks the test rows as PyOD does (1.0 where anomd scores with PyOD).
    cell["min_rank_correlation"] = min(rank_corr) if rank_corr else None
    cell["anomd_mean"] = _mean(cell["anomd_auc"])
    cell["raw_mean"] = _mean(cell["raw_auc"]) if with_raw else None
    return cell


def _mean(values: Sequence[float | None]) -> float | None:
    good = [v for v in values if v is not None]
    return float(np.mean(good)) if good and len(good) == len(values) else None


def seed_spread(backend: str, seeds: int, datasets: Sequence[str], trials: int) -> dict[str, Any]:
    """Mean ROC-AUC over ``datasets`` of a randomised backend for ``random_state`` 0..seeds-1.

    The published table came from one unknown draw of each randomised detector; the spread
    of the mean across seeds says how far from it a correct implementation can land.
    """
    means = []
    for seed in range(seeds):
        per_dataset = []
        for dataset in datasets:
            aucs = [roc_auc(s.y_test, anomd_scores(backend, s, {"random_state": seed})) for s in odds.splits(dataset, trials)]
            per_dataset.append(float(np.mean(aucs)))
        means.append(float(np.mean(per_dataset)))
        print(f"{backend} random_state={seed}: mean ROC-AUC {means[-1]:.4f}", flush=True)
    return {
        "backend": backend, "seeds": seeds, "datasets": list(datasets), "trials": trials, "means": means,
        "std": float(np.std(means, ddof=1)) if seeds > 1 else 0.0, "min": min(means), "max": max(means),
    }


def _backends_in(cells: list[dict[str, Any]]) -> list[str]:
    """Backends present in ``cells``, in the order of :data:`BACKENDS` (others last)."""
    present = dict.fromkeys(c["backend"] for c in cells)
    return sorted(present, key=lambda b: BACKENDS.index(b) if b in BACKENDS else len(BACKENDS))


def summarise(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-backend means over datasets, each comparison over the datasets both sides have."""
    rows = []
    for backend in _backends_in(cells):
        mine = [c for c in cells if c["backend"] == backend]
        if any("unavailable" in c for c in mine):
            rows.append({"backend": backend, "unavailable": mine[0].get("unavailable")})
            continue
        both = [c for c in mine if c["anomd_mean"] is not None and c.get("raw_mean") is not None]
        with_pub = [c for c in mine if c["anomd_mean"] is not None and c["published_2024"] is not None]
        row: dict[str, Any] = {
            "backend": backend,
            "datasets": len(mine),
            "anomd_mean": _mean([c["anomd_mean"] for c in mine]),
            "raw_mean": _mean([c.get("raw_mean") for c in mine]),
            "vs_raw_datasets": len(both),
            "anomd_minus_raw": float(np.mean([c["anomd_mean"] - c["raw_mean"] for c in both])) if both else None,
            "max_abs_cell_diff_vs_raw": max((abs(c["anomd_mean"] - c["raw_mean"]) for c in both), default=None),
            "vs_published_datasets": len(with_pub),
            "anomd_mean_on_published": float(np.mean([c["anomd_mean"] for c in with_pub])) if with_pub else None,
            "published_mean": float(np.mean([c["published_2024"] for c in with_pub])) if with_pub else None,
            "reduced_trials": sorted(c["dataset"] for c in mine if c.get("trials_run", 0) < c["trials_requested"]),
            "errors": [f"{c['dataset']}: {e}" for c in mine for e in c["errors"]],
        }
        if row["published_mean"] is not None:
            row["anomd_minus_published"] = row["anomd_mean_on_published"] - row["published_mean"]
        rows.append(row)
    return rows


def check_targets(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per backend and target, with the margin (positive = inside the target)."""
    verdicts = []
    for row in summary:
        backend = row["backend"]
        if "unavailable" in row:
            verdicts.append({"backend": backend, "target": "accuracy", "status": "UNAVAILABLE", "detail": str(row["unavailable"])})
            continue
        if row.get("anomd_minus_raw") is not None:
            bound = FAST_PATH_TOLERANCE if backend in FAST_PATH_BACKENDS else RAW_TOLERANCE
            diff = row["anomd_minus_raw"]
            verdicts.append({
                "backend": backend, "target": f"|anomd - raw PyOD| <= {bound}", "value": diff,
                "margin": bound - abs(diff), "status": "MET" if abs(diff) <= bound else "MISSED",
            })
        if row.get("anomd_minus_published") is not None:
            bound = PUBLISHED_TOLERANCE.get(backend, DEFAULT_PUBLISHED_TOLERANCE)
            diff = row["anomd_minus_published"]
            verdicts.append({
                "backend": backend, "target": f"|anomd - published 2024| <= {bound}", "value": diff,
                "margin": bound - abs(diff), "status": "MET" if abs(diff) <= bound else "MISSED",
            })
    return verdicts


def _f(value: float | None, digits: int = 4, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def summary_table(summary: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["backend", "datasets", "anomd", "raw PyOD", "Δ vs raw", "anomd*", "published 2024*", "Δ vs published", "fewer trials on"]
    rows = []
    for r in summary:
        if "unavailable" in r:
            rows.append([r["backend"], "–", "unavailable", "", "", "", "", "", ""])
            continue
        rows.append([
            r["backend"], str(r["datasets"]), _f(r["anomd_mean"]), _f(r["raw_mean"]), _f(r["anomd_minus_raw"], signed=True),
            _f(r["anomd_mean_on_published"]), _f(r["published_mean"]), _f(r.get("anomd_minus_published"), signed=True),
            ", ".join(r["reduced_trials"]) or "",
        ])
    return headers, rows


def dataset_table(cells: list[dict[str, Any]], side: str = "anomd") -> tuple[list[str], list[list[str]]]:
    """Datasets as rows, backends as columns: mean ROC-AUC of ``side`` (``anomd`` or ``raw``)."""
    backends = _backends_in(cells)
    datasets = sorted(dict.fromkeys(c["dataset"] for c in cells))
    by_key = {(c["backend"], c["dataset"]): c for c in cells}
    rows = []
    for d in datasets:
        row = [d]
        for b in backends:
            c = by_key.get((b, d))
            if c is None or "unavailable" in c:
                row.append("–")
                continue
            value = c.get(f"{side}_mean")
            mark = "*" if c.get("trials_run", 0) < c["trials_requested"] else ""
            row.append(_f(value, 3) + mark if value is not None else "err")
        rows.append(row)
    return ["dataset", *backends], rows


def fidelity_table(cells: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Fast-path backends: lowest rank correlation with raw PyOD over trials, per dataset."""
    backends = [b for b in _backends_in(cells) if b in FAST_PATH_BACKENDS]
    datasets = sorted(dict.fromkeys(c["dataset"] for c in cells))
    by_key = {(c["backend"], c["dataset"]): c for c in cells}
    rows = []
    for d in datasets:
        values = [by_key.get((b, d), {}).get("min_rank_correlation") for b in backends]
        rows.append([d, *[f"{v:.4f}" if v is not None else "–" for v in values]])
    return ["dataset", *backends], rows


def report(result: dict[str, Any]) -> None:
    cells = result["cells"]
    summary = summarise(cells)
    headers, rows = summary_table(summary)
    print_table(
        f"ODDS mean ROC-AUC over datasets ({result['trials']} trials requested; anomd through its API, raw PyOD on the same splits)",
        headers, rows,
        "* anomd and published means over the datasets the published 2024 table lists for that backend.",
    )
    headers, rows = dataset_table(cells, "anomd")
    print_table("anomd ROC-AUC per dataset (* = fewer trials than requested)", headers, rows)
    headers, rows = fidelity_table(cells)
    if len(headers) > 1:
        print_table("Fast paths: lowest Spearman rank correlation with raw PyOD's test-part scores over the trials", headers, rows)
    verdicts = check_targets(summary)
    print_table(
        "Accuracy targets", ["backend", "target", "value", "margin", "status"],
        [[v["backend"], v["target"], _f(v.get("value"), signed=True), _f(v.get("margin"), signed=True), v["status"]] for v in verdicts],
    )
    errors = [e for r in summary for e in r.get("errors", [])]
    if errors:
        print("\nErrors (a raised fit counts as a missing value, never as a score):")
        for e in errors[:40]:
            print("  " + e)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks accuracy", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", help=f"comma-separated (default: all 17; --quick: {','.join(QUICK_DATASETS)})")
    p.add_argument("--backends", help="comma-separated backend ids (default: all 12)")
    p.add_argument("--trials", type=int, help="trials per cell (default 10; --quick: 3)")
    p.add_argument("--quick", action="store_true", help="5 small datasets, 3 trials")
    p.add_argument("--no-raw", action="store_true", help="skip the raw PyOD runs")
    p.add_argument("--cell-budget", type=float, default=DEFAULT_CELL_BUDGET_S,
                   help=f"seconds after which a cell starts no new trial (default {DEFAULT_CELL_BUDGET_S:.0f}; 0: none)")
    p.add_argument("--min-trials", type=int, default=3, help="trials run even over the budget (default 3)")
    p.add_argument("--resume", action="store_true", help="keep cells already in results/accuracy.json")
    p.add_argument("--redo", action="store_true", help="with --resume: recompute the selected backends' cells")
    p.add_argument("--report-only", action="store_true", help="print the tables of the saved results")
    p.add_argument("--seed-spread", type=int, metavar="N",
                   help="instead: mean ROC-AUC of each (randomised) backend for random_state 0..N-1")
    return p.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_saved(RESULT_NAME, report, "accuracy")
    datasets = args.datasets.split(",") if args.datasets else list(QUICK_DATASETS if args.quick else odds.DATASETS)
    backends = args.backends.split(",") if args.backends else list(BACKENDS)
    trials = args.trials or (3 if args.quick else 10)
    machine = machine_info()
    if args.seed_spread:
        spreads = [seed_spread(b, args.seed_spread, datasets, trials) for b in backends]
        path = write_json(f"{RESULT_NAME}_seed_spread", {"spreads": spreads, "command": command_line("accuracy", argv)}, machine)
        print_table(
            f"Mean ROC-AUC over {len(datasets)} datasets across random_state 0..{args.seed_spread - 1} ({trials} trials)",
            ["backend", "min", "max", "std"],
            [[r["backend"], _f(r["min"]), _f(r["max"]), _f(r["std"])] for r in spreads],
        )
        print(f"\nwrote {path}")
        return 0
    cells: list[dict[str, Any]] = []
    if args.resume and (saved := read_json(RESULT_NAME)):
        cells = [c for c in saved["cells"] if c["trials_requested"] == trials]
        if args.redo:
            cells = [c for c in cells if not (c["backend"] in backends and c["dataset"] in datasets)]
    done = {(c["backend"], c["dataset"]) for c in cells}
    for backend in backends:
        for dataset in datasets:
            if (backend, dataset) in done:
                continue
            cell = evaluate_cell(
                backend, dataset, trials, with_raw=not args.no_raw, cell_budget_s=args.cell_budget or None,
                min_trials=args.min_trials,
            )
            cells.append(cell)
            print(
                f"{backend:22s} {dataset:11s} anomd {_f(cell.get('anomd_mean'))} raw {_f(cell.get('raw_mean'))} "
                f"published {_f(cell['published_2024'])}  trials {cell.get('trials_run', 0)}  "
                f"{cell['anomd_seconds']:.1f}s/{cell['raw_seconds']:.1f}s"
                + ("  UNAVAILABLE" if "unavailable" in cell else "") + (f"  errors {len(cell['errors'])}" if cell["errors"] else ""),
                flush=True,
            )
            write_json(RESULT_NAME, {"trials": trials, "cells": cells, "command": command_line("accuracy", argv)}, machine)
    result = {"trials": trials, "cells": cells, "command": command_line("accuracy", argv)}
    summary = summarise(cells)
    path = write_json(RESULT_NAME, {**result, "summary": summary, "targets": check_targets(summary)}, machine)
    report(result)
    print(f"\nwrote {path}")
    return 0
