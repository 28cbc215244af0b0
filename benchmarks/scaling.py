"""Scaling out: dataset scoring and per-group fits on a Dask LocalCluster vs one process.

``python -m benchmarks scaling [--workers 2] [--rows 5M] [--features 20] [--files 20]
[--backends isolation_forest,ecod] [--groups 1000] [--group-rows 2000] [--quick]``

Scoring: ``--rows`` × ``--features`` float64 rows in ``--files`` Parquet files; one model per
backend fitted on 100,000 of them. Three ways to score all rows, side by side:

- **in-process call**: the rows already in memory (one matrix), ``FittedModel.score_matrix`` in
  file-sized chunks (bounded memory; chunking changes no score). Pure compute: no reading, no
  writing. The issue's target: the job ≥ 1.6 × this with 2 workers.
- **one process, same pipeline**: the job's own per-file function (read the file, score it,
  write its Parquet output whole) called file after file in this process: what a job costs
  without Dask.
- **job**: a ``score`` job on a LocalCluster of ``--workers`` processes (127.0.0.1, one thread
  each), started and warmed beforehand (its start and warm-up are reported separately).

Per-worker overhead is reported two ways: the cluster's start and first-use cost per worker
(imports, loading the model), and, during the job, ``(wall × workers − time in tasks) /
workers``: what scheduling, transfers and idle workers cost each worker.

Per-group fits: ``--groups`` groups × ``--group-rows`` rows (every file holds rows of every
group, as time-partitioned files of a fleet do); a ``fit_groups`` job vs the same split and
fit functions called in one process, both storing every model as an ordinary signed artifact.

The job's output is checked against the one-process output file by file (same scores, bit
for bit). Figures depend on the machine's load, printed at the start and the end.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    command_line,
    describe_machine,
    fmt_ratio,
    machine_info,
    print_table,
    write_json,
)

RESULT_NAME = "scaling"
TARGET = 1.6
FIT_ROWS = 100_000


def count(text: str) -> int:
    """``5M``, ``250k`` or ``5000000``."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scaling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--rows", type=count, default=5_000_000, help="rows to score (default 5M)")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--files", type=int, default=20, help="input files (partitions)")
    parser.add_argument("--backends", default="isolation_forest,ecod")
    parser.add_argument("--groups", type=count, default=1000)
    parser.add_argument("--group-rows", type=count, default=2000)
    parser.add_argument("--group-files", type=int, default=8)
    parser.add_argument("--group-backend", default="ecod")
    parser.add_argument("--quick", action="store_true", help="500k rows, 100 groups")
    parser.add_argument("--keep-data", action="store_true", help="leave the generated files")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.groups = min(args.rows, 500_000), min(args.groups, 100)
    return args


# -- data ----------------------------------------------------------------------------------------


