"""Time-series benchmark: the default (series) pipeline's speed and size, side by side with the
tabular pipeline, in-process and over HTTP.

``python -m benchmarks series [--quick] [--skip-http]``

The series is a daily rhythm sampled every 5 minutes with noise (period 288, found by the
pipeline), one value plus a timestamp per point, streamed into a stream created with nothing
but its id. The reference in the same run is the tabular pipeline on the same values without
timestamps (``ecod`` retrained every 100 points, the streams of before).

1. Replay in-process: ``process_many`` of the whole series, and a loop of ``process`` (tick
   p50/p99/max), points/s.
2. Memory: 200 live series streams with a full window of 1,000 points (RSS growth per stream,
   measured without tracing; traced Python heap per stream, in a second pass; checkpoint size).
3. HTTP: single-point ``POST /stream`` with a timestamp per point (wrk when installed; each
   stream with increasing times): one stream, four streams from four wrk threads, four streams
   from one wrk thread (``_HTTP_RUNS``); requests/s and latency.

Targets (issue 12): replay >= 20,000 points/s, single-point POST /stream >= 1,500 requests/s,
<= 200 kB resident per live stream with window 1,000.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    describe_machine,
    fmt_bytes,
    machine_info,
    print_table,
    write_json,
)

TARGETS = {"replay_points_per_s": 20_000, "http_single_rps": 1_500, "bytes_per_stream": 200_000}
START = 1709251200
STEP = 300


def series(n: int, seed: int = 0, timed: bool = True) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    value = 10 * np.sin(2 * np.pi * np.arange(n) / 288) + 50 + rng.normal(size=n)
    if not timed:
        return [{"value": v} for v in value.tolist()]
    return [{"timestamp": float(START + STEP * i), "value": v} for i, v in enumerate(value.tolist())]


def replay(n: int) -> list[dict[str, Any]]:
    from anomd.streaming import StreamingAnomalyDetector

    rows = []
    for label, timed in (("series (default, timestamp + value)", True), ("tabular (value only)", False)):
        points = series(n, timed=timed)
        warm = StreamingAnomalyDetector("warm")
        warm.process_many(points[:2000])  # imports, first fits
        batch = StreamingAnomalyDetector("batch")
        started = time.perf_counter()
        batch.process_many(points)
        batch_rate = n / (time.perf_counter() - started)
        loop = StreamingAnomalyDetector("loop")
        loop.process_many(points[:2000])
        gc.collect()
        lat = np.empty(n - 2000)
        clock = time.perf_counter
        process = loop.process
        started = clock()
        for i, point in enumerate(points[2000:]):
            t0 = clock()
            process(point)
            lat[i] = clock() - t0
        loop_rate = (n - 2000) / (clock() - started)
        stats = loop.get_stats()
        rows.append({
            "pipeline": label, "points": n, "process_many_per_s": batch_rate, "process_per_s": loop_rate,
            "tick_p50_us": float(np.percentile(lat, 50) * 1e6), "tick_p99_us": float(np.percentile(lat, 99) * 1e6),
            "tick_max_ms": float(lat.max() * 1000), "backend": stats["backend"],
            "retrains": stats["retrains_completed"], "flagged_share": stats["anomaly_rate"],
        })
    return rows


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(count: int) -> dict[str, Any]:
    from anomd.artifacts import ArtifactCodec
    from anomd.streaming import InlineExecutor, StreamingAnomalyDetector
    from anomd.streaming.checkpoint import encode

    points = series(3000)  # a full window of 1,000 plus the seasonal history it keeps
    executor = InlineExecutor()
    StreamingAnomalyDetector("warm", executor=executor).process_many(points)

    def streams(prefix: str) -> list[StreamingAnomalyDetector]:
        made = []
        for i in range(count):
            detector = StreamingAnomalyDetector(f"{prefix}{i}", executor=executor)
            detector.process_many(points)
            made.append(detector)
        gc.collect()
        return made

    # RSS in a pass of its own: tracemalloc keeps a record of every block it traces, which
    # the process's resident size would count as the streams'.
    gc.collect()
    rss_before = _rss()
    untraced = streams("r")
    rss_after = _rss()
    tracemalloc.start()
    traced_streams = streams("m")
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    blob = encode(ArtifactCodec(b"k" * 32), "m0", traced_streams[0].config, traced_streams[0].checkpoint_state())
    return {"streams": count, "heap_bytes_per_stream": traced / count,
            "rss_bytes_per_stream": (rss_after - rss_before) / len(untraced), "checkpoint_bytes": len(blob),
            "window_rows": traced_streams[0]._window.capacity}


_WRK_SCRIPT = """
counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
-- args[1]: streams per wrk thread, sent round-robin (each keeps its own clock)
init = function(args) t = 0; n = tonumber(args[1] or "1") end
request = function()
  t = t + 1
  local k = (t - 1) % n
  local step = math.floor((t - 1) / n) + 1
  local value = 50 + 10 * math.sin(2 * math.pi * step / 288) + (math.random() - 0.5)
  local body = string.format('{"model_id":"series-%d","data":{"timestamp":%d,"value":%.4f}}', id * n + k, 1709251200 + 300 * (step + 1), value)
  return wrk.format("POST", "/v1/ml/anomaly/stream", {["Content-Type"] = "application/json"}, body)
