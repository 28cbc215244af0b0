"""Dashboard benchmark: what the live feed costs the stream route.

``python -m benchmarks ui [--quick]``

1. In-process: one ``LiveFeed.publish`` per request, for a single point and for a 1,000-point
   burst, with the dashboard off (counting only), on with nobody watching, and on with a
   watcher; beside the streaming detector's own work on the same points as the reference.
2. HTTP: single-point ``POST /stream`` requests/s on two servers side by side, dashboard on
   (the default) and off (``ANOMD_UI=off``), in alternating rounds so machine load hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.common import describe_machine, machine_info

ROUNDS = 3


def _per_call_us(fn: Any, n: int) -> float:
    fn()  # first call allocates
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def in_process(n: int) -> list[dict[str, Any]]:
    from anomd.streaming import StreamingAnomalyDetector
    from anomd.ui.live import LiveFeed

    rng = np.random.default_rng(0)
    detector = StreamingAnomalyDetector("bench", min_samples=50)
    warm = [{"a": float(a), "b": float(b), "c": float(c)} for a, b, c in rng.normal(size=(200, 3))]
    detector.process_many(warm)
    point = {"a": 0.1, "b": -0.2, "c": 0.3}
    result = detector.process(point)
    burst = [{"a": float(a), "b": float(b), "c": float(c)} for a, b, c in rng.normal(size=(1000, 3))]
    outcome = detector.process_many(burst)

    rows = [{"case": "reference: detector tick, one point (ecod, 3 columns)",
             "us": _per_call_us(lambda: detector.process(point), n)},
            {"case": "reference: detector, a 1,000-point burst (retrains included)",
             "us": _per_call_us(lambda: detector.process_many(burst), max(1, n // 200))}]
    for label, feed in (("dashboard off (counts only)", LiveFeed(keep=False)),
                        ("dashboard on, nobody watching", LiveFeed())):
        rows.append({"case": f"publish one point, {label}",
                     "us": _per_call_us(lambda f=feed: f.publish("s", [point], result), n)})
        rows.append({"case": f"publish a 1,000-point burst, {label}",
                     "us": _per_call_us(lambda f=feed: f.publish("s", burst, outcome), max(1, n // 200))})

    async def watched() -> float:
        feed = LiveFeed()
        with feed.watch("s") as watcher:
            us = _per_call_us(lambda: feed.publish("s", [point], result), n)
            feed.read(watcher)
        return us

    rows.append({"case": "publish one point, dashboard on, one watcher", "us": asyncio.run(watched())})
    return rows


def http(seconds: float) -> list[dict[str, Any]]:
    from anomd.testing import start_server
    from benchmarks.common import KeepAliveClient
    from benchmarks.streaming import _get, _python_load, points_of

    servers = {}
    try:
        for ui in ("on", "off"):
            server = start_server(tempfile.mkdtemp(prefix=f"anomd-ui-bench-{ui}-"),
                                  env={"ANOMD_WARM_UP": "true", "ANOMD_UI": ui})
            rng = np.random.default_rng(4)
            warm = json.dumps({"model_id": "http-single", "data": points_of(rng.normal(size=(1000, 3)))})
            KeepAliveClient(server.url).post("/v1/ml/anomaly/stream", warm.encode())
            servers[ui] = server
        for server in servers.values():
            deadline = time.monotonic() + 300
            while not json.loads(_get(server.url + "/health")).get("warmed_up") and time.monotonic() < deadline:
                time.sleep(1)
        rng = np.random.default_rng(5)
        bodies = [json.dumps({"model_id": "http-single", "data": p}).encode()
                  for p in points_of(rng.normal(size=(5000, 3)))]
        rates: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(ROUNDS):
            for ui, server in servers.items():
                rps, errors = _python_load(server.url, bodies, threads=4, seconds=seconds)
                assert errors == 0, f"{errors} failed requests"
                rates[ui].append(rps)
    finally:
        for server in servers.values():
            server.stop()
    return [{"dashboard": ui, "requests_per_s_median": statistics.median(r), "rounds": r}
            for ui, r in rates.items()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, shorter HTTP rounds")
    parser.add_argument("--skip-http", action="store_true", help="in-process figures only")
    args = parser.parse_args(argv)
    info = machine_info()
    print(f"# Dashboard live feed: {describe_machine(info)}\n")
    print("## 1. In-process, µs per call")
    for row in in_process(2_000 if args.quick else 20_000):
        print(f"  {row['us']:9.2f} µs  {row['case']}")
    if not args.skip_http:
        seconds = 3.0 if args.quick else 6.0
        print(f"\n## 2. HTTP, single-point POST /stream, 4 keep-alive Python threads, {ROUNDS} "
              f"alternating rounds of {seconds:g} s")
        rows = http(seconds)
        for row in rows:
            rounds = ", ".join(f"{r:.0f}" for r in row["rounds"])
            print(f"  dashboard {row['dashboard']:3s}: {row['requests_per_s_median']:7.0f} req/s median ({rounds})")
        on, off = (r["requests_per_s_median"] for r in rows)
        print(f"  on / off: {on / off:.3f}")
    load = machine_info()["load_average_1_5_15"]
    print(f"\nload average at the end: {load}")
    return 0
