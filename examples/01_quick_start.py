"""Quick start: fit a detector over HTTP, then ask which new rows are anomalous.

Start a server first (``anomd serve``), then run ``python examples/01_quick_start.py``.
The server address comes from ``ANOMD_URL`` (default ``http://127.0.0.1:8000``).
"""

import json
import os
import random
import sys
import urllib.error
import urllib.request

API = os.environ.get("ANOMD_URL", "http://127.0.0.1:8000").rstrip("/") + "/v1/ml/anomaly"
# A key is needed only when the server has API keys configured (docs/security.md).
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("ANOMD_API_KEY"):
    HEADERS["Authorization"] = "Bearer " + os.environ["ANOMD_API_KEY"]


def post(route: str, body: dict) -> dict:
    """POSTs JSON to the API and returns the decoded reply (exits with the server's message on error)."""
    request = urllib.request.Request(API + route, data=json.dumps(body).encode(), headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        sys.exit(f"{route} failed ({error.code}): {json.load(error).get('detail')}")
    except urllib.error.URLError as error:
        sys.exit(f"cannot reach anomd at {API} ({error.reason}); start it with `anomd serve`")


# 1. Training data: 300 ordinary readings of (temperature, humidity).
random.seed(1)
normal = [[random.gauss(21.0, 1.0), random.gauss(45.0, 4.0)] for _ in range(300)]

# 2. Fit a model. It is saved on the server at once, under the name "quick-start".
fit = post(
    "/fit", {"model": "quick-start", "backend": "ecod", "contamination": 0.05, "data": normal}
)
print(f"fitted {fit['backend']} on {fit['samples_fitted']} rows -> {fit['saved_path']}")

# 3. Score new rows: three ordinary ones and two that are clearly off (rows 2 and 4).
new_rows = [[21.3, 44.0], [20.5, 47.5], [35.0, 44.0], [22.0, 46.0], [29.0, 80.0]]
scores = post("/score", {"model": "quick-start", "backend": "ecod", "data": new_rows})

for point in scores["data"]:
    row = new_rows[point["index"]]
    verdict = "ANOMALY" if point["is_anomaly"] else "ok"
    print(
        f"row {point['index']}: temperature={row[0]:5.1f} humidity={row[1]:5.1f} "
        f"score={point['score']:.3f}  {verdict}"
    )

flagged = [p["index"] for p in scores["data"] if p["is_anomaly"]]
print(f"anomalous rows: {flagged} (threshold {scores['summary']['threshold']:.3f})")
