"""The functions Dask runs on workers: score a file, split a file by group, fit a bucket.

Each is a plain function of picklable arguments (a :class:`~anomd.jobs.worker.JobContext`, a
plan, a partition) that opens what it needs through the worker's cached runtime, so a task
retried on another worker after a crash does exactly the same work and writes the same file.

A task looks for the job's cancel mark before it starts and again before it writes: once a job
is cancelled or has failed, queued tasks end at once and running ones write nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import polars as pl

from anomd.backend_catalog import params_for
from anomd.detectors import DetectorSpec
from anomd.encoding import Column, RowEncoder
from anomd.errors import InvalidInput, NotFound
from anomd.frames import choose_columns, encoder_matrix, feature_matrix, numeric_columns
from anomd.jobs.admission import (
    FileShape,
    TaskLimit,
    bucket_of,
    check,
    group_fit_estimate,
    measure,
    piece_bytes,
    read_estimate,
    score_estimate,
    split_estimate,
    task_limit,
)
from anomd.jobs.dataset import parquet_bytes, read_partition, write_whole
from anomd.jobs.groups import group_model_name
from anomd.jobs.locations import Partition
from anomd.jobs.spec import RESULT_COLUMNS, Unseen
from anomd.jobs.worker import JobContext, WorkerRuntime, runtime
from anomd.model import FittedModel, train

#: The group column of split pieces (the group's value as text).
GROUP = "__anomd_group__"
#: Every row's group when a job has no ``group_by``.
ALL_ROWS = ""


class ScorePlan(msgspec.Struct, frozen=True, kw_only=True):
    """How to score each file of a score or detect job."""

    output: str
    model: str | None
    backend: str | None
    columns: list[str] | None
    keep: list[str] | None
    group_by: str | None
    threshold: float | None
    normalization: str | None
    unseen: Unseen
    name_limit: int = 128


class FitPlan(msgspec.Struct, frozen=True, kw_only=True):
    """How to fit the groups of a fit_groups or detect job."""

    model: str
    backend: str
    params: dict[str, Any]
    contamination: float
    normalization: str
    columns: list[str] | None
    group_by: str | None
    buckets: int
    store: bool
    job_id: str
    name_limit: int = 128


class PartitionResult(msgspec.Struct, kw_only=True):
    index: int
    skipped: bool = False
    rows: int = 0
    anomalies: int = 0
    unseen_rows: int = 0
    unseen_groups: list[str] = msgspec.field(default_factory=list)
    key: str | None = None
    seconds: float = 0.0


class SplitStats(msgspec.Struct, kw_only=True):
    """What a split found in its file.

    Attributes:
        groups: The file's groups, sorted.
        group_rows: Rows of each of ``groups`` in this file (memory admission sums them).
        features: Feature columns taken from the file.
    """

    index: int
    skipped: bool = False
    rows: int = 0
    groups: list[str] = msgspec.field(default_factory=list)
    group_rows: list[int] = msgspec.field(default_factory=list)
    features: int = 0
    seconds: float = 0.0


class GroupsAdmitted(msgspec.Struct, kw_only=True):
    """Every group's fit fits in a task's memory limit (the bucket tasks wait for this).

    Attributes:
        groups: Groups checked (0 when the job was cancelled first).
        largest: The largest estimate, in bytes.
    """

    groups: int = 0
    largest: int = 0


class BucketStats(msgspec.Struct, kw_only=True):
    bucket: int
    skipped: bool = False
    rows: int = 0
    groups: int = 0
    failed: list[tuple[str, str]] = msgspec.field(default_factory=list)
    seconds: float = 0.0


# -- scoring -----------------------------------------------------------------------------------


def score_partition(context: JobContext, plan: ScorePlan, part: Partition,
                    *fitted: tuple[Any, dict[str, FittedModel]]) -> PartitionResult:
    """Scores one file and writes its output file (``fitted``: a detect job's bucket results;
    empty: models come from the store)."""
    started = time.perf_counter()
    rt = runtime(context)
    if rt.cancelled(context.job_id):
        return PartitionResult(index=part.index, skipped=True)
    models: dict[str, FittedModel] = {}
    for _, bucket_models in fitted:
        models.update(bucket_models)
    lookup = _Models(rt, plan, models if fitted else None)
    # Memory admission, before the file is read: from its metadata and the model.
    shape = measure(part, rt.bucket)
    limit = task_limit(rt.settings)
    single: FittedModel | None = None
    if plan.group_by is None:
        single = lookup.get(ALL_ROWS)
        if single is None:  # only a detect job can get here: its single fit failed
            raise InvalidInput(f"{part.uri}: no model could be fitted on the input")
        _admit_score(rt, single, shape, shape.rows, limit, part.uri, whole_file=True)
    else:
        width = shape.width(plan.columns, [*(plan.keep or []), plan.group_by])
        check(read_estimate(shape, width), limit, part.uri,
              f"reading {shape.rows_text()} × {width:,} features", "split the file into smaller ones")
    frame = read_partition(part, rt.bucket)
    _require(frame, [*(plan.keep or []), *([plan.group_by] if plan.group_by else [])], part.uri)

    n = frame.height
    raw = np.full(n, np.nan)
    score = np.full(n, np.nan)
    flags = np.zeros(n, dtype=bool)
    known = np.ones(n, dtype=bool)
    unseen: list[str] = []
    features: list[str] = []
    if single is not None:
        if n:
            features = _score_into(single, frame, None, plan, part.uri, raw, score, flags)
    else:
        keys = frame[plan.group_by].cast(pl.String)
        for group, rows in _rows_by_group(keys):
            model = lookup.get(group)
            if model is None:
                if plan.unseen == "fail":
                    raise InvalidInput(
                        f"{part.uri}: {plan.group_by} = {group!r} has no model "
                        f"({lookup.describe(group)}); fit it, or set unseen to null or drop")
                known[rows] = False
                unseen.append(group)
                continue
            _admit_score(rt, model, shape, len(rows), limit,
                         f"{part.uri}, group {plan.group_by} = {group!r}", whole_file=False)
            features = _score_into(model, frame, rows, plan, part.uri, raw, score, flags)
    keep = plan.keep if plan.keep is not None else [c for c in frame.columns if c not in features]
    out = frame.select(keep).with_columns(
        pl.Series(RESULT_COLUMNS[0], score), pl.Series(RESULT_COLUMNS[1], flags),
        pl.Series(RESULT_COLUMNS[2], raw))
    if not known.all():
        if plan.unseen == "drop":
            out = out.filter(pl.Series(known))
        else:
            nulls = ~pl.Series(known)
            out = out.with_columns(
                [pl.when(nulls).then(None).otherwise(pl.col(c)).alias(c) for c in RESULT_COLUMNS])
    if rt.cancelled(context.job_id):
        return PartitionResult(index=part.index, skipped=True)
    write_whole(rt.output(plan.output), part.output_key, parquet_bytes(out))
    return PartitionResult(
        index=part.index, rows=n, anomalies=int(flags[known].sum()), unseen_rows=int((~known).sum()),
        unseen_groups=sorted(unseen), key=part.output_key,
        seconds=round(time.perf_counter() - started, 4))


def _admit_score(rt: WorkerRuntime, model: FittedModel, shape: FileShape, rows: int,
                 limit: TaskLimit, subject: str, whole_file: bool) -> None:
    """Refuses scoring ``rows`` rows of the file with ``model`` over the task's limit.

    Raises:
        TooLarge: Naming ``subject`` (the file, or the file and the group).
    """
    info = model.info
    spec = rt.plugins.detectors.get(info.backend)
    if spec is None:  # a model whose plugin is gone could not have been loaded
        raise NotFound(f"backend {info.backend!r} is not registered")
    estimate = score_estimate(spec, spec.parse_params(info.params), shape, rows, info.input_dim,
                              info.samples_fitted, whole_file)
    counted = shape.rows_text() if whole_file else f"{rows:,} rows"
    check(estimate, limit, subject,
          f"scoring {counted} × {info.input_dim:,} features with backend {spec.id!r}",
          "split the file into smaller ones or choose a lighter backend")


class _Models:
    """Finds the model for a group: in a detect job's fits, or in the store (verified)."""

    def __init__(self, rt: WorkerRuntime, plan: ScorePlan, fitted: dict[str, FittedModel] | None):
        self.rt, self.plan, self.fitted = rt, plan, fitted

    def name(self, group: str) -> str:
        assert self.plan.model is not None
        if group == ALL_ROWS and self.plan.group_by is None:
            return self.plan.model
        return group_model_name(self.plan.model, group, self.plan.name_limit)

    def get(self, group: str) -> FittedModel | None:
        if self.fitted is not None:
            return self.fitted.get(group)
        if self.plan.group_by is None:
            return self.rt.stored_model(self.name(group), self.plan.backend)  # NotFound is fatal
        return self.rt.find_model(self.name(group), self.plan.backend)

    def describe(self, group: str) -> str:
        if self.fitted is not None:
            return "none was fitted"
        return f"no stored model {self.name(group)!r} with backend {self.plan.backend or self.rt.settings.default_backend!r}"


