"""CPU-bound work never runs on the event loop: /health stays fast while a long fit runs."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np

from anomd.testing import running_server


def test_health_answers_fast_during_a_long_fit(tmp_path) -> None:
    # One-class SVM is quadratic in rows: 9,000 rows keep a worker thread busy for ~10 s here.
    data = np.random.default_rng(0).normal(size=(9000, 8)).tolist()
    with running_server(data_dir=tmp_path) as srv:
        done = threading.Event()
        result: dict[str, object] = {}

        def long_fit() -> None:
            started = time.perf_counter()
            response = httpx.post(srv.api + "/fit", json={"model": "slow", "backend": "one_class_svm", "data": data},
                                  timeout=600)
            result.update(status=response.status_code, seconds=time.perf_counter() - started)
            done.set()

        worker = threading.Thread(target=long_fit)
        worker.start()
        latencies = []
        with httpx.Client(timeout=5) as client:
            time.sleep(1.0)  # let the upload finish and the fit start
            while not done.is_set():
                started = time.perf_counter()
                assert client.get(srv.url + "/health").json()["status"] == "ok"
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)
        worker.join()

    ms = np.array(latencies)
    print(f"fit {result['seconds']:.1f} s; /health n={ms.size} p50={np.median(ms):.1f} ms "
          f"p95={np.percentile(ms, 95):.1f} ms max={ms.max():.1f} ms")
    assert result["status"] == 200
    assert ms.size >= 20, "the fit ended too soon to observe the event loop"
    # A blocked event loop would hold /health for the whole fit (seconds), so no answer may take
    # a sizeable part of it. The 100 ms target is checked on the typical answer; outliers come
    # from scheduling on a loaded 2-core machine and are bounded loosely, not timed.
    assert np.median(ms) < 100, ms
    assert ms.max() < max(1000.0, result["seconds"] * 1000 / 5), ms
