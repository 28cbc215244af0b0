"""``anomd jobs``: score a dataset, fit one model per group, or detect, on Dask; no server needed.

The job runs in this process exactly as a server runs it (same checks, same tasks, same output,
its record saved in the configured store so ``anomd jobs list`` and ``GET /jobs`` show it), on a
local cluster started for the command (``--workers``) or on an existing one (``--scheduler``).
A progress bar follows the files and groups; Ctrl-C cancels the job and removes its output.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from anomd.commands.common import (
    UsageError,
    add_command,
    add_config_option,
    add_data_dir_option,
    parse_json_object,
    print_json,
    settings_from,
)
from anomd.commands.tables import render_table

EXIT_FAILED = 2
EXIT_CANCELLED = 130


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise UsageError("a column list is empty; name at least one column")
    return names


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub, "jobs", help="score datasets and fit per-group models on Dask",
        description=(
            "Run dataset jobs on a Dask cluster: a local one started for the command (one "
            "worker process per core by default) or an existing one (--scheduler). Input: "
            "Parquet or CSV files (a file, a folder or a glob; local or s3://). Needs the "
            "'dask' extra (pip install 'anomd[dask]'). See docs/scaling.md."),
        epilog=(
            "examples:\n"
            "  anomd jobs fit-groups 'metrics/*.parquet' --model fleet --group-by sensor\n"
            "  anomd jobs score 'metrics/*.parquet' scored/ --model fleet --group-by sensor \\\n"
            "      --keep sensor,timestamp\n"
            "  anomd jobs score s3://lake/tx/ s3://lake/tx-scored/ --model fraud \\\n"
            "      --scheduler tcp://10.0.0.5:8786\n"
            "  anomd jobs list"),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    score = add_command(actions, "score", help="score every file with a stored model",
                        description="Score INPUT with a stored model (per group with --group-by) "
                                    "into one Parquet file per input file under OUTPUT.")
    score.add_argument("input", metavar="INPUT", help="file, folder or glob; local or s3://")
    score.add_argument("output", metavar="OUTPUT", help="output folder; local or s3://")
    score.add_argument("--model", "-m", required=True, help="the stored model (with --group-by: "
                       "the name the group models share)")
    score.add_argument("--group-by", metavar="COL", help="route each row to the model of its group")
    score.add_argument("--unseen", choices=("null", "drop", "fail"), default="null",
                       help="with --group-by, rows of a group without a model (default null scores)")
    score.add_argument("--threshold", type=float, help="override the learned threshold (score scale)")
    score.add_argument("--normalization", choices=("standardization", "zscore", "raw", "minmax"),
                       help="score scale (default: the model's)")
    score.set_defaults(run=run_job, kind="score")

    fit = add_command(actions, "fit-groups", help="fit and store one model per group",
                      description="Fit one model per value of --group-by on INPUT and store "
                                  "each as <model>.<group>.")
    fit.add_argument("input", metavar="INPUT", help="file, folder or glob; local or s3://")
    fit.add_argument("--model", "-m", required=True, help="the name the group models share")
    fit.add_argument("--group-by", metavar="COL", required=True, help="the entity column")
    fit.set_defaults(run=run_job, kind="fit_groups", output=None)

    detect = add_command(actions, "detect", help="fit on the data and score it, storing no model",
                         description="Fit on INPUT (per group with --group-by) and score every "
                                     "row into OUTPUT; nothing is stored.")
    detect.add_argument("input", metavar="INPUT", help="file, folder or glob; local or s3://")
    detect.add_argument("output", metavar="OUTPUT", help="output folder; local or s3://")
    detect.add_argument("--group-by", metavar="COL", help="fit one model per value of this column")
    detect.add_argument("--threshold", type=float, help="override the learned threshold (score scale)")
    detect.set_defaults(run=run_job, kind="detect", model=None, unseen="null")

    for action in (fit, detect):
        action.add_argument("--contamination", "-c", type=float, default=0.1,
                            help="expected share of anomalies in (0, 0.5] (default 0.1)")
        action.add_argument("--params", metavar="JSON", help="the backend's hyper-parameters")
        action.add_argument("--normalization", choices=("standardization", "zscore", "raw", "minmax"),
                            default=None, help="score scale (default standardization)")
    fit.set_defaults(threshold=None, unseen="null")
    for action in (score, fit, detect):
        action.add_argument("--backend", "-b", help="detector id (default: the configured one)")
        action.add_argument("--columns", metavar="A,B,...", help="feature columns, in order")
        if action is not fit:
            action.add_argument("--keep", metavar="A,B,...",
                                help="columns copied to the output (default: every non-feature one)")
        action.add_argument("--scheduler", metavar="local|ADDRESS",
                            help="Dask scheduler address, or 'local' (default: the dask_scheduler "
                                 "setting, else a local cluster)")
        action.add_argument("--workers", type=int, metavar="N",
                            help="local cluster worker processes (default: one per core)")
        progress = action.add_mutually_exclusive_group()
        progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                              help="always show the progress bar (default: on a terminal)")
        progress.add_argument("--no-progress", dest="progress", action="store_false",
                              help="never show it")
        action.add_argument("--json", action="store_true", help="print the final job record as JSON")
        add_data_dir_option(action)
        add_config_option(action)

    listing = add_command(actions, "list", help="jobs recorded in the store, newest first",
                          description="List the jobs recorded in the configured store (run by a "
                                      "server or by this command).")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.set_defaults(run=run_list)
    show = add_command(actions, "show", help="one job's record", description="Print a job's record.")
    show.add_argument("job_id", metavar="ID")
    show.set_defaults(run=run_show)
    for action in (listing, show):
        add_data_dir_option(action)
        add_config_option(action)


def _request(args: argparse.Namespace) -> Any:
    from anomd.jobs.spec import JobRequest

    params = parse_json_object(args.params, "--params") if getattr(args, "params", None) else {}
    return JobRequest(
        kind=args.kind, input=args.input, output=args.output, model=args.model,
        backend=args.backend, keep=_columns(getattr(args, "keep", None)),
        columns=_columns(args.columns), group_by=args.group_by, params=params,
        contamination=getattr(args, "contamination", 0.1), normalization=args.normalization,
        threshold=args.threshold, unseen=args.unseen,
    )


def run_job(args: argparse.Namespace) -> int:
    from anomd.jobs.cluster import Cluster, require_distributed
    from anomd.jobs.records import new_record
    from anomd.jobs.runner import JobControl, JobRun, check_backend
    from anomd.jobs.spec import check_request
    from anomd.jobs.store import JobStore
    from anomd.service import AnomalyService

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    require_distributed()
    settings = settings_from(args)
    request = check_request(_request(args), settings.max_name_length)
    service = AnomalyService(settings)
    check_backend(service, request)
    store = JobStore(service.storage)
    record = new_record(request)
    cluster = Cluster(args.scheduler or settings.dask_scheduler or None,
                      args.workers or settings.dask_workers or None, settings.secret_key)
    record.cluster = cluster.describe()
    bar = _ProgressBar(args.progress)
    stop: list[str] = []
    saved = [0.0]

    def report(current: Any) -> None:
        bar.update(current)
        if time.monotonic() - saved[0] >= 2.0:
            saved[0] = time.monotonic()
            store.save(current)

    control = JobControl(cancelled=lambda: stop[0] if stop else None, report=report)
    store.save(record)
    runner = threading.Thread(target=JobRun(service, cluster, record, control).run,
                              name="anomd-job", daemon=True)
    try:
        runner.start()
        while runner.is_alive():
            try:
                runner.join(0.2)
            except KeyboardInterrupt:
                if stop:
                    raise  # a second Ctrl-C: leave now
                stop.append("cancelled with Ctrl-C")
                print("anomd: cancelling: waiting for running tasks, then removing the output "
                      "(Ctrl-C again to leave at once)", file=sys.stderr)
    finally:
        bar.close()
        store.save(record)
        cluster.close()
        service.close()
    if args.json:
        print_json(_builtins(record))
    else:
        print(_summary(record), file=sys.stderr)
    return {"succeeded": 0, "cancelled": EXIT_CANCELLED}.get(record.status, EXIT_FAILED)


class _ProgressBar:
    """One tqdm bar that follows the job's current phase: files read, groups fitted, files
    scored."""

    def __init__(self, show: bool | None) -> None:
        self.disable = None if show is None else not show
        self.bar: Any = None
        self.phase = ""

    def update(self, record: Any) -> None:
        from tqdm import tqdm

        p = record.progress
        fitting = (record.kind != "score" and p.groups_total is not None
                   and p.groups_done + p.groups_failed < p.groups_total)
        phase, done, total = (("groups", p.groups_done + p.groups_failed, p.groups_total) if fitting
                              else ("files", p.partitions_done, p.partitions_total))
        if total is None:
            return
        if self.bar is None or phase != self.phase:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total, unit=phase[:-1], desc=phase, file=sys.stderr,
                            disable=self.disable)
            self.phase = phase
        self.bar.n = done
        self.bar.set_postfix_str(f"{p.rows_done:,} rows", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _builtins(record: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(record)


def _summary(record: Any) -> str:
    p, t = record.progress, record.timings
    took = f" in {t.running_s:.1f} s" if t.running_s is not None else ""
    if record.status == "succeeded":
        if record.kind == "fit_groups":
            models = record.models
            text = (f"fitted {models.count} models {models.model}.<group> ({models.backend}) from "
                    f"{p.rows_done:,} rows{took}")
        else:
            rate = p.anomalies / p.rows_done if p.rows_done else 0.0
            text = (f"scored {p.rows_done:,} rows in {p.partitions_done} files, {p.anomalies:,} "
                    f"anomalous ({rate:.1%}), into {record.output}{took}")
        lines = [f"anomd: job {record.id} {text} on {record.cluster}"]
        lines += [f"anomd: warning: {w}" for w in record.warnings]
        return "\n".join(lines)
    return f"anomd: job {record.id} {record.status}: {record.error}"


def _store(args: argparse.Namespace) -> Any:
    from anomd.jobs.store import JobStore
    from anomd.service import AnomalyService

    service = AnomalyService(settings_from(args))
    return service, JobStore(service.storage)


def run_list(args: argparse.Namespace) -> int:
    service, store = _store(args)
    try:
        records = store.list()
    finally:
        service.close()
    if args.json:
        print_json([_builtins(r) for r in records])
        return 0
    if not records:
        print("no jobs recorded")
        return 0
    rows = [(r.id, r.kind, r.status, f"{r.progress.partitions_done}/{r.progress.partitions_total or '?'}",
             f"{r.progress.rows_done:,}", r.request.model or "", r.error or r.output or "")
            for r in records]
    print(render_table(("ID", "KIND", "STATUS", "FILES", "ROWS", "MODEL", "OUTPUT / ERROR"), rows))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from anomd.errors import NotFound

    service, store = _store(args)
    try:
        record = store.get(args.job_id)
    finally:
        service.close()
    if record is None:
        raise NotFound(f"no job {args.job_id!r}")
    print_json(_builtins(record))
    return 0
