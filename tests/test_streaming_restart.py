"""Limits and persistence over HTTP: LRU and idle eviction, checkpoint at shutdown, restart."""

from __future__ import annotations

import time

import httpx
import numpy as np
from helpers import ok

from anomd.testing import start_server


def points(n: int, seed: int) -> list[dict[str, float]]:
    X = np.random.default_rng(seed).normal(size=(n, 2))
    return [{"x": r[0], "y": r[1]} for r in X.tolist()]


def test_eviction_checkpoints_and_restart_continue_streams(tmp_path) -> None:
    env = {"ANOMD_MAX_STREAM_DETECTORS": "2"}
    first = start_server(tmp_path, env=env)
    try:
        with httpx.Client(base_url=first.api, timeout=120) as api:
            ok(api.post("/stream", json={"model_id": "s1", "data": points(300, 1), "min_samples": 40,
                                         "retrain_interval": 50, "window_size": 200, "rolling_windows": [4]}))
            ok(api.post("/stream", json={"model_id": "s2", "data": points(120, 2), "min_samples": 30}))
            ok(api.post("/stream", json={"model_id": "s3", "data": points(10, 3)}))  # evicts s1 (LRU)
            s1 = ok(api.get("/stream/s1"))
            assert s1["live"] is False and s1["total_processed"] == 300
            listing = {d["model_id"]: d for d in ok(api.get("/stream/detectors"))["data"]}
            assert set(listing) == {"s1", "s2", "s3"} and listing["s1"]["live"] is False
            body = ok(api.post("/stream", json={"model_id": "s1", "data": points(1, 4)}))  # restores s1
            assert body["model_version"] == s1["model_version"] and body["results"][0]["score"] is not None
            assert ok(api.get("/stream/s1"))["live"] is True
            assert ok(api.get("/stream/s2"))["live"] is False  # s2 was the least recently used
            before = {d: ok(api.get(f"/stream/{d}")) for d in ("s1", "s2", "s3")}
    finally:
        first.stop()  # SIGTERM: every live detector is checkpointed

    second = start_server(tmp_path, env={**env, "ANOMD_STREAM_IDLE_TIMEOUT_S": "2"})
    try:
        with httpx.Client(base_url=second.api, timeout=120) as api:
            for name, stats in before.items():
                after = ok(api.get(f"/stream/{name}"))
                assert after["live"] is False
                for key in ("model_version", "total_processed", "samples_collected", "features", "threshold"):
                    assert after[key] == stats[key], (name, key)
            body = ok(api.post("/stream", json={"model_id": "s1", "data": points(1, 5), "rolling_windows": [4]}))
            assert body["model_version"] == before["s1"]["model_version"]
            assert body["samples_collected"] == min(200, before["s1"]["samples_collected"] + 1)
            assert ok(api.get("/stream/s1"))["total_processed"] == 302
            deadline = time.monotonic() + 20  # idle timeout 2 s; the sweep runs every second
            while ok(api.get("/stream/s1"))["live"] and time.monotonic() < deadline:
                time.sleep(0.5)
            assert ok(api.get("/stream/s1"))["live"] is False
            assert ok(api.post("/stream", json={"model_id": "s1", "data": points(1, 6)}))["results"][0]["score"] is not None
            assert ok(api.get("/stream/s1"))["total_processed"] == 303
    finally:
        second.stop()


def test_periodic_checkpoints_bound_what_a_crash_loses(tmp_path) -> None:
    """SIGKILL gives the server no shutdown to checkpoint in; the periodic sweep must have."""
    import signal

    env = {"ANOMD_STREAM_CHECKPOINT_INTERVAL_S": "0.5"}
    first = start_server(tmp_path, env=env)
    try:
        with httpx.Client(base_url=first.api, timeout=120) as api:
            ok(api.post("/stream", json={"model_id": "crashy", "data": points(150, 7), "min_samples": 40,
                                         "retrain_interval": 50, "window_size": 100}))
            ok(api.post("/stream", json={"model_id": "idle", "data": points(5, 8)}))

            def written() -> int:
                return ok(api.get("/stream/detectors"))["streaming"]["checkpoints_written"]

            deadline = time.monotonic() + 30
            while written() < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert written() == 2  # one per detector
            time.sleep(1.5)  # three more sweeps: nothing changed, nothing is rewritten
            assert written() == 2
            ok(api.post("/stream", json={"model_id": "crashy", "data": points(20, 9)}))
            deadline = time.monotonic() + 30
            while written() < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert written() == 3  # only the detector that changed
            before = ok(api.get("/stream/crashy"))
            assert before["total_processed"] == 170
    finally:
        first.stop(signal.SIGKILL)  # a crash: no shutdown checkpoint

    second = start_server(tmp_path, env=env)
    try:
        with httpx.Client(base_url=second.api, timeout=120) as api:
            after = ok(api.get("/stream/crashy"))
            assert after["live"] is False
            for key in ("model_version", "total_processed", "samples_collected", "threshold"):
                assert after[key] == before[key], key
            body = ok(api.post("/stream", json={"model_id": "crashy", "data": points(1, 10)}))
            assert body["results"][0]["score"] is not None
            assert ok(api.get("/stream/crashy"))["total_processed"] == 171
            assert ok(api.get("/stream/idle"))["total_processed"] == 5
    finally:
        second.stop()
