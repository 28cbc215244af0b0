"""Cold start: the first request per backend on a fresh server, with and without warm-up.

``python -m benchmarks coldstart [--backends a,b] [--rows 1000]``

Starts a server with ``warm_up`` off, and one with it on (waiting until ``/health`` reports
``warmed_up``, and timing that), then sends each backend its first ``/fit`` (``--rows`` × 16)
followed by a one-row ``/score``, and a second ``/fit`` for comparison. What the warm-up is for
is visible as the difference between the first and the second fit on the cold server.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import msgspec

from benchmarks.common import (
    BACKENDS,
    KeepAliveClient,
    command_line,
    describe_machine,
    fmt_ms,
    machine_info,
    print_table,
    synthetic_matrix,
    write_json,
)

RESULT_NAME = "coldstart"
#: Small settings for the slow backends, so the figure is about first-use cost, not training.
LIGHT_PARAMS: dict[str, dict[str, Any]] = {"autoencoder": {"epochs": 2}}


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/health", timeout=5) as response:
        return json.loads(response.read())


def first_requests(server: Any, backends: Sequence[str], rows: int) -> dict[str, dict[str, float]]:
    X = synthetic_matrix(rows, 16, seed=1).tolist()
    out = {}
    with KeepAliveClient(server.api) as client:
        for backend in backends:
            fit = msgspec.json.encode({"model": "cold", "backend": backend, "data": X, "params": LIGHT_PARAMS.get(backend, {})})
            score = msgspec.json.encode({"model": "cold", "backend": backend, "data": X[:1]})
            timings = {}
            for label, body, path in (("first_fit_ms", fit, "/fit"), ("first_score_ms", score, "/score"), ("second_fit_ms", fit, "/fit")):
                started = time.perf_counter()
                status, reply = client.post(path, body)
                timings[label] = (time.perf_counter() - started) * 1000
                if status != 200:
                    timings[label] = float("nan")
                    timings["error"] = reply[:200].decode(errors="replace")  # type: ignore[assignment]
            out[backend] = timings
            print(f"{backend:22s} " + "  ".join(f"{k} {fmt_ms(v) if isinstance(v, float) else v}" for k, v in timings.items()), flush=True)
    return out


def main(argv: Sequence[str]) -> int:
    from anomd.testing import start_server

    p = argparse.ArgumentParser(prog="python -m benchmarks coldstart", description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", help="comma-separated (default: all 12)")
    p.add_argument("--rows", type=int, default=1000, help="rows per /fit (default 1000)")
    p.add_argument("--quick", action="store_true", help="ecod, hbos, cblof, isolation_forest only")
    args = p.parse_args(argv)
    backends = args.backends.split(",") if args.backends else (
        ["ecod", "hbos", "cblof", "isolation_forest"] if args.quick else list(BACKENDS)
    )
    machine = machine_info()
    result: dict[str, Any] = {"rows": args.rows, "backends": backends, "command": command_line("coldstart", argv)}
    for mode in ("off", "on"):
        print(f"\nwarm_up {mode}")
        started = time.perf_counter()
        server = start_server(tempfile.mkdtemp(prefix="anomd-bench-cold-"), env={"ANOMD_WARM_UP": "true" if mode == "on" else "false"})
        try:
            result[f"start_s_{mode}"] = time.perf_counter() - started
            if mode == "on":
                deadline = time.monotonic() + 300
                while not _health(server.url).get("warmed_up") and time.monotonic() < deadline:
                    time.sleep(0.2)
                result["warm_up_s"] = time.perf_counter() - started
                print(f"warmed up {result['warm_up_s']:.1f} s after start")
            result[f"warm_up_{mode}"] = first_requests(server, backends, args.rows)
        finally:
            server.stop()
    path = write_json(RESULT_NAME, result, machine)
    print_table(
        f"First requests on a fresh server, ms ({args.rows} × 16 rows per /fit) — {describe_machine(machine)}",
        ["backend", "1st fit (cold)", "1st score (cold)", "2nd fit (cold)", "1st fit (warmed)", "1st score (warmed)"],
        [[b, fmt_ms(result["warm_up_off"][b]["first_fit_ms"]), fmt_ms(result["warm_up_off"][b]["first_score_ms"]),
          fmt_ms(result["warm_up_off"][b]["second_fit_ms"]), fmt_ms(result["warm_up_on"][b]["first_fit_ms"]),
          fmt_ms(result["warm_up_on"][b]["first_score_ms"])] for b in backends],
        f"Warm-up finished {result.get('warm_up_s', float('nan')):.1f} s after the server process started "
        "(the server answers meanwhile; the warm-up runs on a worker thread).",
    )
    print(f"\nwrote {path}")
    return 0
