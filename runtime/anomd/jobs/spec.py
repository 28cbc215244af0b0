"""What a caller asks a job to do, and the checks that need nothing but the request itself.

The same Struct is the body of ``POST /v1/ml/anomaly/jobs`` and what ``anomd jobs score`` and
``anomd jobs fit-groups`` build from their flags, so both doors refuse the same mistakes with
the same words. Checks that need the data (does the input exist, does the model) happen when the
job runs and fail the job with the file or model named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from anomd.errors import InvalidInput
from anomd.names import check_name, check_new_name

Kind = Literal["score", "fit_groups", "detect"]
Unseen = Literal["null", "drop", "fail"]
Normalization = Literal["standardization", "zscore", "raw", "minmax"]

#: Columns every output file gets, after the kept ones.
RESULT_COLUMNS = ("score", "is_anomaly", "raw_score")

_Columns = Annotated[list[Annotated[str, msgspec.Meta(min_length=1)]], msgspec.Meta(min_length=1)]


class JobRequest(msgspec.Struct, kw_only=True, omit_defaults=False):
    kind: Annotated[Kind, msgspec.Meta(description=(
        "`score`: score the input with a stored model; `fit_groups`: fit and store one model per "
        "value of `group_by`; `detect`: fit on the input (per group with `group_by`) and score "
        "it, storing no model."))]
    input: Annotated[str, msgspec.Meta(min_length=1, description=(
        "Parquet or CSV files: a file, a folder (the files directly in it) or a glob (`**` "
        "descends), local or `s3://bucket/prefix`."))]
    output: Annotated[str | None, msgspec.Meta(description=(
        "score and detect: the folder (local or `s3://`) that receives one Parquet file per "
        "input file."))] = None
    model: Annotated[str | None, msgspec.Meta(description=(
        "score: the stored model; fit_groups: the name the group models share "
        "(`<model>.<group>`)."))] = None
    backend: Annotated[str | None, msgspec.Meta(description=(
        "Detector id; default: the server's default_backend."))] = None
    keep: Annotated[list[str] | None, msgspec.Meta(description=(
        "Input columns copied to the output before the results; default: every column that is "
        "not a feature."))] = None
    columns: Annotated[_Columns | None, msgspec.Meta(description=(
        "Feature columns in order; default: the model's own columns (score), else every numeric "
        "column that is not `group_by` or kept."))] = None
    group_by: Annotated[str | None, msgspec.Meta(description=(
        "The entity column: one model per value (fit_groups, detect); score routes each row to "
        "its group's model."))] = None
    params: Annotated[dict[str, Any], msgspec.Meta(description=(
        "fit_groups and detect: the backend's hyper-parameters."))] = msgspec.field(
            default_factory=dict)
    contamination: Annotated[float, msgspec.Meta(gt=0, le=0.5, description=(
        "fit_groups and detect: the expected share of anomalies."))] = 0.1
    normalization: Annotated[Normalization | None, msgspec.Meta(description=(
        "Score scale; default: the model's (score), standardization (fit_groups, detect)."))] = None
    threshold: Annotated[float | None, msgspec.Meta(description=(
        "score and detect: decision threshold on the `score` scale; default: learned."))] = None
    unseen: Annotated[Unseen, msgspec.Meta(description=(
        "score with group_by, rows of a group that has no model: `null` scores, `drop` the "
        "rows, or `fail` the job."))] = "null"


def check_request(req: JobRequest, max_name_length: int = 128) -> JobRequest:
    """Refuses requests that cannot work whatever the data, naming the field.

    Raises:
        InvalidInput: A missing or contradictory field.
    """
    def need(field: str, why: str) -> None:
        if getattr(req, field) in (None, ""):
            raise InvalidInput(f"{req.kind} jobs need {field!r} ({why})")

    def refuse(field: str, why: str) -> None:
        if getattr(req, field) is not None:
            raise InvalidInput(f"{field!r} does not apply to {req.kind} jobs ({why})")

    if req.kind == "score":
        need("model", "the stored model to score with")
        need("output", "where the scored files go")
        check_name(req.model or "")
        if req.params:
            raise InvalidInput("'params' does not apply to score jobs (the stored model has its own)")
    elif req.kind == "fit_groups":
        need("model", "the name the group models share")
        need("group_by", "the column whose values are the entities")
        refuse("output", "it stores models, not a dataset")
        refuse("threshold", "thresholds are learned from contamination")
        check_new_name(req.model or "", max_name_length)
    else:
        need("output", "where the scored files go")
        refuse("model", "detect stores no model")
    if req.group_by is None and req.unseen != "null":
        raise InvalidInput("'unseen' applies only with 'group_by'")
    for field in ("keep", "columns"):
        names = getattr(req, field) or []
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(f"{field!r} names {', '.join(map(repr, twice))} more than once")
    clash = [c for c in (req.keep or []) if c in RESULT_COLUMNS]
    if clash:
        raise InvalidInput(
            f"'keep' names {', '.join(map(repr, clash))}, which the job writes itself; "
            "rename the input column"
        )
    if req.group_by is not None and req.group_by in (req.columns or []):
        raise InvalidInput(f"'group_by' column {req.group_by!r} cannot also be a feature in 'columns'")
    return req
