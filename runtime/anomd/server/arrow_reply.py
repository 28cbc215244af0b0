"""Replies to ``/score`` and ``/detect`` as Arrow tables, for clients that ask for them.

A client that sends ``Accept: application/vnd.apache.arrow.stream`` (preferred over JSON, or
alone) gets the rows of the JSON reply's ``data`` as an Arrow IPC stream: columns ``index``
(int64), ``raw_score`` and ``score`` (float64), ``is_anomaly`` (bool) and, with
``explain``, ``cause`` (the feature the explanation names) and ``explanation`` (the
contributions as JSON text), both null for rows not explained. Everything else the JSON
reply says (model, backend, summary, warnings) is in the ``Anomd-Summary`` header as one JSON
object, ASCII only. The values are the JSON reply's, bit for bit: the same Scores fill both.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import numpy as np
from litestar import Request, Response

from anomd.arrow import ARROW_STREAM, write_stream
from anomd.explain import Explanation
from anomd.model import Scores

SUMMARY_HEADER = "anomd-summary"
_JSON_TYPES = ("application/json", "application/*", "*/*")


def wants_arrow(request: Request) -> bool:
    """Whether ``Accept`` prefers the Arrow stream to JSON (ties go to the one listed first)."""
    header = request.headers.get("accept")
    if not header or ARROW_STREAM not in header.lower():
        return False
    best: tuple[float, int, bool] | None = None
    for position, item in enumerate(header.split(",")):
        media, *parameters = (part.strip().lower() for part in item.split(";"))
        if media != ARROW_STREAM and media not in _JSON_TYPES:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        candidate = (quality, -position, media == ARROW_STREAM)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return bool(best and best[2])


def arrow_scores(
    scores: Scores, rows: np.ndarray, explanations: dict[int, Explanation], summary: msgspec.Struct
) -> Response[bytes]:
    """The Arrow reply for ``rows`` of ``scores`` (all rows for /score, flagged ones for /detect)."""
    import polars as pl

    columns: dict[str, Any] = {
        "index": pl.Series("index", rows, dtype=pl.Int64),
        "raw_score": pl.Series("raw_score", scores.raw[rows], dtype=pl.Float64),
        "score": pl.Series("score", scores.score[rows], dtype=pl.Float64),
        "is_anomaly": pl.Series("is_anomaly", scores.is_anomaly[rows], dtype=pl.Boolean),
    }
    if explanations:
        explained = [explanations.get(i) for i in rows.tolist()]
        causes = [e.cause if e is not None else None for e in explained]
        text = [json.dumps(e.contributions) if e is not None else None for e in explained]
        columns["cause"] = pl.Series("cause", causes, dtype=pl.String)
        columns["explanation"] = pl.Series("explanation", text, dtype=pl.String)
    header = msgspec.to_builtins(summary)
    header.pop("data", None)  # the table itself
    return Response(
        content=write_stream(pl.DataFrame(columns)),
        media_type=ARROW_STREAM,
        headers={SUMMARY_HEADER: json.dumps(header, ensure_ascii=True)},
    )