def _score_into(model: FittedModel, frame: pl.DataFrame, rows: np.ndarray | None, plan: ScorePlan,
                source: str, raw: np.ndarray, score: np.ndarray, flags: np.ndarray) -> list[str]:
    """Scores ``rows`` of ``frame`` (all when None) into the result arrays; returns the
    feature columns used."""
    part = frame if rows is None else frame[rows]
    X, features = model_matrix(part, model, plan, source)
    scores = model.score_matrix(X, plan.threshold, plan.normalization)
    where = slice(None) if rows is None else rows
    raw[where], score[where], flags[where] = scores.raw, scores.score, scores.is_anomaly
    return features


def model_matrix(frame: pl.DataFrame, model: FittedModel, plan: ScorePlan,
                 source: str) -> tuple[np.ndarray, list[str]]:
    """The matrix ``model`` scores, from the file's columns, checked against what it was fitted on.

    A model fitted on named columns (objects over HTTP, or a dataset) takes them by name. A
    model fitted on plain lists takes ``columns`` in order, or every numeric column that is
    not kept or the group column, and the count must match its width.
    """
    encoder = model.encoder
    if encoder is not None:
        names = [c.name for c in encoder.columns]
        if plan.columns is not None and list(plan.columns) != names:
            raise InvalidInput(
                f"{source}: 'columns' names {plan.columns}, but model {model.info.name!r} was "
                f"fitted on the columns {names}; leave 'columns' out to use them")
        return encoder_matrix(frame, encoder, source), names
    width = model.info.input_dim
    if plan.columns is not None:
        columns = choose_columns(frame, plan.columns, source)
    else:
        exclude = [*(plan.keep or []), *([plan.group_by] if plan.group_by else [])]
        columns = numeric_columns(frame, exclude)
    if len(columns) != width:
        raise InvalidInput(
            f"{source}: width mismatch: model {model.info.name!r} takes {width} features, "
            f"{'columns names' if plan.columns else 'the file has'} {len(columns)} "
            f"({', '.join(columns) or 'none'}); name the {width} feature columns with 'columns' "
            "(and ids or timestamps with 'keep')")
    return feature_matrix(frame, columns, source), columns


