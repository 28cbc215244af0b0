"""Live detectors of a service: LRU and idle eviction, checkpoints, restore, conflicts."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import anomd
from anomd.errors import ArtifactRejected, Conflict, InvalidInput, NotFound
from anomd.settings import load_settings
from anomd.streaming import InlineExecutor
from anomd.streaming.checkpoint import checkpoint_key
from anomd.streaming.manager import StreamManager


def points(n: int, seed: int = 0) -> list[dict[str, float]]:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    return [{"a": r[0], "b": r[1], "c": r[2]} for r in X.tolist()]


@pytest.fixture()
def service(tmp_path):
    return anomd.AnomalyService(load_settings(env={}, data_dir=str(tmp_path)))


def manager_for(service, max_detectors: int = 10, idle: float = 60.0) -> StreamManager:
    return StreamManager(service, max_detectors=max_detectors, idle_timeout_s=idle, executor=InlineExecutor())


def feed(manager: StreamManager, model_id: str, data, **sent):
    return manager.run(model_id, sent, lambda d: d.process_many(data))[1]


def test_least_recently_used_is_evicted_to_storage_and_restored(service) -> None:
    manager = manager_for(service, max_detectors=2)
    feed(manager, "a", points(120, 1), min_samples=20, retrain_interval=30)
    feed(manager, "b", points(10, 2))
    feed(manager, "a", points(1, 3))  # using a makes b the least recently used
    before = manager.stats("a")  # reading stats is not a use
    feed(manager, "c", points(10, 4))
    assert manager.peek("b") is None and manager.peek("a") is not None
    assert service.storage.exists(checkpoint_key("b"))
    assert manager.stats("b").live is False and manager.stats("b").total_processed == 10
    feed(manager, "b", points(5, 5))
    assert manager.stats("b").total_processed == 15 and manager.restores == 1
    assert manager.peek("a") is None  # evicted in turn
    restored = manager.stats("a")
    assert restored.model_version == before.model_version > 1
    assert restored.total_processed == before.total_processed


def test_idle_detectors_are_evicted_and_come_back_unchanged(service) -> None:
    manager = manager_for(service, idle=30.0)
    feed(manager, "idle", points(200, 6), min_samples=30, retrain_interval=50, rolling_windows=[3])
    live = manager.peek("idle")
    stats = live.detector.get_stats()
    assert manager.evict_idle(now=live.last_used + 10) == 0
    assert manager.evict_idle(now=live.last_used + 31) == 1
    assert len(manager) == 0
    out = feed(manager, "idle", points(1, 7))
    assert out.version[-1] == stats["model_version"]
    back = manager.stats("idle")
    assert back.total_processed == stats["total_processed"] + 1
    assert back.features == stats["features"] and back.samples_collected == stats["samples_collected"] + 1


def test_a_restart_continues_where_it_left_off(tmp_path) -> None:
    settings = load_settings(env={}, data_dir=str(tmp_path))
    first = manager_for(anomd.AnomalyService(settings))
    data = points(500, 8)
    feed(first, "s", data[:300], min_samples=50, retrain_interval=60, window_size=200)
    stats = first.stats("s")
    window = first.peek("s").detector.checkpoint_state().rows
    assert first.checkpoint_all() == 1

    second = manager_for(anomd.AnomalyService(settings))  # a new process in all but name
    out_second = feed(second, "s", data[300:])
    restored = second.stats("s")
    assert restored.total_processed == 500
    out_first = feed(first, "s", data[300:])
    np.testing.assert_array_equal(out_first.score, out_second.score)
    np.testing.assert_array_equal(out_first.version, out_second.version)
    assert out_second.version[0] == stats.model_version
    third = manager_for(anomd.AnomalyService(settings))
    third_window = third.open("s", {}).detector.checkpoint_state().rows
    np.testing.assert_array_equal(third_window, window)  # the checkpoint written at shutdown


def test_a_different_configuration_is_a_conflict_that_names_the_field(service) -> None:
    manager = manager_for(service)
    feed(manager, "cfg", points(10), window_size=500, rolling_windows=[5])
    with pytest.raises(Conflict) as err:
        feed(manager, "cfg", points(1), window_size=400)
    assert "window_size=400 (detector has 500)" in err.value.detail
    with pytest.raises(Conflict, match="rolling_windows"):
        feed(manager, "cfg", points(1), rolling_windows=[5, 10])
    feed(manager, "cfg", points(1), window_size=500, rolling_windows=[5], contamination=0.1)  # same values
    feed(manager, "cfg", points(1))  # nothing sent: nothing to compare
    assert manager.stats("cfg").total_processed == 12


def test_invalid_configuration_creates_nothing(service) -> None:
    manager = manager_for(service)
    with pytest.raises(InvalidInput, match="min_samples"):
        feed(manager, "x", points(3), min_samples=2000, window_size=1000)
    assert len(manager) == 0
    with pytest.raises(NotFound):
        manager.stats("x")


def test_a_tampered_checkpoint_is_refused_before_unpickling(service) -> None:
    manager = manager_for(service)
    feed(manager, "t", points(100), min_samples=20)
    manager.evict("t")
    key = checkpoint_key("t")
    blob = bytearray(service.storage.get(key))
    blob[-10] ^= 0xFF
    service.storage.put(key, bytes(blob))
    with pytest.raises(ArtifactRejected, match="does not match its signed digest"):
        feed(manager, "t", points(1))
    service.storage.put(checkpoint_key("u"), service.storage.get(key))  # valid bytes, wrong id
    with pytest.raises(ArtifactRejected):
        feed(manager, "u", points(1))


def test_reset_and_delete(service) -> None:
    manager = manager_for(service, max_detectors=1)
    feed(manager, "r", points(100), min_samples=20)
    feed(manager, "other", points(1))  # r is checkpointed now
    manager.reset("r")
    stats = manager.stats("r")
    assert stats.status == "collecting" and stats.total_processed == 0
    manager.delete("r")
    assert not service.storage.exists(checkpoint_key("r"))
    with pytest.raises(NotFound):
        manager.stats("r")
    with pytest.raises(NotFound):
        manager.delete("r")
    with pytest.raises(NotFound):
        manager.reset("r")
    assert [row.model_id for row in manager.list()] == ["other"]


def test_no_point_is_lost_while_evictions_race_with_processing(service) -> None:
    manager = manager_for(service, max_detectors=1)
    feed(manager, "busy", points(60), min_samples=20, retrain_interval=25)
    errors: list[BaseException] = []
    sent = [60]

    def writer() -> None:
        try:
            for i in range(60):
                feed(manager, "busy", points(5, seed=i))
                sent[0] += 5
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def evictor() -> None:
        try:
            for _ in range(60):
                manager.evict("busy")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=evictor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert manager.stats("busy").total_processed == sent[0] == 360
    assert manager.evictions > 0
