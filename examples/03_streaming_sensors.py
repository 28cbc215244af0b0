"""Streaming detection on sensor readings: cold start, scores, anomalies and retrains.

A gateway forwards readings of a machine (temperature, pressure, vibration) to the server in
small batches as they arrive. The server keeps one streaming detector for the machine:

1. cold start: the first ``min_samples`` readings are only collected (no scores yet);
2. from then on every reading is scored at once against the current model ("tick"), with
   rolling mean/std/min/max features over the last 10 readings computed server-side;
3. every ``retrain_interval`` readings the model is refitted in the background on the newest
   ``window_size`` readings ("tock") and swapped in: ``model_version`` grows.

Three faults are planted: a temperature spike, a pressure drop, and a vibration burst. The
example prints the cold start, each planted fault as it is flagged, each retrain as it lands,
how many other readings were flagged, and the detector's own stats at the end.

The backend is ``knn`` (distance to the nearest readings of the window). The default, ``ecod``,
scores every column on its own and caps how far out one value can count; on these readings,
whose columns rise and fall together with the duty cycle, ordinary cycle peaks then score as
high as a fault in a single column. Choosing the backend for the data is the user's call.

Start a server first (``anomd serve``), then run ``python examples/03_streaming_sensors.py``.
The server address comes from ``ANOMD_URL`` (default ``http://127.0.0.1:8000``).
"""

import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.request

API = os.environ.get("ANOMD_URL", "http://127.0.0.1:8000").rstrip("/") + "/v1/ml/anomaly"
# A key is needed only when the server has API keys configured (docs/security.md).
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("ANOMD_API_KEY"):
    HEADERS["Authorization"] = "Bearer " + os.environ["ANOMD_API_KEY"]
STREAM = "sensor-demo"
BATCH = 20  # readings per request, as a gateway would buffer them


def call(method: str, route: str, body: dict | None = None, missing_ok: bool = False) -> dict:
    """Sends a request and returns the decoded reply (exits with the server's message on error)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + route, data=data, method=method,
                                     headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if missing_ok and error.code == 404:
            return {}
        sys.exit(f"{method} {route} failed ({error.code}): {json.load(error).get('detail')}")
    except urllib.error.URLError as error:
        sys.exit(f"cannot reach anomd at {API} ({error.reason}); start it with `anomd serve`")


def reading(t: int, rng: random.Random) -> dict:
    """One ordinary reading at time step ``t``: a duty cycle of 120 steps plus noise."""
    cycle = math.sin(2 * math.pi * t / 120)
    return {
        "temperature": 60.0 + 3.0 * cycle + rng.gauss(0, 0.5),
        "pressure": 101.3 + 0.4 * cycle + rng.gauss(0, 0.1),
        "vibration": 0.20 + rng.gauss(0, 0.02),
    }


def near_fault(t: int) -> str | None:
    """The planted fault a flagged reading belongs to (a burst lasts a few readings)."""
    return next((label for start, label in PLANTED.items() if 0 <= t - start <= 5), None)


rng = random.Random(7)
readings = [reading(t, rng) for t in range(3000)]
PLANTED = {900: "temperature spike", 1700: "pressure drop", 2400: "vibration burst"}
readings[900]["temperature"] += 9.0
readings[1700]["pressure"] -= 2.5
for t in range(2400, 2404):
    readings[t]["vibration"] += 0.6

# Start from a clean detector (the stream may exist from an earlier run).
call("DELETE", f"/stream/{STREAM}", missing_ok=True)
config = {"backend": "knn", "min_samples": 250, "retrain_interval": 200,
          "window_size": 1000, "contamination": 0.01, "rolling_windows": [10]}

version, caught, other_flags, scored = 0, set(), 0, 0
for start in range(0, len(readings), BATCH):
    batch = readings[start : start + BATCH]
    reply = call("POST", "/stream", {"model_id": STREAM, "data": batch, **config})
    if start == 0:
        print(f"cold start: status={reply['status']} samples_collected={reply['samples_collected']} "
              f"samples_until_ready={reply['samples_until_ready']} first score={reply['results'][0]['score']}")
    if reply["model_version"] > version:
        if version == 0:
            ready_at = start + next(r["index"] for r in reply["results"] if r["score"] is not None)
            print(f"ready at reading {ready_at}: model_version=1, threshold={reply['threshold']:.4f}")
        else:
            print(f"retrain landed: model_version {version} -> {reply['model_version']} "
                  f"(by reading {start + len(batch) - 1})")
        version = reply["model_version"]
    for result in reply["results"]:
        if result["score"] is None:
            continue
        scored += 1
        if result["is_anomaly"]:
            t = start + result["index"]
            fault = near_fault(t)
            if fault:
                caught.add(fault)
                print(f"ANOMALY at reading {t}: score={result['score']:.4f} ({fault})")
            else:
                other_flags += 1

# Retrains run in the server's background; they land within milliseconds to seconds. Should
# none have landed yet (a very busy server), keep streaming ordinary readings for a while.
deadline, t = time.monotonic() + 60, len(readings)
while version < 3 and time.monotonic() < deadline:
    reply = call("POST", "/stream", {"model_id": STREAM, "data": [reading(t + i, rng) for i in range(BATCH)]})
    if reply["model_version"] > version:
        print(f"retrain landed: model_version {version} -> {reply['model_version']} (by reading {t + BATCH - 1})")
        version = reply["model_version"]
    t += BATCH
    time.sleep(0.05)

stats = call("GET", f"/stream/{STREAM}")
print(f"planted faults caught: {len(caught)} of {len(PLANTED)} ({', '.join(sorted(caught))})")
print(f"other readings flagged: {other_flags} of {scored} scored ({other_flags / scored:.2%}; "
      f"contamination {config['contamination']:.0%})")
print(f"features: {len(stats['features'])} ({', '.join(stats['features'][:4])}, ...)")
print(f"stats: model_version={stats['model_version']} total_processed={stats['total_processed']} "
      f"retrains_completed={stats['retrains_completed']} window={stats['samples_collected']}")
