"""Prometheus text exposition (format 0.0.4) of everything the server counts.

Counters and histograms come from :mod:`anomd.metrics`; gauges (live detectors, cached models,
requests in flight) are read at scrape time. Each server process reports its own numbers, so
with ``--workers N`` scrape every process or sum them (docs/operations.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from anomd.metrics import Counter, Histogram
from anomd.server.state import AppState
from anomd.streaming.totals import TOTALS
from anomd.versions import anomd_version

#: Litestar appends "; charset=utf-8" to text types itself.
CONTENT_TYPE = "text/plain; version=0.0.4"


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if value != int(value) else str(int(value))


def _counter(metric: Counter) -> Iterable[str]:
    yield f"# HELP {metric.name} {metric.help}"
    yield f"# TYPE {metric.name} counter"
    for values, value in metric.samples():
        yield f"{metric.name}{_labels(metric.labels, values)} {_number(value)}"


def _histogram(metric: Histogram) -> Iterable[str]:
    yield f"# HELP {metric.name} {metric.help}"
    yield f"# TYPE {metric.name} histogram"
    for values, cumulative, count, total in metric.samples():
        for bound, running in zip(metric.buckets, cumulative, strict=True):
            le = f'le="{_number(bound)}"'
            yield f"{metric.name}_bucket{_labels(metric.labels, values, le)} {_number(running)}"
        inf = 'le="+Inf"'
        yield f"{metric.name}_bucket{_labels(metric.labels, values, inf)} {_number(count)}"
        yield f"{metric.name}_sum{_labels(metric.labels, values)} {_number(total)}"
        yield f"{metric.name}_count{_labels(metric.labels, values)} {_number(count)}"


def _single(name: str, kind: str, help: str, value: float, labels: str = "") -> Iterable[str]:
    yield f"# HELP {name} {help}"
    yield f"# TYPE {name} {kind}"
    yield f"{name}{labels} {_number(value)}"


def render(state: AppState) -> str:
    """The whole exposition, one metric family after another."""
    lines: list[str] = []
    service = state.service
    for metric in (*state.http.all(), *service.metrics.all()):
        lines.extend(_counter(metric) if isinstance(metric, Counter) else _histogram(metric))
    store = service.models
    lines.extend(_single("anomd_http_requests_in_flight", "gauge",
                         "HTTP requests being answered now.", state.http.in_flight))
    lines.extend(_single("anomd_model_cache_models", "gauge", "Decoded models kept in memory.",
                         store.cached()))
    lines.extend(_single("anomd_model_cache_hits_total", "counter",
                         "Model lookups answered from memory.", store.cache_hits))
    lines.extend(_single("anomd_model_cache_misses_total", "counter",
                         "Model lookups that read and verified the stored artifact.",
                         store.cache_misses))
    streams = state.streams
    if streams is not None:
        lines.extend(_single("anomd_stream_detectors_live", "gauge",
                             "Streaming detectors in memory.", len(streams)))
        lines.extend(_single("anomd_stream_checkpoints_total", "counter",
                             "Streaming checkpoints written to storage.", streams.checkpoints))
        lines.extend(_single("anomd_stream_evictions_total", "counter",
                             "Streaming detectors moved out of memory (idle or over the limit).",
                             streams.evictions))
        lines.extend(_single("anomd_stream_restores_total", "counter",
                             "Streaming detectors brought back from a checkpoint.", streams.restores))
    lines.extend(_single("anomd_stream_points_total", "counter",
                         "Points received by streaming detectors.", TOTALS.points))
    lines.extend(_single("anomd_stream_points_scored_total", "counter",
                         "Streaming points scored (received after the cold start).",
                         state.live.scored))
    lines.extend(_single("anomd_stream_points_flagged_total", "counter",
                         "Streaming points flagged anomalous.", state.live.flagged))
    lines.extend(_single("anomd_stream_retrains_total", "counter",
                         "Streaming retrains that finished and were swapped in.", TOTALS.retrains))
    lines.extend(_single("anomd_stream_retrain_failures_total", "counter",
                         "Streaming retrains that failed (the previous model kept scoring).",
                         TOTALS.retrain_failures))
    version = f'version="{_escape(anomd_version())}"'
    lines.extend(_single("anomd_build_info", "gauge", "The running anomd version.", 1,
                         "{" + version + "}"))
    lines.extend(_single("anomd_process_start_time_seconds", "gauge",
                         "When this server process started (Unix time).", state.started))
    return "\n".join(lines) + "\n"
