"""Quick start: fit a detector on a server, then ask which new rows are anomalous.

Start a server first (``anomd serve``), then run ``python examples/01_quick_start.py``.
The server address comes from ``ANOMD_URL`` (default ``http://127.0.0.1:8000``), and an API
key, when the server needs one, from ``ANOMD_API_KEY``: ``anomd.Client()`` reads both.
"""

import random
import sys

import anomd
from anomd.client import ApiError, Unreachable


def main() -> None:
    # 1. Training data: 300 ordinary readings of (temperature, humidity).
    random.seed(1)
    normal = [[random.gauss(21.0, 1.0), random.gauss(45.0, 4.0)] for _ in range(300)]

    with anomd.Client() as client:
        # 2. Fit a model. It is saved on the server at once, under the name "quick-start".
        fit = client.fit(normal, model="quick-start", backend="ecod", contamination=0.05)
        print(f"fitted {fit.backend} on {fit.samples_fitted} rows -> {fit.saved_path}")

        # 3. Score new rows: three ordinary ones and two that are clearly off (rows 2 and 4).
        #    Only one stored model is called "quick-start", so the backend can be left out.
        new_rows = [[21.3, 44.0], [20.5, 47.5], [35.0, 44.0], [22.0, 46.0], [29.0, 80.0]]
        result = client.score(new_rows, model="quick-start")

    for i, row in enumerate(new_rows):
        verdict = "ANOMALY" if result.is_anomaly[i] else "ok"
        print(f"row {i}: temperature={row[0]:5.1f} humidity={row[1]:5.1f} "
              f"score={result.score[i]:.3f}  {verdict}")
    flagged = result.index[result.is_anomaly].tolist()
    print(f"anomalous rows: {flagged} (threshold {result.threshold:.3f})")


if __name__ == "__main__":
    try:
        main()
    except (Unreachable, ApiError) as error:
        sys.exit(str(error))
