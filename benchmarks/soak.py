"""Soak: one real server under a steady mixed load for minutes, watched for growth.

``python -m benchmarks soak --minutes N`` starts ``anomd serve`` on 127.0.0.1, measures its
capacity for this mix (requests per second with one client sending back to back), then drives
the mix at a fixed share of that capacity (``--load``, 70 % by default): fits (that replace a
model), scores, detects, stream batches and single points, model listings, and fits of a
throwaway model followed by its delete. Every ``--window`` seconds it samples the server's
RSS, open file descriptors and threads (from /proc) and the p50/p99 latency of each route in
that window. The verdict compares the first window after the warm-up with the last one:

- 0 answers of 5xx;
- RSS growth after warm-up <= 10 %;
- p99 drift (last window's p99 over the first's, per route) <= 20 %.

Timings are noisy on a shared machine: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.common import KeepAliveClient, machine_info, print_table, write_json

API = "/v1/ml/anomaly"
#: The targets of the issue, checked in the verdict.
MAX_RSS_GROWTH = 0.10
MAX_P99_DRIFT = 0.20


def _proc(pid: int) -> dict[str, int]:
    """RSS (bytes), open file descriptors and threads of ``pid``, from /proc."""
    status = {}
    with open(f"/proc/{pid}/status") as lines:
        for line in lines:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    return {"rss": int(status["VmRSS"].split()[0]) * 1024, "threads": int(status["Threads"]),
            "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


class Mix:
    """The requests of the mix, in a fixed rotation (deterministic bodies: seeded data)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.train = json.dumps({"model": "soak", "backend": "ecod",
                                 "data": rng.normal(size=(500, 4)).round(4).tolist()}).encode()
        self.batch = json.dumps({"model": "soak", "data": rng.normal(size=(200, 4)).round(4).tolist(),
                                 "explain": True}).encode()
        self.detect = json.dumps({"backend": "hbos",
                                  "data": rng.normal(size=(1000, 4)).round(4).tolist()}).encode()
        self.points = rng.normal(size=(100_000, 2)).round(4)
        self.tick = 0
        self.throwaway = json.dumps({"model": "soak-tmp", "backend": "hbos",
                                     "data": rng.normal(size=(300, 3)).round(4).tolist()}).encode()

    def _stream(self, count: int) -> bytes:
        rows = self.points[self.tick % 90_000: self.tick % 90_000 + count]
        self.tick += count
        data = [{"temp": float(a), "load": float(b)} for a, b in rows]
        return json.dumps({"model_id": "soak-sensor", "data": data if count > 1 else data[0],
                           "window_size": 500, "min_samples": 100}).encode()

    def requests(self) -> list[tuple[str, str, Callable[[], bytes | None]]]:
        """(route label, method + path, body factory) in rotation order."""
        return [
            ("fit", "POST /fit", lambda: self.train),
            ("score", "POST /score", lambda: self.batch),
            ("stream point", "POST /stream", lambda: self._stream(1)),
            ("detect", "POST /detect", lambda: self.detect),
            ("stream batch", "POST /stream", lambda: self._stream(50)),
            ("models", "GET /models", lambda: None),
            ("score", "POST /score", lambda: self.batch),
            ("stream point", "POST /stream", lambda: self._stream(1)),
            ("fit throwaway", "POST /fit", lambda: self.throwaway),
            ("delete", "DELETE /models/soak-tmp_hbos.joblib", lambda: None),
        ]