def _rows_by_group(keys: pl.Series) -> list[tuple[str, np.ndarray]]:
    """Row indices of each group, groups in sorted order (nulls are the group ``"null"``)."""
    indexed = pl.DataFrame({"g": keys.fill_null("null"), "i": np.arange(len(keys))})
    grouped = indexed.group_by("g").agg(pl.col("i")).sort("g")
    return [(g, np.asarray(i, dtype=np.int64)) for g, i in grouped.iter_rows()]


def _require(frame: pl.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.schema]
    if missing:
        raise InvalidInput(f"{source} has no column(s) {', '.join(map(repr, missing))}; "
                           f"columns are: {', '.join(frame.columns)}")


# -- fitting per group ---------------------------------------------------------------------------


def split_partition(context: JobContext, plan: FitPlan,
                    part: Partition) -> tuple[SplitStats, list[tuple[str, pl.DataFrame]]]:
    """Reads one file and cuts its rows into ``plan.buckets`` pieces by a stable hash of the
    group, so every row of a group meets the others in one bucket task."""
    started = time.perf_counter()
    rt = runtime(context)
    if rt.cancelled(context.job_id):
        return SplitStats(index=part.index, skipped=True), [(part.uri, pl.DataFrame())] * plan.buckets
    shape = measure(part, rt.bucket)  # memory admission, before the file is read
    width = shape.width(plan.columns, [plan.group_by] if plan.group_by else [])
    check(split_estimate(shape, width), task_limit(rt.settings), part.uri,
          f"splitting {shape.rows_text()} × {width:,} features by group",
          "split the file into smaller ones")
    frame = read_partition(part, rt.bucket)
    if plan.group_by is not None:
        _require(frame, [plan.group_by], part.uri)
        nulls = frame[plan.group_by].null_count()
        if nulls:
            raise InvalidInput(f"{part.uri}: column {plan.group_by!r} has {nulls} empty value(s); "
                               "every row needs its group")
    if plan.columns is not None:
        columns = choose_columns(frame, plan.columns, part.uri)
    else:
        columns = sorted(numeric_columns(frame, [plan.group_by] if plan.group_by else []))
        if not columns:
            raise InvalidInput(f"{part.uri} has no numeric columns besides the group column "
                               f"(columns: {', '.join(frame.columns)})")
    X = feature_matrix(frame, columns, part.uri)
    keys = (frame[plan.group_by].cast(pl.String) if plan.group_by is not None
            else pl.Series([ALL_ROWS] * frame.height, dtype=pl.String))
    data = pl.from_numpy(X, schema=columns).with_columns(keys.alias(GROUP))
    counts = keys.alias("g").value_counts(name="rows").sort("g")
    groups: list[str] = counts["g"].to_list()
    sizes: list[int] = counts["rows"].to_list()
    buckets = data.with_columns(pl.col(GROUP).replace_strict(
        {g: bucket_of(g, plan.buckets) for g in groups}, return_dtype=pl.Int64).alias("__bucket"))
    pieces: list[tuple[str, pl.DataFrame]] = [(part.uri, data.clear())] * plan.buckets
    for (b,), piece in buckets.partition_by("__bucket", as_dict=True).items():
        pieces[int(b)] = (part.uri, piece.drop("__bucket"))  # type: ignore[arg-type]
    stats = SplitStats(index=part.index, rows=frame.height, groups=groups, group_rows=sizes,
                       features=len(columns), seconds=round(time.perf_counter() - started, 4))
    return stats, pieces