end
"""

#: (wrk threads, connections, streams per thread): one stream on one connection (each request
#: waits for the one before it: latency-bound); four streams, a wrk thread and connection each;
#: four streams round-robin from one wrk thread on four connections (the load generator then
#: takes one core of this 2-core machine at most, as in ``benchmarks streaming``).
_HTTP_RUNS = ((1, 1, 1), (4, 4, 1), (1, 4, 4))


def http(seconds: float) -> list[dict[str, Any]]:
    """Single points over HTTP: one stream on one connection (each request waits for the one
    before it, so this is latency-bound), then four streams, one connection each (a fleet)."""
    from anomd.testing import start_server

    wrk = shutil.which("wrk")
    if not wrk:
        return [{"skipped": "wrk is not installed (apt-get install wrk)"}]
    data_dir = tempfile.mkdtemp(prefix="anomd-series-bench-")
    server = start_server(data_dir, env={"ANOMD_WARM_UP": "true"})
    try:
        script = Path(data_dir) / "series.lua"
        script.write_text(_WRK_SCRIPT)
        from benchmarks.streaming import _get, _wrk_ms, wait_until_warm

        wait_until_warm(server)

        rows = []
        for threads, connections, per_thread in _HTTP_RUNS:
            out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
                                  "-s", str(script), server.url, "--", str(per_thread)],
                                 capture_output=True, text=True, check=True).stdout
            rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
            non_2xx = sum(int(line.split()[-1]) for line in out.splitlines() if "Non-2xx" in line)
            stats = json.loads(_get(server.api + "/stream/series-0"))
            streams = threads * per_thread
            rows.append({"tool": f"wrk -t{threads} -c{connections}", "streams": streams,
                         "requests_per_s": rps, "errors": non_2xx, "p50_ms": _wrk_ms(out, "50%"),
                         "p99_ms": _wrk_ms(out, "99%"), "pipeline": stats.get("pipeline")})
            # The next run's streams start afresh (wrk's clock restarts at the same times).
            for stream in range(streams):
                urllib.request.urlopen(urllib.request.Request(
                    f"{server.api}/stream/series-{stream}", method="DELETE"), timeout=30).close()
        return rows
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks series", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--skip-http", action="store_true", help="skip the HTTP section")
    args = parser.parse_args(argv)
    machine = machine_info()
    print(f"machine: {describe_machine(machine)}")
    results: dict[str, Any] = {"targets": TARGETS}
    rows = replay(6000 if args.quick else 20_000)
    results["replay"] = rows
    print_table(
        "1. In-process replay of a daily series (5-minute points, period 288)",
        ["pipeline", "process_many points/s", "process points/s", "tick p50", "tick p99", "max tick", "retrains", "flagged"],
        [[r["pipeline"], f"{r['process_many_per_s']:,.0f}", f"{r['process_per_s']:,.0f}", f"{r['tick_p50_us']:.0f} µs",
          f"{r['tick_p99_us']:.0f} µs", f"{r['tick_max_ms']:.1f} ms", r["retrains"], f"{r['flagged_share']:.4f}"] for r in rows],
        note="target: replay >= 20,000 points/s for the series pipeline",
    )
    mem = memory(50 if args.quick else 200)
    results["memory"] = mem
    print_table(
        f"2. Memory of {mem['streams']} live series streams (window 1,000; {mem['window_rows']} rows kept for the seasonal history)",
        ["measure", "value"],
        [["Python heap per stream", fmt_bytes(int(mem["heap_bytes_per_stream"]))],
         ["RSS growth per stream", fmt_bytes(int(max(mem["rss_bytes_per_stream"], 0)))],
         ["checkpoint", fmt_bytes(mem["checkpoint_bytes"])]],
        note="target: <= 200 kB per stream",
    )
    if not args.skip_http:
        h = http(5.0 if args.quick else 10.0)
        results["http"] = h
        columns = ["tool", "streams", "requests_per_s", "errors", "p50_ms", "p99_ms", "pipeline"]
        if h and "skipped" in h[0]:
            print(f"\n3. HTTP: skipped, {h[0]['skipped']}")
        else:
            print_table("3. HTTP, single-point POST /stream with a timestamp", columns,
                        [[f"{r.get(c, ''):,.2f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in columns]
                         for r in h], note="target: >= 1,500 requests/s")
    path = write_json("series", results, machine)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
