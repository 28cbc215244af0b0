"""S3 faults on a real socket: moto on 127.0.0.1 behind the fault-injecting proxy.

Each cell of the fault matrix (fault x storage operation) is run for real: transient faults
(latency, a few throttled or failed answers, a reset mid-body) are absorbed by the bounded
retries with jittered backoff; a persistent failure surfaces as a storage error (a 503 in the
service) after a bounded time; an upload never leaves a partial object behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from anomd_s3.errors import S3StorageError
from anomd_s3.faults import FaultProxy, Rule
from anomd_s3.storage import S3Storage, backoff_delay, open_s3
from anomd_s3.testing import LocalS3

from anomd.errors import StorageUnavailable
from anomd.service import AnomalyService
from anomd.settings import load_settings

PAYLOAD = bytes(range(256)) * 400  # 100 KB: large enough that a reset cuts a body in half
#: Operation -> (the HTTP method it ends with, the call). A delete is a HEAD then a batch POST.
OPERATIONS: dict[str, tuple[str, Callable[[S3Storage, str], object]]] = {
    "put": ("PUT", lambda store, key: store.put(key, PAYLOAD)),
    "get": ("GET", lambda store, key: store.get(key)),
    "list": ("GET", lambda store, key: [o.key for o in store.list("m/")]),
    "delete": ("POST", lambda store, key: store.delete(key)),
}
TRANSIENT = [
    Rule("latency", seconds=0.3, times=1),
    Rule("slow_down", times=2),
    Rule("internal_error", times=2),
    Rule("reset_response", times=1),
]


@pytest.fixture
def proxy(local_s3_endpoint: LocalS3) -> Iterator[FaultProxy]:
    with FaultProxy(local_s3_endpoint.endpoint) as running:
        yield running


@pytest.fixture
def store(local_s3_endpoint: LocalS3, proxy: FaultProxy) -> S3Storage:
    bucket = local_s3_endpoint.create_bucket()
    options = {**local_s3_endpoint.options(), "endpoint": proxy.endpoint,
               "max_retries": 3, "retry_timeout": 5}
    return open_s3(f"s3://{bucket}", options)


def _run(store: S3Storage, proxy: FaultProxy, rule: Rule, operation: str) -> object:
    method, call = OPERATIONS[operation]
    key = f"m/{rule.fault}-{operation}.bin"
    if operation != "put":
        store.put(key, PAYLOAD)
    proxy.inject(Rule(rule.fault, method=method, times=rule.times, seconds=rule.seconds))
    try:
        return call(store, key)
    finally:
        proxy.clear()


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("rule", TRANSIENT, ids=lambda r: f"{r.fault}x{r.times}")
def test_transient_faults_are_retried(store: S3Storage, proxy: FaultProxy, rule: Rule, operation: str) -> None:
    result = _run(store, proxy, rule, operation)
    faulted = [s for s in proxy.requests() if s.fault is not None]
    assert len(faulted) == rule.times, "the fault never reached the client"
    key = f"m/{rule.fault}-{operation}.bin"
    if operation == "get":
        assert result == PAYLOAD
    elif operation == "delete":
        assert result is True and not store.exists(key)
    else:
        assert store.get(key) == PAYLOAD  # whole, never a half-written object


def test_upload_cut_mid_body_is_retried_whole(store: S3Storage, proxy: FaultProxy) -> None:
    _run(store, proxy, Rule("reset_request", times=1), "put")
    assert store.get("m/reset_request-put.bin") == PAYLOAD


@pytest.mark.parametrize("fault", ["internal_error", "slow_down"])
@pytest.mark.parametrize("operation", ["put", "get", "list", "delete"])
def test_persistent_failure_is_a_bounded_storage_error(
    store: S3Storage, proxy: FaultProxy, fault: str, operation: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(S3StorageError):
        _run(store, proxy, Rule(fault), operation)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 10  # max_retries and retry_timeout bound it
    retried = [s for s in proxy.requests() if s.fault == fault]
    assert 2 <= len(retried) <= 4  # the first try and at most max_retries more
    if operation == "put":
        assert not store.exists(f"m/{fault}-put.bin")  # nothing partial left behind
    if operation == "delete":
        assert store.get(f"m/{fault}-delete.bin") == PAYLOAD  # still there, whole: retry later


def test_backoff_has_jitter_and_grows() -> None:
    draws = [[backoff_delay(attempt) for _ in range(200)] for attempt in range(4)]
    for attempt, values in enumerate(draws):
        assert 0 <= min(values) and max(values) <= 0.1 * 2**attempt
        assert len(set(values)) > 150  # drawn at random: clients throttled together spread out
    assert np.mean(draws[3]) > 3 * np.mean(draws[0])


def _service_behind(proxy: FaultProxy, s3: LocalS3, folder: Path, *, max_retries: int,
                    retry_timeout: float) -> AnomalyService:
    """A service whose model store is a new bucket reached through the fault proxy."""
    settings = load_settings(
        env={}, data_dir=str(folder), warm_up=False, storage=f"s3://{s3.create_bucket()}/models",
        storage_options={**s3.options(), "endpoint": proxy.endpoint,
                         "max_retries": max_retries, "retry_timeout": retry_timeout},
    )
    return AnomalyService(settings)


def test_service_answers_503_and_stores_nothing_when_s3_keeps_failing(
    local_s3_endpoint: LocalS3, proxy: FaultProxy, tmp_path: Path
) -> None:
    service = _service_behind(proxy, local_s3_endpoint, tmp_path, max_retries=2, retry_timeout=3)
    rows = np.random.default_rng(0).normal(size=(200, 3))
    service.fit(rows, model="before", backend="hbos")
    proxy.inject(Rule("internal_error", method="PUT"))
    with pytest.raises(StorageUnavailable) as failed:
        service.fit(rows, model="during", backend="hbos")
    assert "storage failed" in str(failed.value)  # StorageUnavailable: the API's 503
    proxy.clear()
    names = {row.name for row in service.list_models()}
    assert "before" in names and "during" not in names
    _, scores = service.score(rows[:5], model="before")  # the store still serves what it had
    assert scores.raw.shape == (5,)


def test_streams_keep_scoring_while_checkpoints_fail_and_catch_up_after(
    local_s3_endpoint: LocalS3, proxy: FaultProxy, tmp_path: Path
) -> None:
    from anomd.streaming import InlineExecutor
    from anomd.streaming.checkpoint import checkpoint_key
    from anomd.streaming.manager import StreamManager

    service = _service_behind(proxy, local_s3_endpoint, tmp_path, max_retries=1, retry_timeout=2)

    def manager() -> StreamManager:
        return StreamManager(service, max_detectors=10, idle_timeout_s=0, executor=InlineExecutor())

    X = np.random.default_rng(3).normal(size=(700, 2))
    X[650, 1] = 12.0  # a spike while the store is down
    points = [{"a": a, "b": b} for a, b in X.tolist()]
    sent = {"min_samples": 100, "window_size": 300, "retrain_interval": 100}
    live = manager()
    live.run("s", sent, lambda d: d.process_many(points[:300]))
    assert live.checkpoint_changed() == 1

    proxy.inject(Rule("internal_error", method="PUT"))
    during = live.run("s", sent, lambda d: d.process_many(points[300:700]))[1]
    assert during.flag[650 - 300], "the spike sent while checkpoints failed was not flagged"
    assert live.checkpoint_changed() == 0  # failed and logged; the stream stays live
    assert live.evict("s") is False and live.peek("s") is not None  # kept in memory: nothing lost
    assert any(s.fault == "internal_error" for s in proxy.requests())

    proxy.clear()
    assert live.checkpoint_changed() == 1  # caught up: the sweep writes what changed meanwhile
    expected = live.stats("s")
    restored = manager()
    assert restored.stats("s").total_processed == expected.total_processed == 700
    assert restored.stats("s").model_version == expected.model_version
    probe = [{"a": 0.1, "b": -0.2}, {"a": 0.0, "b": 9.0}]
    again = restored.run("s", sent, lambda d: d.score_many(probe))[1]
    here = live.run("s", sent, lambda d: d.score_many(probe))[1]
    np.testing.assert_array_equal(again.raw, here.raw)  # the checkpoint is the live state
    assert service.storage.exists(checkpoint_key("s"))