def admit_groups(context: JobContext, plan: FitPlan, *splits: SplitStats) -> GroupsAdmitted:
    """Checks every group's fit against the task memory limit before any group is fitted.

    Runs once, on the splits' counts, and every bucket task waits for it: a group too large
    for a worker fails the job before the first model is stored, so a fit_groups job never
    leaves half its group models refitted (each bucket checks its groups again, on the rows it
    received, in case its worker has less memory than this one).

    Raises:
        TooLarge: Naming the largest group over the limit, its estimate and the limit.
    """
    rt = runtime(context)
    if rt.cancelled(context.job_id) or any(s.skipped for s in splits):
        return GroupsAdmitted()
    totals: dict[str, int] = {}
    for split in splits:
        for group, rows in zip(split.groups, split.group_rows, strict=True):
            totals[group] = totals.get(group, 0) + rows
    width = max((s.features for s in splits), default=1)
    held = [0] * plan.buckets
    for group, rows in totals.items():
        held[bucket_of(group, plan.buckets)] += piece_bytes(group, rows, width)
    spec = rt.spec(plan.backend)
    params = spec.parse_params(params_for(rt.settings, spec.id, plan.params))
    limit = task_limit(rt.settings)
    largest = 0
    for group, rows in sorted(totals.items(), key=lambda gr: (-gr[1], gr[0])):
        largest = max(largest, _admit_fit(spec, params, plan, group, rows, width,
                                          held[bucket_of(group, plan.buckets)], limit))
    return GroupsAdmitted(groups=len(totals), largest=largest)


