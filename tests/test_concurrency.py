"""Many clients on one model at once: every answer is the old model's or the new one's, whole,
or a documented refusal; the model is never left broken. Loopback only, bounded in time."""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time

import httpx
import numpy as np
from helpers import ok, rows

NAME = "hammered"
FILENAME = f"{NAME}_hbos.joblib"
CLIENTS = 8
SECONDS = 6.0


def _versions(api: httpx.Client) -> tuple[dict, dict, list, dict[str, list]]:
    """Fits two clearly different versions and records what each one answers."""
    rng = np.random.default_rng(23)
    data = {"A": rows(rng.normal(size=(400, 3))), "B": rows(rng.normal(loc=3.0, scale=2.0, size=(400, 3)))}
    probe = rows(rng.normal(loc=1.5, size=(30, 3)))
    answers = {}
    for version in ("B", "A"):  # A stays fitted
        ok(api.post("/fit", json={"model": NAME, "backend": "hbos", "data": data[version]}))
        answers[version] = ok(api.post("/score", json={"model": NAME, "backend": "hbos", "data": probe}))
    assert answers["A"]["data"] != answers["B"]["data"]
    thresholds = {v: a["summary"]["threshold"] for v, a in answers.items()}
    return data, answers, probe, thresholds


def test_fit_score_delete_on_one_model_never_mix(server, api: httpx.Client) -> None:
    data, answers, probe, thresholds = _versions(api)
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + SECONDS

    def client(seed: int) -> None:
        chooser = random.Random(seed)
        with httpx.Client(base_url=server.api, timeout=120) as own:
            while time.monotonic() < stop_at:
                op = chooser.choices(["fit", "score", "info", "delete"], weights=[2, 6, 2, 1])[0]
                if op == "fit":
                    version = chooser.choice("AB")
                    r = own.post("/fit", json={"model": NAME, "backend": "hbos", "data": data[version]})
                    verdict = "ok" if r.status_code == 200 and r.json()["model_params"]["threshold"] == thresholds[version] else r.text
                elif op == "score":
                    r = own.post("/score", json={"model": NAME, "backend": "hbos", "data": probe})
                    if r.status_code == 200:
                        body = r.json()
                        same = [v for v, a in answers.items() if body["data"] == a["data"] and body["summary"] == a["summary"]]
                        verdict = "ok" if len(same) == 1 else f"mixed answer: {body['summary']}"
                    else:
                        verdict = "ok" if r.status_code == 404 and "not found" in r.json()["detail"] else r.text
                elif op == "info":
                    r = own.get(f"/models/{FILENAME}")
                    verdict = ("ok" if (r.status_code == 200 and r.json()["threshold"] in thresholds.values())
                               or r.status_code == 404 else r.text)
                else:
                    r = own.delete(f"/models/{FILENAME}")
                    verdict = "ok" if r.status_code in (200, 404) else r.text
                with lock:
                    outcomes.append((op, r.status_code, verdict))

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))

    bad = [o for o in outcomes if o[2] != "ok"]
    assert not bad, bad[:5]
    done = {op: sum(1 for o in outcomes if o[0] == op and o[1] == 200) for op in ("fit", "score", "delete")}
    assert all(done.values()), done  # each kind of call really ran and succeeded at least once
    # The end state is whole: either gone everywhere, or one version everywhere.
    listed = [m["filename"] for m in ok(api.get("/models"))["data"]]
    info = api.get(f"/models/{FILENAME}")
    if info.status_code == 404:
        assert FILENAME not in listed
        assert api.post("/score", json={"model": NAME, "backend": "hbos", "data": probe}).status_code == 404
    else:
        assert FILENAME in listed
        final = ok(api.post("/score", json={"model": NAME, "backend": "hbos", "data": probe}))
        version = next(v for v, a in answers.items() if final["data"] == a["data"])
        assert info.json()["threshold"] == thresholds[version]
    assert ok(httpx.get(server.url + "/health"))["status"] == "ok"


def test_racing_creates_without_overwrite_have_one_winner(server, api: httpx.Client) -> None:
    X = rows(np.random.default_rng(2).normal(size=(200, 2)))
    name = f"only-once-{time.monotonic_ns()}"

    def create(_: int) -> int:
        with httpx.Client(base_url=server.api, timeout=120) as own:
            return own.post("/fit", json={"model": name, "data": X, "overwrite": False}).status_code

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        codes = sorted(pool.map(create, range(CLIENTS)))
    assert codes == [200] + [409] * (CLIENTS - 1)


def test_concurrent_points_on_one_stream_are_all_counted(server, api: httpx.Client) -> None:
    stream = f"shared-stream-{time.monotonic_ns()}"
    rng = np.random.default_rng(4)
    bursts = [[{"v": float(x)} for x in rng.normal(size=25)] for _ in range(CLIENTS * 6)]
    config = {"min_samples": 30, "window_size": 200, "retrain_interval": 50}

    seen: dict[int, list[int]] = {}

    def send(burst: list[dict]) -> None:
        with httpx.Client(base_url=server.api, timeout=120) as own:
            body = ok(own.post("/stream", json={"model": stream, **config, "data": burst}))
            assert len(body["results"]) == len(burst)
            seen.setdefault(threading.get_ident(), []).append(body["model_version"])

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, bursts))
    for versions in seen.values():  # one client's calls in turn never see the model go back
        assert versions == sorted(versions), versions
    stats = ok(api.get(f"/stream/{stream}"))
    assert stats["total_processed"] == sum(len(b) for b in bursts)
    assert stats["samples_collected"] == config["window_size"]


def test_points_resets_and_deletes_on_one_stream_never_break_it(server, api: httpx.Client) -> None:
    """Resets and deletes racing with points: every call is answered as documented (200, or 404
    for a delete of a stream already gone), and the stream ends usable."""
    stream = f"raced-stream-{time.monotonic_ns()}"
    config = {"min_samples": 20, "window_size": 60, "retrain_interval": 20}
    stop_at = time.monotonic() + SECONDS / 2
    failures: list[str] = []
    counts = {"points": 0, "reset": 0, "delete": 0}
    lock = threading.Lock()

    def client(seed: int) -> None:
        chooser = random.Random(seed)
        rng = np.random.default_rng(seed)
        with httpx.Client(base_url=server.api, timeout=120) as own:
            while time.monotonic() < stop_at:
                op = chooser.choices(["points", "reset", "delete"], weights=[8, 1, 1])[0]
                if op == "points":
                    burst = [{"v": float(x)} for x in rng.normal(size=chooser.randint(1, 40))]
                    r = own.post("/stream", json={"model": stream, **config, "data": burst})
                    good = r.status_code == 200 and len(r.json()["results"]) == len(burst)
                elif op == "reset":
                    r = own.post(f"/stream/{stream}/reset")
                    good = r.status_code in (200, 404)
                else:
                    r = own.delete(f"/stream/{stream}")
                    good = r.status_code in (200, 404)
                with lock:
                    counts[op] += 1
                    if not good:
                        failures.append(f"{op}: {r.status_code} {r.text[:200]}")

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(100, 100 + CLIENTS)))
    assert not failures, failures[:5]
    assert all(counts.values()), counts
    burst = [{"v": float(x)} for x in np.random.default_rng(9).normal(size=30)]
    body = ok(api.post("/stream", json={"model": stream, **config, "data": burst}))
    stats = ok(api.get(f"/stream/{stream}"))
    assert stats["samples_collected"] == body["samples_collected"] <= config["window_size"]
