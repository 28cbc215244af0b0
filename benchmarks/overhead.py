"""Service overhead: ``/score`` of 10k rows over HTTP against the same call in-process.

``python -m benchmarks overhead [--rows 10000] [--backends ecod,isolation_forest] [--repeat 21]
[--client-rows 100000] [--client-features 20]``

A model is fitted on ``--rows`` × 16 synthetic rows and stored; then the same ``--rows`` new
rows are scored

- **in-process**: ``AnomalyService.score(rows)`` with the rows as Python lists (what a Python
  caller holding the same JSON-shaped data calls), and with a numpy array (reported too);
- **over HTTP**: ``POST /v1/ml/anomaly/score`` to a real server process on 127.0.0.1, the
  request body encoded once beforehand (a client's encoding cost is its own), timed until the
  whole response has arrived; decoding the response on the client is reported separately.

The same rows are also sent as an **Arrow IPC stream** (``Content-Type:
application/vnd.apache.arrow.stream``, the other fields as query parameters), with a JSON reply
and with an Arrow reply (``Accept``), side by side with the JSON body in the same run. The
in-process and HTTP calls are timed in the same rounds, one of each per round in rotating
order, so that a ratio does not also measure the machine drifting between two figures.

Targets: JSON HTTP ≤ 1.3 × in-process (list rows); Arrow body ≤ 1.15 × in-process (NumPy, the
fastest in-process input), and its Arrow reply as fast. Then ``anomd.Client.score(frame)`` of
``--client-rows`` × ``--client-features`` (a Polars frame, Arrow both ways: encoding, HTTP,
decoding into arrays included) against ``AnomalyService.score(frame)``: target ≤ 1.2 ×.

To show where the difference goes, the server's per-request stages of the JSON body are
replayed in-process on the same body and timed one by one:
body decoding (one strict pass into the request Struct; a body with unknown top-level fields
is scanned a second time to name them, which the benchmark's body does not need), rows to a
matrix, scoring, building the response objects, and encoding the response JSON.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from benchmarks.common import (
    KeepAliveClient,
    command_line,
    describe_machine,
    fmt_ms,
    machine_info,
    plugin_host,
    print_table,
    report_saved,
    synthetic_matrix,
    write_json,
)

RESULT_NAME = "overhead"
RATIO_TARGET = 1.3
ARROW_TARGET = 1.15
CLIENT_TARGET = 1.2
N_FEATURES = 16
ARROW = "application/vnd.apache.arrow.stream"


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median ms of ``fn`` after one warming call (a round of one)."""
    return interleaved_ms({"call": fn}, repeat)["call"]