def write_score_files(folder: Path, rows: int, features: int, files: int) -> list[str]:
    """Gaussian rows with 0.5 % far outliers, one file at a time (bounded memory)."""
    import polars as pl

    folder.mkdir(parents=True)
    names = [f"x{j}" for j in range(features)]
    per_file = -(-rows // files)
    for i in range(files):
        n = min(per_file, rows - i * per_file)
        rng = np.random.default_rng(1000 + i)
        X = rng.normal(size=(n, features))
        far = rng.random(n) < 0.005
        X[far] += rng.normal(0, 6, size=(int(far.sum()), features))
        frame = pl.from_numpy(X, schema=names).with_columns(
            pl.Series("id", np.arange(i * per_file, i * per_file + n)))
        frame.write_parquet(folder / f"part-{i:04d}.parquet")
    return names


def write_group_files(folder: Path, groups: int, rows_per_group: int, features: int, files: int) -> list[str]:
    """Every file holds an equal share of every group's rows; groups sit at different levels."""
    import polars as pl

    folder.mkdir(parents=True)
    names = [f"x{j}" for j in range(features)]
    share = rows_per_group // files
    for i in range(files):
        rng = np.random.default_rng(5000 + i)
        group = np.repeat(np.arange(groups), share)
        X = rng.normal(size=(group.size, features)) + (group % 17)[:, None]
        frame = pl.from_numpy(X, schema=names).with_columns(
            pl.Series("sensor", [f"s{g:05d}" for g in group]))
        frame.write_parquet(folder / f"part-{i:04d}.parquet")
    return names


# -- measurements ---------------------------------------------------------------------------------


def in_memory_seconds(model: Any, folder: Path, rows: int, features: int, files: int) -> float:
    """Scores the rows held in one matrix, file-sized chunk by chunk."""
    import polars as pl

    X = np.empty((rows, features))
    start = 0
    for path in sorted(folder.glob("*.parquet")):
        part = pl.read_parquet(path).drop("id").to_numpy()
        X[start : start + len(part)] = part
        start += len(part)
    chunk = -(-rows // files)
    model.score_matrix(X[:1000])  # first-call costs are not throughput
    started = time.perf_counter()
    for i in range(0, rows, chunk):
        model.score_matrix(X[i : i + chunk])
    seconds = time.perf_counter() - started
    del X
    gc.collect()
    return seconds


def one_process_seconds(service: Any, request: Any) -> float:
    """The job's per-file tasks called one after another in this process, no Dask."""
    from anomd.jobs import tasks
    from anomd.jobs.locations import list_partitions, parse
    from anomd.jobs.worker import job_context

    context = job_context("one-process", service.settings)
    parts = list_partitions(parse(request.input, "input"), {}, service.plugins.storage)
    started = time.perf_counter()
    if request.kind == "score":
        plan = tasks.ScorePlan(output=request.output, model=request.model, backend=request.backend,
                               columns=request.columns, keep=request.keep, group_by=None,
                               threshold=None, normalization=None, unseen="null")
        for part in parts:
            tasks.score_partition(context, plan, part)
    else:
        plan = tasks.FitPlan(model=request.model, backend=request.backend, params={},
                             contamination=0.1, normalization="standardization",
                             columns=request.columns, group_by=request.group_by, buckets=1,
                             store=True, job_id="one-process")
        splits = [tasks.split_partition(context, plan, part) for part in parts]
        admitted = tasks.admit_groups(context, plan, *(tasks.first(s) for s in splits))
        tasks.fit_bucket(context, plan, 0, admitted, *(tasks.piece(s, 0) for s in splits))
    return time.perf_counter() - started


def _busy(_: int) -> float:
    """A fixed single-threaded CPU task (about a second on one core): sorts, no BLAS."""
    started = time.perf_counter()
    X = np.random.default_rng(0).normal(size=(1000, 1000))
    for _ in range(75):
        X = np.sort(X, axis=0)[::-1] + 1e-9
    return time.perf_counter() - started


def parallel_headroom(workers: int) -> float:
    """How much faster ``workers`` processes finish ``workers`` fixed tasks than one process
    does, on this machine now: the most any job could gain here (other processes share the
    cores). ``workers`` on an idle machine with that many cores."""
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers) as pool:
        pool.map(_busy, range(workers))  # start-up and imports out of the timing
        started = time.perf_counter()
        pool.map(_busy, range(workers))
        parallel = time.perf_counter() - started
    sequential = sum(_busy(i) for i in range(workers))
    return sequential / parallel


def run_job(service: Any, cluster: Any, request: Any) -> Any:
    from anomd.jobs.records import new_record
    from anomd.jobs.runner import JobRun

    record = JobRun(service, cluster, new_record(request)).run()
    if record.status != "succeeded":
        raise RuntimeError(f"job {request.kind} failed: {record.error}")
    return record


def same_output(a: Path, b: Path) -> bool:
    import polars as pl

    files = sorted(p.name for p in a.glob("*.parquet"))
    if files != sorted(p.name for p in b.glob("*.parquet")):
        return False
    return all(np.array_equal(pl.read_parquet(a / f)["raw_score"].to_numpy(),
                              pl.read_parquet(b / f)["raw_score"].to_numpy()) for f in files)


def main(argv: Sequence[str]) -> int:
    from anomd.jobs.cluster import Cluster
    from anomd.jobs.spec import JobRequest
    from anomd.service import AnomalyService
    from anomd.settings import load_settings

    args = parse_args(argv)
    machine = machine_info()
    print(describe_machine(machine))
    root = Path(tempfile.mkdtemp(prefix="anomd-bench-scaling-"))
    result: dict[str, Any] = {"command": command_line("scaling", argv), "workers": args.workers,
                              "rows": args.rows, "features": args.features, "files": args.files}
    cluster = Cluster(workers=args.workers)
    try:
        print(f"\nwriting {args.rows:,} x {args.features} rows in {args.files} files under {root} ...",
              flush=True)
        features = write_score_files(root / "in", args.rows, args.features, args.files)
        service = AnomalyService(load_settings(env={}, data_dir=str(root / "store"), warm_up=False))
        import polars as pl

        sample = pl.read_parquet(root / "in" / "part-0000.parquet").head(FIT_ROWS).select(features)
        backends = args.backends.split(",")
        for backend in backends:
            service.fit(sample.to_numpy(), model=f"bench-{backend}", backend=backend)
        del sample

        print("parallel headroom of this machine ...", flush=True)
        result["headroom"] = parallel_headroom(args.workers)
        started = time.perf_counter()
        cluster.client()
        cluster_start = time.perf_counter() - started
        warm_dir = root / "warm"
        warm_dir.mkdir()
        for i in range(2 * args.workers):
            pl.read_parquet(root / "in" / "part-0000.parquet").head(1000).write_parquet(
                warm_dir / f"w{i}.parquet")

        rows_out = []
        for backend in backends:
            model, _ = service.get_model(f"bench-{backend}", backend)
            print(f"{backend}: in-process call ...", flush=True)
            memory_s = in_memory_seconds(model, root / "in", args.rows, args.features, args.files)
            request = JobRequest(kind="score", input=str(root / "in"), model=f"bench-{backend}",
                                 backend=backend, columns=features, keep=["id"],
                                 output=str(root / f"one-{backend}"))
            print(f"{backend}: one process, same pipeline ...", flush=True)
            one_s = one_process_seconds(service, request)
            started = time.perf_counter()
            run_job(service, cluster, JobRequest(**{**_fields(request), "input": str(warm_dir),
                                                    "output": str(root / f"warm-out-{backend}")}))
            warm_s = time.perf_counter() - started
            print(f"{backend}: job on {args.workers} workers ...", flush=True)
            record = run_job(service, cluster, JobRequest(**{**_fields(request),
                                                             "output": str(root / f"job-{backend}")}))
            wall = record.timings.running_s or float("nan")
            idle = (wall * args.workers - record.timings.task_s) / args.workers
            rows_out.append({
                "backend": backend, "in_process_s": memory_s, "one_process_s": one_s,
                "job_s": wall, "task_s": record.timings.task_s, "warm_s": warm_s,
                "rows_per_s_job": args.rows / wall, "rows_per_s_in_process": args.rows / memory_s,
                "speedup_vs_call": memory_s / wall, "speedup_vs_one_process": one_s / wall,
                "overhead_per_worker_s": idle,
                "same_output": same_output(root / f"one-{backend}", root / f"job-{backend}"),
            })
        result["score"] = rows_out
        result["cluster_start_s"] = cluster_start

        if args.groups:
            print(f"\nwriting {args.groups:,} groups x {args.group_rows:,} rows ...", flush=True)
            names = write_group_files(root / "groups", args.groups, args.group_rows, args.features,
                                      args.group_files)
            base = {"kind": "fit_groups", "input": str(root / "groups"), "group_by": "sensor",
                    "backend": args.group_backend, "columns": names}
            warm_groups = root / "groups-warm"
            warm_groups.mkdir()
            for i in range(2 * args.workers):  # first fits in each worker, out of the timing
                pl.read_parquet(root / "groups" / "part-0000.parquet").head(4 * args.group_rows).write_parquet(
                    warm_groups / f"w{i}.parquet")
            run_job(service, cluster, JobRequest(**{**base, "input": str(warm_groups)}, model="warm"))
            print("fit_groups: one process ...", flush=True)
            one_s = one_process_seconds(service, JobRequest(**base, model="one"))
            print(f"fit_groups: job on {args.workers} workers ...", flush=True)
            record = run_job(service, cluster, JobRequest(**base, model="job"))
            wall = record.timings.running_s or float("nan")
            result["fit_groups"] = {
                "groups": args.groups, "rows_per_group": args.group_rows,
                "backend": args.group_backend, "one_process_s": one_s, "job_s": wall,
                "task_s": record.timings.task_s, "speedup": one_s / wall,
                "models": record.models.count if record.models else 0,
                "overhead_per_worker_s": (wall * args.workers - record.timings.task_s) / args.workers,
            }
        service.close()
    finally:
        cluster.close()
        if not args.keep_data:
            shutil.rmtree(root, ignore_errors=True)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report(result, machine)
    path = write_json(RESULT_NAME, {**result, "targets": targets(result)}, machine)
    print(f"\nwrote {path}")
    return 0


def _fields(request: Any) -> dict[str, Any]:
    return {f: getattr(request, f) for f in request.__struct_fields__}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"what": f"score {r['backend']}: job >= {TARGET}x in-process call",
            "value": r["speedup_vs_call"], "status": "MET" if r["speedup_vs_call"] >= TARGET else "MISSED"}
           for r in result.get("score", [])]
    groups = result.get("fit_groups")
    if groups:
        out.append({"what": f"fit_groups: job >= {TARGET}x one process", "value": groups["speedup"],
                    "status": "MET" if groups["speedup"] >= TARGET else "MISSED"})
    return out


