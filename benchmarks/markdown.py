"""The saved results as markdown tables, for docs/backends.md.

``python -m benchmarks markdown`` prints the machine, the command that produced each result and
every table from ``benchmarks/results/*.json``; ``--update docs/backends.md`` rewrites the
blocks marked ``<!-- BEGIN name -->`` ... ``<!-- END name -->`` in place, so the figures in the
docs are generated from a run, not retyped.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import accuracy, far_values, speed
from benchmarks.common import describe_machine, fmt_ms, markdown_table, read_json

#: One line on when to pick each backend (what the measurements below support).
WHEN = {
    "ecod": "default: no parameters, strong on skewed tabular data, per-feature explanation",
    "copod": "like ECOD; its tail choice is sensitive on near-symmetric columns",
    "hbos": "fastest to fit; features roughly independent",
    "isolation_forest": "general purpose, mixed scales, many rows",
    "loda": "streams and large data; randomised (results vary by seed)",
    "mcd": "Gaussian-like data with correlated features, < ~50 columns; slow to fit",
    "cblof": "data made of clusters / operating modes",
    "knn": "low- to mid-dimensional data where distance means similarity",
    "local_outlier_factor": "clusters of different densities (local anomalies)",
    "one_class_svm": "small data with a smooth normal region; quadratic fit",
    "suod": "accuracy through an ensemble, batch use; large models",
    "autoencoder": "many correlated features, enough rows; needs torch",
}


def choose_section(speed_result: dict[str, Any] | None, accuracy_result: dict[str, Any] | None) -> str:
    """One row per backend: latency and size at the largest measured size, ODDS accuracy."""
    from benchmarks.common import BACKENDS, fmt_bytes

    largest: dict[str, dict[str, Any]] = {}
    for r in (speed_result or {}).get("rows", []):
        if "anomd_fit_s" in r and r["rows"] >= largest.get(r["backend"], {}).get("rows", 0):
            largest[r["backend"]] = r
    acc = {}
    if accuracy_result:
        acc = {r["backend"]: r for r in accuracy.summarise(accuracy_result["cells"])}
    rows = []
    for b in BACKENDS:
        r, a = largest.get(b, {}), acc.get(b, {})
        rows.append([
            f"`{b}`", "yes" if b in ("ecod", "copod", "isolation_forest", "loda") else "",
            f"{r['rows'] // 1000}k" if r else "–",
            f"{r['anomd_fit_s']:.2f} s" if r else "–",
            fmt_ms(r.get("http_single", {}).get("p50_ms")) if r else "–",
            fmt_bytes(r.get("anomd_artifact_bytes")) if r else "–",
            f"{a['anomd_mean']:.3f}" if a.get("anomd_mean") is not None else ("unavailable" if "unavailable" in a else "–"),
            WHEN[b],
        ])
    return markdown_table(
        ["backend", "fast path", "fitted on", "fit", "1-row HTTP p50 ms", "model size", "ODDS mean ROC-AUC", "pick it for"], rows,
        text_columns=(0, 1, 7),
    )


def machine_section(machine: dict[str, Any]) -> str:
    v = machine["versions"]
    blas = ", ".join(f"{b['api']} {b['threads']} threads" for b in machine.get("blas", [])) or "unknown"
    return "\n".join([
        f"- CPU: {machine['cpu_model']}, `nproc` = {machine['nproc']}; RAM {machine['ram_gb']} GB; {machine['os']}",
        f"- Load average at start: {machine.get('load_average_1_5_15')} (other engineers' test runs share the machine)",
        (
            f"- Python {v['python']}, PyOD {v['pyod']}, scikit-learn {v['scikit-learn']}, numpy {v['numpy']}, "
            f"scipy {v['scipy']}, numba {v['numba']}, torch {v['torch']}, suod {v['suod']}"
        ),
        f"- Thread pools: {blas}; environment {machine.get('env') or '{}'}",
    ])


def speed_section(result: dict[str, Any]) -> str:
    t = speed.tables(result["rows"])
    skipped = [f"`{r['backend']}` at {r['rows']:,}" for r in result["rows"] if "skipped" in r]
    errors = [
        f"`{r['backend']}` at {r['rows']:,}: {r['pyod_error']}" + (f" — PyOD then run with `{r['pyod_params']}`, as anomd's plugin falls back to" if "pyod_params" in r else "")
        for r in result["rows"] if "pyod_error" in r
    ]
    targets = [
        [v["backend"], v["target"], f"{v['value']:.4g}" if "value" in v else "–",
         f"{v['margin']:+.4g}" if "margin" in v else "", v["status"]]
        for v in result["targets"]
    ]
    parts = [
        f"Command: `{result['command'].strip()}`. Machine: {describe_machine(result['machine'])}.",
        "", "**Fit and batch score** (ms; score = as many held-out rows as trained on; ratio = anomd ÷ PyOD)", "",
        markdown_table(*t["fit"]),
        "", "**Single-row score latency** (ms; p99 is the slowest call where PyOD n < 100)", "",
        markdown_table(*t["single"]),
        "", "**Saved model size**", "", markdown_table(*t["artifact"]),
        "", "Skipped (quadratic fit cost): " + (", ".join(skipped) or "none") + ".",
    ]
    if errors:
        parts += ["", "Raw PyOD with its defaults failed: " + "; ".join(errors) + "."]
    parts += ["", "**Targets**", "", markdown_table(["backend", "target", "value", "margin", "status"], targets)]
    return "\n".join(parts)


def overhead_section(result: dict[str, Any]) -> str:
    rows = result["rows"]
    main = markdown_table(
        ["backend", "in-process (lists)", "in-process (numpy)", "HTTP", "HTTP ÷ lists", "HTTP ÷ numpy", "request", "response"],
        [[r["backend"], fmt_ms(r["in_process_lists_ms"]), fmt_ms(r["in_process_numpy_ms"]), fmt_ms(r["http_ms"]),
          f"{r['ratio_vs_lists']:.2f}×", f"{r['ratio_vs_numpy']:.2f}×", f"{r['request_bytes'] / 1e6:.1f} MB",
          f"{r['response_bytes'] / 1e6:.1f} MB"] for r in rows],
    )
    stage_names = list(rows[0]["server_stages_ms"])
    stages = markdown_table(
        ["server stage (replayed in-process)", *[r["backend"] for r in rows]],
        [[s, *[fmt_ms(r["server_stages_ms"][s]) for r in rows]] for s in stage_names],
    )
    parts = [
        f"Command: `{result['command'].strip()}`. Machine: {describe_machine(result['machine'])}.", "",
        f"`/score` of {rows[0]['rows']:,} × 16 rows, median ms:", "", main, "", stages,
    ]
    if "http_arrow_ms" in rows[0]:
        parts += ["", "The same rows as an Arrow body, same run (median ms):", "", markdown_table(
            ["backend", "in-process (numpy)", "JSON", "Arrow body, JSON reply", "Arrow both ways",
             "Arrow ÷ numpy", "Arrow both ÷ numpy", "request", "reply"],
            [[r["backend"], fmt_ms(r["in_process_numpy_ms"]), fmt_ms(r["http_ms"]), fmt_ms(r["http_arrow_ms"]),
              fmt_ms(r["http_arrow_reply_ms"]), f"{r['arrow_ratio_vs_numpy']:.2f}×",
              f"{r['arrow_reply_ratio_vs_numpy']:.2f}×", f"{r['arrow_request_bytes'] / 1e6:.1f} MB",
              f"{r['arrow_response_bytes'] / 1e6:.2f} MB"] for r in rows])]
    clients = result.get("client") or []
    if clients:
        parts += ["", (f"`anomd.Client.score(frame)` of {clients[0]['rows']:,} × {clients[0]['features']} "
                  "(Arrow both ways) against `AnomalyService.score(frame)`, median ms:"), "", markdown_table(
                      ["backend", "in-process", "Client", "Client ÷ in-process", "client-side encode"],
                      [[c["backend"], fmt_ms(c["in_process_ms"]), fmt_ms(c["client_ms"]), f"{c['ratio']:.2f}×",
                        fmt_ms(c["client_encode_ms"])] for c in clients])]
    return "\n".join(parts)


def accuracy_section(result: dict[str, Any]) -> str:
    summary = accuracy.summarise(result["cells"])
    targets = accuracy.check_targets(summary)
    per_dataset_anomd = accuracy.dataset_table(result["cells"], "anomd")
    per_dataset_raw = accuracy.dataset_table(result["cells"], "raw")
    return "\n".join([
        f"Command: `{result['command'].strip()}`. Machine: {describe_machine(result['machine'])}.", "",
        "**Mean ROC-AUC per backend** (anomd* and published*: over the datasets the published 2024 table lists)", "",
        markdown_table(*accuracy.summary_table(summary)), "",
        "**Targets** (margin > 0: inside the target)", "",
        markdown_table(
            ["backend", "target", "value", "margin", "status"],
            [[v["backend"], v["target"], f"{v['value']:+.4f}" if "value" in v else "–",
              f"{v['margin']:+.4f}" if "margin" in v else "", v["status"]] for v in targets],
        ), "",
        "**anomd ROC-AUC per dataset** (* = fewer trials than requested)", "", markdown_table(*per_dataset_anomd), "",
        "**Fast paths: lowest rank correlation with raw PyOD's scores of the test part, over the trials**", "",
        markdown_table(*accuracy.fidelity_table(result["cells"])), "",
        "**Raw PyOD ROC-AUC per dataset, same splits**", "", markdown_table(*per_dataset_raw),
    ])


def coldstart_section(result: dict[str, Any]) -> str:
    off, on = result["warm_up_off"], result["warm_up_on"]
    rows = [
        [f"`{b}`", fmt_ms(off[b]["first_fit_ms"]), fmt_ms(off[b]["second_fit_ms"]), fmt_ms(on[b]["first_fit_ms"]),
         fmt_ms(off[b]["first_score_ms"]), fmt_ms(on[b]["first_score_ms"])]
        for b in result["backends"]
    ]
    return "\n".join([
        (
            f"Measured by `{result['command'].strip()}` ({result['rows']:,} × 16 rows per `/fit`; "
            f"{describe_machine(result['machine'])}). The warm-up finished "
            f"{result.get('warm_up_s', float('nan')):.1f} s after the server process started."
        ),
        "",
        markdown_table(
            ["backend", "1st /fit, no warm-up", "2nd /fit, no warm-up", "1st /fit after warm-up",
             "1st 1-row /score, no warm-up", "1st 1-row /score after warm-up"], rows,
        ),
    ])


def single_thread_section(result: dict[str, Any]) -> str:
    t = speed.tables(result["rows"])
    return "\n".join([
        f"Command: `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 {result['command'].strip()}`.", "", markdown_table(*t["single"]),
    ])


def seed_spread_section(result: dict[str, Any]) -> str:
    rows = [[f"`{r['backend']}`", *[f"{m:.4f}" for m in r["means"]], f"{r['std']:.4f}"] for r in result["spreads"]]
    n = len(result["spreads"][0]["means"])
    return "\n".join([
        (
            f"Command: `{result['command'].strip()}` ({result['spreads'][0]['trials']} trials on each of the "
            f"{len(result['spreads'][0]['datasets'])} datasets per seed)."
        ),
        "",
        markdown_table(["backend", *[f"random_state={i}" for i in range(n)], "std"], rows),
    ])


def far_values_section(result: dict[str, Any]) -> str:
    return "\n".join([
        f"Command: `{result['command'].strip()}`. Machine: {describe_machine(result['machine'])}.", "",
        markdown_table(*far_values.table(result), text_columns=(0, 1)), "", far_values.NOTE,
    ])


SECTIONS = {
    "choose": lambda: choose_section(read_json("speed"), read_json("accuracy")),
    "coldstart": lambda: coldstart_section(r) if (r := read_json("coldstart")) else None,
    "speed": lambda: speed_section(r) if (r := read_json("speed")) else None,
    "speed-single-thread": lambda: single_thread_section(r) if (r := read_json("speed_single_thread")) else None,
    "overhead": lambda: overhead_section(r) if (r := read_json("overhead")) else None,
    "accuracy": lambda: accuracy_section(r) if (r := read_json("accuracy")) else None,
    "seed-spread": lambda: seed_spread_section(r) if (r := read_json("accuracy_seed_spread")) else None,
    "far-values": lambda: far_values_section(r) if (r := read_json("far_values")) else None,
    "machine": lambda: machine_section(r["machine"]) if (r := read_json("speed") or read_json("accuracy")) else None,
}


def update(path: Path, only: Sequence[str] | None = None) -> list[str]:
    """Replaces each ``<!-- BEGIN name -->...<!-- END name -->`` block of ``path`` with the
    generated section ``name`` (only those in ``only``, when given); returns the names updated
    (blocks without results stay)."""
    text = path.read_text()
    updated = []
    for name, render in SECTIONS.items():
        if only is not None and name not in only:
            continue
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        if begin not in text:
            continue
        body = render()
        if body is None:
            continue
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
        updated.append(name)
    path.write_text(text)
    return updated


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks markdown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", type=Path, metavar="DOC", help="rewrite the marked blocks of DOC (e.g. docs/backends.md)")
    parser.add_argument("--only", metavar="NAMES", help=f"with --update: only these blocks (comma-separated: {', '.join(SECTIONS)})")
    args = parser.parse_args(argv)
    if args.update:
        only = args.only.split(",") if args.only else None
        print(f"updated {args.update}: {', '.join(update(args.update, only)) or 'nothing'}")
        return 0
    for name, render in SECTIONS.items():
        body = render()
        print(f"### {name}\n\n{body if body is not None else '<!-- no saved results -->'}\n")
    return 0