def interleaved_ms(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median ms of each call, timed round-robin: one of each per round, the order rotated.

    A ratio of two figures taken minutes apart also measures how the machine drifted in
    between (another process, a frequency step); taking them in the same rounds cancels that,
    so the HTTP ÷ in-process ratios compare like with like.
    """
    names = list(calls)
    for fn in calls.values():
        fn()  # warm: model load, caches, first allocation
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000.0 for name, values in times.items()}


def server_stages(service: Any, body: bytes, model: str, backend: str, repeat: int) -> dict[str, float]:
    """The server's work for one ``/score`` request, stage by stage (median ms each)."""
    from anomd.server.body import _closed
    from anomd.server.responses import score_response
    from anomd.server.schemas import ScoreRequest

    closed = _closed(ScoreRequest)
    request = msgspec.json.decode(body, type=closed, strict=True)
    fitted, _ = service.get_model(model, backend)
    X = fitted.matrix(request.data)
    scores = fitted.score_matrix(X)
    response = score_response(fitted, scores, {}, [])
    return {
        "decode body (strict, one pass)": median_ms(lambda: msgspec.json.decode(body, type=closed, strict=True), repeat),
        "rows -> matrix": median_ms(lambda: fitted.matrix(request.data), repeat),
        "score (detector + scaler)": median_ms(lambda: fitted.score_matrix(X), repeat),
        "build response objects": median_ms(lambda: score_response(fitted, scores, {}, []), repeat),
        "encode response JSON": median_ms(lambda: msgspec.json.encode(response), repeat),
    }


def arrow_stages(service: Any, body: bytes, model: str, backend: str, repeat: int) -> dict[str, float]:
    """The server's work for one ``/score`` with an Arrow body and an Arrow reply, by stage."""
    import numpy as np

    from anomd.arrow import checked_body
    from anomd.server.arrow_reply import arrow_scores
    from anomd.server.responses import score_response

    fitted, _ = service.get_model(model, backend)
    X = fitted.matrix(checked_body(body))
    scores = fitted.score_matrix(X)
    rows = np.arange(len(X))
    return {
        "check the stream's headers": median_ms(lambda: checked_body(body), repeat),
        "decode + table -> matrix": median_ms(lambda: fitted.matrix(checked_body(body)), repeat),
        "score (detector + scaler)": median_ms(lambda: fitted.score_matrix(X), repeat),
        "Arrow reply (summary + table)": median_ms(
            lambda: arrow_scores(scores, rows, {}, score_response(fitted, scores, {}, [], points=False)), repeat),
    }


def measure(backend: str, rows: int, repeat: int, server: Any, service: Any) -> dict[str, Any]:
    from anomd.model import train
    from anomd.names import model_filename

    X_train = synthetic_matrix(rows, N_FEATURES, seed=1)
    X_new = synthetic_matrix(rows, N_FEATURES, seed=2)
    name = f"overhead-{rows}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train(plugin_host().detectors.get(backend), X_train, name=name)
    service.models.save(model, model_filename(name, backend))
    lists = X_new.tolist()
    body = msgspec.json.encode({"model": name, "backend": backend, "data": lists})
    result: dict[str, Any] = {"backend": backend, "rows": rows, "request_bytes": len(body)}
    arrow_body = _arrow_body(X_new)
    query = f"/score?model={name}&backend={backend}"
    json_reply = {"Content-Type": ARROW, "Accept": "application/json"}
    arrow_reply = {"Content-Type": ARROW, "Accept": ARROW}
    with KeepAliveClient(server.api) as client:
        status, reply = client.post("/score", body)
        if status != 200:
            raise RuntimeError(f"/score answered {status}: {reply[:300]!r}")
        for headers in (json_reply, arrow_reply):
            status, reply_arrow = client.post(query, arrow_body, headers)
            if status != 200:
                raise RuntimeError(f"/score (Arrow) answered {status}: {reply_arrow[:300]!r}")
        result["response_bytes"] = len(reply)
        result["arrow_request_bytes"] = len(arrow_body)
        result["arrow_response_bytes"] = len(reply_arrow)
        result.update(interleaved_ms({
            "in_process_lists_ms": lambda: service.score(lists, model=name, backend=backend),
            "in_process_numpy_ms": lambda: service.score(X_new, model=name, backend=backend),
            "http_ms": lambda: client.post("/score", body),
            "http_arrow_ms": lambda: client.post(query, arrow_body, json_reply),
            "http_arrow_reply_ms": lambda: client.post(query, arrow_body, arrow_reply),
        }, repeat))
    result["client_encode_request_ms"] = median_ms(
        lambda: msgspec.json.encode({"model": name, "backend": backend, "data": lists}), repeat
    )
    result["client_decode_response_ms"] = median_ms(lambda: msgspec.json.decode(reply), repeat)
    result["ratio_vs_lists"] = result["http_ms"] / result["in_process_lists_ms"]
    result["ratio_vs_numpy"] = result["http_ms"] / result["in_process_numpy_ms"]
    result["arrow_ratio_vs_numpy"] = result["http_arrow_ms"] / result["in_process_numpy_ms"]
    result["arrow_reply_ratio_vs_numpy"] = result["http_arrow_reply_ms"] / result["in_process_numpy_ms"]
    result["server_stages_ms"] = server_stages(service, body, name, backend, repeat)
    result["arrow_stages_ms"] = arrow_stages(service, arrow_body, name, backend, repeat)
    return result


def _arrow_body(X: Any) -> bytes:
    """The rows as an Arrow stream with the positional names ``x0``... (the model was fitted
    on list rows, so its columns are known by position)."""
    import polars as pl

    from anomd.arrow import write_stream

    return write_stream(pl.DataFrame({f"x{i}": X[:, i] for i in range(X.shape[1])}))


def measure_client(backend: str, rows: int, features: int, repeat: int, server: Any, service: Any) -> dict[str, Any]:
    """``Client.score(frame)`` against ``AnomalyService.score(frame)`` on a named Polars frame."""
    import polars as pl

    import anomd

    X_train = synthetic_matrix(rows, features, seed=3)
    X_new = synthetic_matrix(rows, features, seed=4)
    names = [f"f{i}" for i in range(features)]
    train_frame = pl.DataFrame({n: X_train[:, i] for i, n in enumerate(names)})
    frame = pl.DataFrame({n: X_new[:, i] for i, n in enumerate(names)})
    name = f"client-{rows}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        service.fit(train_frame, model=name, backend=backend)
    result: dict[str, Any] = {"backend": backend, "rows": rows, "features": features}
    with anomd.Client(server.url) as client:
        reply = client.score(frame, model=name, backend=backend)
        _, local = service.score(frame, model=name, backend=backend)
        if not (reply.raw_score == local.raw).all():
            raise RuntimeError("the client's scores differ from the in-process ones")
        result.update(interleaved_ms({
            "in_process_ms": lambda: service.score(frame, model=name, backend=backend),
            "client_ms": lambda: client.score(frame, model=name, backend=backend),
        }, repeat))
    from anomd.client._wire import table_bytes

    result["client_encode_ms"] = median_ms(lambda: table_bytes(frame, None), repeat)
    result["ratio"] = result["client_ms"] / result["in_process_ms"]
    return result


def report(result: dict[str, Any]) -> None:
    rows = result["rows"]
    print_table(
        f"/score of {rows[0]['rows']:,} × {N_FEATURES} rows: HTTP vs in-process (median ms) — {describe_machine(result['machine'])}",
        ["backend", "in-proc (lists)", "in-proc (numpy)", "HTTP", "HTTP / lists", "HTTP / numpy",
         "request", "response", "client decode"],
        [[r["backend"], fmt_ms(r["in_process_lists_ms"]), fmt_ms(r["in_process_numpy_ms"]), fmt_ms(r["http_ms"]),
          f"{r['ratio_vs_lists']:.2f}×", f"{r['ratio_vs_numpy']:.2f}×", f"{r['request_bytes'] / 1e6:.1f} MB",
          f"{r['response_bytes'] / 1e6:.1f} MB", fmt_ms(r["client_decode_response_ms"])] for r in rows],
    )
    for r in rows:
        stages = r["server_stages_ms"]
        total = sum(stages.values())
        print_table(
            f"Server stages for {r['backend']} replayed in-process (sum {fmt_ms(total)} ms; HTTP adds socket, "
            f"ASGI, worker-thread hand-off and the access log)",
            ["stage", "ms", "share"],
            [[k, fmt_ms(v), f"{v / total:.0%}"] for k, v in stages.items()],
        )
    for r in rows:
        stages = r.get("arrow_stages_ms")
        if stages:
            print_table(
                f"Arrow stages for {r['backend']} replayed in-process (sum {fmt_ms(sum(stages.values()))} ms)",
                ["stage", "ms"], [[k, fmt_ms(v)] for k, v in stages.items()],
            )
    if rows and "http_arrow_ms" in rows[0]:
        print_table(
            f"/score of {rows[0]['rows']:,} × {N_FEATURES}: JSON vs Arrow bodies, same run (median ms)",
            ["backend", "in-proc (numpy)", "JSON", "Arrow body", "Arrow both ways", "JSON ÷ numpy",
             "Arrow ÷ numpy", "Arrow both ÷ numpy", "Arrow request", "Arrow reply"],
            [[r["backend"], fmt_ms(r["in_process_numpy_ms"]), fmt_ms(r["http_ms"]), fmt_ms(r["http_arrow_ms"]),
              fmt_ms(r["http_arrow_reply_ms"]), f"{r['ratio_vs_numpy']:.2f}×", f"{r['arrow_ratio_vs_numpy']:.2f}×",
              f"{r['arrow_reply_ratio_vs_numpy']:.2f}×", f"{r['arrow_request_bytes'] / 1e6:.1f} MB",
              f"{r['arrow_response_bytes'] / 1e6:.2f} MB"] for r in rows],
        )
    clients = result.get("client", [])
    if clients:
        print_table(
            f"anomd.Client.score(frame) of {clients[0]['rows']:,} × {clients[0]['features']} vs "
            "AnomalyService.score(frame) (median ms; Arrow both ways)",
            ["backend", "in-process", "Client", "Client ÷ in-process", "client-side encode"],
            [[c["backend"], fmt_ms(c["in_process_ms"]), fmt_ms(c["client_ms"]), f"{c['ratio']:.2f}×",
              fmt_ms(c["client_encode_ms"])] for c in clients],
        )
    print_table("Overhead targets", ["backend", "target", "value", "status"], _targets(result))


def _targets(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in result["rows"]:
        checks = [(f"HTTP <= {RATIO_TARGET}× in-process (lists)", r["ratio_vs_lists"], RATIO_TARGET)]
        if "http_arrow_ms" in r:
            checks += [(f"Arrow body <= {ARROW_TARGET}× in-process (numpy)", r["arrow_ratio_vs_numpy"], ARROW_TARGET),
                       (f"Arrow both ways <= {ARROW_TARGET}× in-process (numpy)", r["arrow_reply_ratio_vs_numpy"],
                        ARROW_TARGET)]
        out += [[r["backend"], text, f"{value:.2f}×", "MET" if value <= limit else "MISSED"]
                for text, value, limit in checks]
    for c in result.get("client", []):
        out.append([c["backend"], f"Client.score {c['rows']:,}×{c['features']} <= {CLIENT_TARGET}× in-process",
                    f"{c['ratio']:.2f}×", "MET" if c["ratio"] <= CLIENT_TARGET else "MISSED"])
    return out


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks overhead", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000, help="rows fitted and scored (default 10000)")
    p.add_argument("--backends", default="ecod,isolation_forest", help="comma-separated (default ecod,isolation_forest)")
    p.add_argument("--repeat", type=int, default=21, help="timed repetitions per figure (default 21)")
    p.add_argument("--client-rows", type=int, default=100_000, help="rows of the Client.score figure (0: skip)")
    p.add_argument("--client-features", type=int, default=20, help="columns of the Client.score figure")
    p.add_argument("--quick", action="store_true", help="5 repetitions")
    p.add_argument("--report-only", action="store_true", help="print the tables of the saved results")
    return p.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    from anomd.service import AnomalyService
    from anomd.settings import load_settings
    from anomd.testing import start_server

    args = parse_args(argv)
    if args.report_only:
        return report_saved(RESULT_NAME, report, "overhead")
    repeat = 5 if args.quick else args.repeat
    machine = machine_info()
    data_dir = tempfile.mkdtemp(prefix="anomd-bench-overhead-")
    server = start_server(data_dir)
    service = AnomalyService(load_settings(env={}, data_dir=data_dir))
    try:
        backends = args.backends.split(",")
        rows = [measure(b, args.rows, repeat, server, service) for b in backends]
        clients = [measure_client(b, args.client_rows, args.client_features, max(5, repeat // 3), server, service)
                   for b in backends] if args.client_rows else []
    finally:
        server.stop()
        service.close()
    result = {"rows": rows, "client": clients, "machine": machine, "command": command_line("overhead", argv)}
    path = write_json(RESULT_NAME, {**result, "targets": [
        {"backend": b, "target": t, "value": float(v.rstrip("×")), "status": st}
        for b, t, v, st in _targets(result)]}, machine)
    report(result)
    print(f"\nwrote {path}")
    return 0