def _admit_fit(spec: DetectorSpec, params: Any, plan: FitPlan, group: str, rows: int, width: int,
               bucket_bytes: int, limit: TaskLimit) -> int:
    """Refuses fitting ``group`` over the limit; returns its estimate in bytes.

    Raises:
        TooLarge: Naming the group (the whole input without ``group_by``).
    """
    estimate = group_fit_estimate(spec, params, rows, width, bucket_bytes, plan.store)
    if plan.group_by is None:
        subject, advice = "the input", "fit one model per group (group_by) or choose a lighter backend"
    else:
        subject = f"group {plan.group_by} = {group!r}"
        advice = "group by a finer column or choose a lighter backend"
    storing = " and storing its model" if plan.store else ""
    check(estimate, limit, subject,
          f"fitting {rows:,} rows × {width:,} features with backend {spec.id!r}{storing}", advice)
    return estimate.total


def fit_bucket(context: JobContext, plan: FitPlan, bucket: int, admitted: GroupsAdmitted,
               *pieces: tuple[str, pl.DataFrame]) -> tuple[BucketStats, dict[str, FittedModel]]:
    """Fits one model per group in this bucket: stored (fit_groups) or returned (detect).

    A group the backend cannot fit (too few rows, constant data...) is reported in
    ``failed`` with the backend's reason and the others go on. ``admitted`` is
    :func:`admit_groups`' result: the task runs only once every group was admitted.
    """
    started = time.perf_counter()
    rt = runtime(context)
    if rt.cancelled(context.job_id):
        return BucketStats(bucket=bucket, skipped=True), {}
    frames = [(uri, frame) for uri, frame in pieces if frame.height]
    if not frames:
        return BucketStats(bucket=bucket), {}
    first_uri, first = frames[0]
    for uri, frame in frames[1:]:
        if frame.columns != first.columns:
            raise InvalidInput(
                f"{uri} has the feature columns {_features(frame)} but {first_uri} has "
                f"{_features(first)}; every file of a job needs the same ones")
    data = pl.concat([f for _, f in frames], rechunk=False)
    features = _features(first)
    encoder = RowEncoder(tuple(Column(name, "numeric") for name in features))
    spec = rt.spec(plan.backend)
    params = params_for(rt.settings, spec.id, plan.params)
    parsed = spec.parse_params(params)
    plugin = rt.plugins.detectors.entry(spec.id).plugin  # type: ignore[union-attr]
    models: dict[str, FittedModel] = {}
    failed: list[tuple[str, str]] = []
    fitted_count = 0
    limit = task_limit(rt.settings)
    groups = sorted(data.partition_by(GROUP, as_dict=True).items())
    held = sum(piece_bytes(str(g), rows.height, len(features)) for (g,), rows in groups)
    for (group,), rows in groups:
        _admit_fit(spec, parsed, plan, str(group), rows.height, len(features), held, limit)
        X = rows.select(features).to_numpy()
        name = group_model_name(plan.model, str(group), plan.name_limit) if plan.store else plan.model
        try:
            fitted = train(spec, X, name=name, contamination=plan.contamination,
                           normalization=plan.normalization, params=params, encoder=encoder,
                           description=_description(plan, str(group)), plugin=plugin)
        except InvalidInput as exc:
            failed.append((str(group), exc.detail))
            continue
        if plan.store:
            rt.save(fitted)
        else:
            models[str(group)] = fitted
        fitted_count += 1
    stats = BucketStats(bucket=bucket, rows=data.height, groups=fitted_count, failed=failed,
                        seconds=round(time.perf_counter() - started, 4))
    return stats, models


def _features(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != GROUP]


def _description(plan: FitPlan, group: str) -> str | None:
    if not plan.store:
        return None
    return f"{plan.group_by} = {group} (fit_groups job {plan.job_id})"


def first(pair: tuple[Any, Any]) -> Any:
    """The stats half of a task's result (fetched by the client without the data)."""
    return pair[0]


def piece(split: tuple[SplitStats, list[tuple[str, pl.DataFrame]]], bucket: int) -> tuple[str, pl.DataFrame]:
    """One bucket's share of a split file."""
    return split[1][bucket]