def report(result: dict[str, Any], machine: dict[str, Any]) -> None:
    n = result["workers"]
    load = machine.get("load_average_1_5_15")
    print_table(
        f"Scoring {result['rows']:,} x {result['features']} rows in {result['files']} files: "
        f"a job on {n} workers vs one process",
        ["backend", "in-process call", "one process (same pipeline)", f"job, {n} workers",
         "rows/s (job)", "vs call", "vs one process", "overhead/worker", "same output"],
        [[r["backend"], f"{r['in_process_s']:.1f} s", f"{r['one_process_s']:.1f} s",
          f"{r['job_s']:.1f} s", f"{r['rows_per_s_job']:,.0f}", fmt_ratio(r["speedup_vs_call"]),
          fmt_ratio(r["speedup_vs_one_process"]), f"{r['overhead_per_worker_s']:.1f} s",
          "yes" if r["same_output"] else "NO"] for r in result.get("score", [])],
        note=(f"parallel headroom now: {n} plain processes run {n} fixed CPU tasks "
              f"{result.get('headroom', float('nan')):.2f}x as fast as one process (the most a job "
              f"could gain; {n}.00x on an idle machine with {n} cores)\n"
              f"cluster start {result.get('cluster_start_s', 0):.1f} s for {n} workers; first job "
              "(imports, model load) on a 1,000-row file per task: "
              + ", ".join(f"{r['backend']} {r['warm_s']:.1f} s" for r in result.get("score", []))
              + f"\nload average at start {load}, at end {result['load_average_end']}"),
    )
    groups = result.get("fit_groups")
    if groups:
        print_table(
            f"fit_groups: {groups['groups']:,} groups x {groups['rows_per_group']:,} rows "
            f"({groups['backend']}, every model stored)",
            ["", "one process", f"job, {n} workers", "speedup", "overhead/worker", "models"],
            [["fit_groups", f"{groups['one_process_s']:.1f} s", f"{groups['job_s']:.1f} s",
              fmt_ratio(groups["speedup"]), f"{groups['overhead_per_worker_s']:.1f} s",
              f"{groups['models']:,}"]],
        )
    for target in targets(result):
        print(f"target: {target['what']}: {target['value']:.2f}x {target['status']}")
