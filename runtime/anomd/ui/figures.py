"""What the dashboard shows about the server and its streams, from what the process counts.

The same numbers ``GET /metrics`` exposes, read directly (no text exposition to parse in the
browser), plus per-stream facts only the live feed knows (the last anomaly, who is watching).
"""

from __future__ import annotations

from typing import Any

import msgspec

from anomd.metrics import Histogram
from anomd.server.state import AppState
from anomd.streaming.totals import TOTALS
from anomd.versions import anomd_version

#: Routes left out of the latency figures: a live chart's event stream lasts as long as the
#: page is open, which says nothing about how fast the API answers.
UI_PREFIX = "/ui"


def latency_quantile(histogram: Histogram, q: float) -> float | None:
    """Upper bound (seconds) of the bucket holding the ``q`` quantile, over every API route.

    Prometheus' ``histogram_quantile`` interpolates inside the bucket; here the bound itself
    is shown ("p95 ≤ 25 ms"), which is what a bucketed histogram can honestly say.
    """
    totals = [0.0] * len(histogram.buckets)
    count = 0.0
    for labels, cumulative, n, _ in histogram.samples():
        if labels[-1].startswith(UI_PREFIX):
            continue
        totals = [a + b for a, b in zip(totals, cumulative, strict=True)]
        count += n
    if not count:
        return None
    for bound, running in zip(histogram.buckets, totals, strict=True):
        if running >= q * count:
            return bound
    return float("inf")


def key_figures(state: AppState) -> dict[str, Any]:
    """Counts since the process started, and gauges read now."""
    service, http, live = state.service, state.http, state.live
    metrics = service.metrics
    server_errors = sum(v for labels, v in http.errors.samples() if labels[-1].startswith("5"))
    p95 = latency_quantile(http.seconds, 0.95)
    p50 = latency_quantile(http.seconds, 0.50)
    return {
        "version": anomd_version(),
        "started": state.started,
        "requests": http.requests.total(),
        "errors": http.errors.total(),
        "server_errors": server_errors,
        "in_flight": http.in_flight,
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "fits": metrics.fits.total(),
        "fit_failures": metrics.fit_failures.total(),
        "scored_rows": metrics.scored_rows.total() + metrics.detected_rows.total(),
        "models_cached": service.models.cached(),
        "stream_points": TOTALS.points,
        "stream_points_scored": live.scored,
        "stream_points_flagged": live.flagged,
        "flagged_share": live.flagged / live.scored if live.scored else None,
        "retrains": TOTALS.retrains,
        "retrain_failures": TOTALS.retrain_failures,
        "streams_live": len(state.streams) if state.streams is not None else 0,
    }


#: The fields of a stream row the dashboard lists (``GET /stream/detectors`` has many more).
STREAM_FIELDS = ("model_id", "live", "status", "backend", "total_processed", "points_scored",
                 "anomalies_detected", "anomaly_rate", "model_version", "threshold", "columns",
                 "error")


def stream_rows(state: AppState) -> list[dict[str, Any]]:
    """Every stream (live and checkpointed) with the dashboard's extra facts; blocking I/O."""
    assert state.streams is not None
    rows = []
    for stats in state.streams.list():
        known = msgspec.to_builtins(stats)
        row = {name: known.get(name) for name in STREAM_FIELDS}
        last = state.live.last_anomaly(row["model_id"])
        row["last_anomaly_seq"], row["last_anomaly_at"] = last if last else (None, None)
        row["watchers"] = state.live.watchers(row["model_id"])
        rows.append(row)
    return rows