def _send(client: KeepAliveClient, raw: Any, method_path: str, body: bytes | None) -> int:
    method, path = method_path.split(" ", 1)
    if method == "POST":
        status, _ = client.post(API + path, body or b"")
        return status
    import http.client

    for attempt in (0, 1):  # the server closes idle keep-alive connections: retry once
        try:
            raw.request(method, API + path)
            response = raw.getresponse()
            response.read()
            return response.status
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            raw.close()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def run_soak(seconds: float, *, load: float = 0.7, window: float = 30.0, warm_up: float | None = None,
             capacity_seconds: float = 10.0, rate: float | None = None) -> dict[str, Any]:
    """Runs the soak and returns its figures (see the module docstring)."""
    import http.client
    import shutil
    import tempfile

    from anomd.testing import running_server

    folder = tempfile.mkdtemp(prefix="anomd-soak-")
    warm_up = window if warm_up is None else warm_up
    try:
        with running_server(data_dir=folder) as server:
            host, port = server.url.removeprefix("http://").split(":")
            client = KeepAliveClient(server.url)
            raw = http.client.HTTPConnection(host, int(port), timeout=120)
            mix = Mix()
            rotation = mix.requests()
            _send(client, raw, "POST /fit", mix.train)  # the scored model exists from the start
            # Capacity: the mix back to back with one client.
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < capacity_seconds:
                label, method_path, body = rotation[done % len(rotation)]
                _send(client, raw, method_path, body())
                done += 1
            capacity = done / (time.perf_counter() - started)
            target = rate or load * capacity
            interval = 1.0 / target
            windows: list[dict[str, Any]] = []
            latencies: dict[str, list[float]] = defaultdict(list)
            statuses: dict[int, int] = defaultdict(int)
            begin = time.perf_counter()
            next_send, next_sample, sent = begin, begin + window, 0
            while True:
                now = time.perf_counter()
                if now >= next_sample:
                    windows.append({"t": round(now - begin, 1), **_proc(server.process.pid),
                                    "requests": sum(len(v) for v in latencies.values()),
                                    "p50_ms": {k: round(_percentile(v, 50) * 1e3, 2) for k, v in latencies.items()},
                                    "p99_ms": {k: round(_percentile(v, 99) * 1e3, 2) for k, v in latencies.items()}})
                    latencies = defaultdict(list)
                    next_sample += window
                    if now - begin >= seconds:
                        break
                if now < next_send:
                    time.sleep(min(next_send, next_sample) - now)
                    continue
                label, method_path, body = rotation[sent % len(rotation)]
                t0 = time.perf_counter()
                status = _send(client, raw, method_path, body())
                latencies[label].append(time.perf_counter() - t0)
                statuses[status] += 1
                sent += 1
                next_send += interval
            client.close()
            raw.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _verdict({"seconds": seconds, "window_s": window, "warm_up_s": warm_up,
                     "capacity_rps": round(capacity, 1), "target_rps": round(target, 1),
                     "achieved_rps": round(sent / max(1e-9, windows[-1]["t"]), 1),
                     "statuses": dict(statuses), "windows": windows})


def _verdict(result: dict[str, Any]) -> dict[str, Any]:
    windows = [w for w in result["windows"] if w["t"] > result["warm_up_s"]] or result["windows"]
    first, last = windows[0], windows[-1]
    drift = {route: round(last["p99_ms"][route] / first["p99_ms"][route] - 1, 3)
             for route in first["p99_ms"] if route in last["p99_ms"] and first["p99_ms"][route] > 0}
    five_xx = sum(n for status, n in result["statuses"].items() if int(status) >= 500)
    result.update({
        "server_errors": five_xx,
        "rss_growth": round(last["rss"] / first["rss"] - 1, 4),
        "open_files_growth": last["open_files"] - first["open_files"],
        "threads_growth": last["threads"] - first["threads"],
        "p99_drift": drift,
    })
    result["targets_met"] = {
        "0 5xx": five_xx == 0,
        f"RSS growth <= {MAX_RSS_GROWTH:.0%}": result["rss_growth"] <= MAX_RSS_GROWTH,
        f"p99 drift <= {MAX_P99_DRIFT:.0%}": all(v <= MAX_P99_DRIFT for v in drift.values()),
    }
    return result


def report(result: dict[str, Any]) -> None:
    routes = sorted({r for w in result["windows"] for r in w["p99_ms"]})
    rows = [[w["t"], f"{w['rss'] / 2**20:.1f}", w["open_files"], w["threads"], w["requests"],
             *[f"{w['p50_ms'].get(r, '-')}/{w['p99_ms'].get(r, '-')}" for r in routes]]
            for w in result["windows"]]
    print_table("soak: server over time (latency p50/p99 ms per route in each window)",
                ["t (s)", "RSS MB", "fds", "threads", "requests", *routes], rows)
    print(f"capacity {result['capacity_rps']} req/s; target {result['target_rps']} req/s; "
          f"achieved {result['achieved_rps']} req/s; statuses {result['statuses']}")
    print(f"RSS growth after warm-up {result['rss_growth']:+.1%}; open files {result['open_files_growth']:+d}; "
          f"threads {result['threads_growth']:+d}; p99 drift {result['p99_drift']}")
    print("targets:", result["targets_met"])


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--load", type=float, default=0.7, help="share of the measured capacity")
    parser.add_argument("--rate", type=float, default=None, help="requests per second (overrides --load)")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per sample")
    args = parser.parse_args(argv)
    machine = machine_info()
    print(f"load average at start: {machine.get('load_average_1_5_15')}")
    result = run_soak(args.minutes * 60, load=args.load, window=args.window, rate=args.rate)
    result["load_average_end"] = os.getloadavg()
    report(result)
    print(f"load average at end: {result['load_average_end']}")
    write_json("soak", result, machine)
    return 0 if all(result["targets_met"].values()) else 1
