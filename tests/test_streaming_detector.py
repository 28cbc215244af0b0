"""The streaming detector in-process: cold start, tick/tock, bad points, thresholds, state."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from anomd import DetectorStatus, StreamingAnomalyDetector
from anomd.errors import InvalidInput, NotFound
from anomd.streaming import InlineExecutor


def points(n: int, seed: int = 0, keys: str = "abc") -> list[dict[str, float]]:
    X = np.random.default_rng(seed).normal(size=(n, len(keys)))
    return [{k: float(v) for k, v in zip(keys, row)} for row in X]


class CountingPool(ThreadPoolExecutor):
    """A real thread pool that also records the most tasks unfinished at one time."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.submitted = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._count_lock:
            self.submitted += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future) -> None:
        with self._count_lock:
            self.in_flight -= 1


def test_cold_start_then_scores_at_once() -> None:
    detector = StreamingAnomalyDetector("cold", min_samples=20, retrain_interval=1000, executor=InlineExecutor())
    assert detector.status is DetectorStatus.COLLECTING
    results = detector.process_batch_sync(points(25))
    for i, r in enumerate(results[:19]):
        assert r.score is None and r.is_anomaly is None and r.raw_score is None
        assert r.status is DetectorStatus.COLLECTING and r.model_version == 0
        assert r.samples_collected == i + 1 and r.samples_until_ready == 20 - (i + 1)
    first = results[19]
    assert first.status is DetectorStatus.READY and first.model_version == 1
    assert first.samples_until_ready == 0 and 0.0 <= first.score <= 1.0
    assert isinstance(first.is_anomaly, bool) and first.threshold is not None
    assert all(r.score is not None for r in results[20:])
    stats = detector.get_stats()
    assert stats["is_ready"] and stats["total_processed"] == 25 and stats["columns"] == ["a", "b", "c"]


def test_point_by_point_equals_batch() -> None:
    """The one-point path (numpy kernels) and the batch path (Polars) give the same results."""
    data = points(700, seed=1)
    config = {"min_samples": 30, "retrain_interval": 50, "window_size": 200, "rolling_windows": [3, 7],
              "include_lags": True, "lag_periods": [1, 4], "transforms": [{"transform": "diff"}]}
    one = StreamingAnomalyDetector("one", executor=InlineExecutor(), **config)
    many = StreamingAnomalyDetector("many", executor=InlineExecutor(), **config)

    async def feed() -> list:
        return [await one.process(p) for p in data]

    singles = asyncio.run(feed())
    batched = many.process_batch_sync(data[:333]) + many.process_batch_sync(data[333:])
    assert [r.model_version for r in singles] == [r.model_version for r in batched]
    assert singles[-1].model_version > 10
    for s, b in zip(singles, batched):
        assert (s.score is None) == (b.score is None)
        if s.score is not None:
            assert s.score == pytest.approx(b.score, rel=1e-9, abs=1e-12)
            assert s.is_anomaly == b.is_anomaly
        assert s.samples_collected == b.samples_collected and s.samples_until_ready == b.samples_until_ready
    assert one.get_stats()["anomalies_detected"] == many.get_stats()["anomalies_detected"]


class JoiningPool(ThreadPoolExecutor):
    """A real worker thread whose ``submit`` returns only once the task has finished.

    Landing then depends on the detector polling its future between chunks, not on how fast
    this machine happens to fit: the test is deterministic on a loaded CI runner.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        self.submitted += 1
        future = super().submit(fn, *args, **kwargs)
        future.exception()  # waits; a failed fit is still delivered through the future
        return future


def test_a_burst_runs_at_most_one_retrain_at_a_time() -> None:
    pool = CountingPool()
    try:
        detector = StreamingAnomalyDetector("burst", min_samples=50, retrain_interval=100, executor=pool)
        results = detector.process_batch_sync(points(10_000, seed=2))  # one synchronous call
        versions = [r.model_version for r in results]
        assert versions == sorted(versions) and versions[0] == 0 and versions[-1] >= 1
        assert pool.max_in_flight == 1
        assert 1 <= pool.submitted <= 10_000 // 100
        assert detector.get_stats()["retrains_started"] == pool.submitted
    finally:
        pool.shutdown()


def test_retrains_land_within_one_burst() -> None:
    pool = JoiningPool()
    try:
        detector = StreamingAnomalyDetector("burst-lands", min_samples=50, retrain_interval=100, executor=pool)
        results = detector.process_batch_sync(points(10_000, seed=2))
        versions = [r.model_version for r in results]
        assert versions == sorted(versions)
        # Cold fit at point 50, then one retrain per 100 points, each picked up within a chunk.
        assert versions[-1] >= 90, "retrains must land during a call that never yields"
        assert detector.get_stats()["retrains_completed"] == versions[-1] - 1
    finally:
        pool.shutdown()


def test_a_caller_that_never_yields_still_sees_retrains_land() -> None:
    """Ticks awaited back to back, never yielding, until two retrains have landed.

    Bounded by a generous deadline rather than a point count: how many ticks a fit on another
    thread takes depends on the machine, landing at all is the property.
    """
    pool = CountingPool()
    detector = StreamingAnomalyDetector("no-yield", min_samples=50, retrain_interval=100, executor=pool)
    data = points(5000, seed=3)
    ran_meanwhile: list[bool] = []

    async def main() -> tuple[int, bool, int]:
        probe = asyncio.get_running_loop().create_task(asyncio.sleep(0))
        probe.add_done_callback(lambda _: ran_meanwhile.append(True))
        version, fed = 0, 0
        deadline = time.monotonic() + 120
        while version < 3 and time.monotonic() < deadline:
            result = await detector.process(data[50 + fed % (len(data) - 50)])  # past cold start
            version, fed = result.model_version, fed + 1
        seen = bool(ran_meanwhile)
        await probe
        return version, seen, fed

    detector.process_batch_sync(data[:50])
    try:
        version, loop_ran, fed = asyncio.run(main())
    finally:
        pool.shutdown()
    assert not loop_ran, "process() yielded to the event loop"
    assert version >= 3, f"only {version - 1} retrain(s) landed in {fed} ticks"
    assert pool.max_in_flight == 1


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"a": 1.0, "b": 2.0}, "missing key(s) 'c'"),
        ({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, "unexpected key(s) 'd'"),
        ({"a": 1.0, "b": "2", "c": 3.0}, "key 'b' must be a number, got str"),
        ({"a": 1.0, "b": True, "c": 3.0}, "key 'b' must be a number, got a boolean"),
        ({"a": 1.0, "b": None, "c": 3.0}, "key 'b' must be a number"),
        ({"a": 1.0, "b": float("nan"), "c": 3.0}, "must be a finite number"),
        ({"a": 1.0, "b": float("inf"), "c": 3.0}, "must be a finite number"),
        ({"a": 1.0, "b": 10**400, "c": 3.0}, "must be a finite number"),
        ([1.0, 2.0, 3.0], "must be an object"),
    ],
)
def test_a_bad_point_is_refused_and_leaves_the_detector_healthy(point, message) -> None:
    detector = StreamingAnomalyDetector("bad", min_samples=20, retrain_interval=30, executor=InlineExecutor())
    detector.process_batch_sync(points(40))
    before = detector.get_stats()
    with pytest.raises(InvalidInput) as err:
        detector.process_sync(point)
    assert message in err.value.detail
    after = detector.get_stats()
    assert {k: after[k] for k in ("total_processed", "model_version", "samples_collected")} == {
        k: before[k] for k in ("total_processed", "model_version", "samples_collected")}
    good = detector.process_sync({"c": 0.1, "a": 0.2, "b": -0.3})  # matched by name, not order
    assert good.score is not None and good.status in (DetectorStatus.READY, DetectorStatus.RETRAINING)


def test_a_batch_with_a_bad_point_is_refused_whole() -> None:
    detector = StreamingAnomalyDetector("bad-batch", min_samples=10, executor=InlineExecutor())
    batch = points(30)
    batch[17] = {"a": 1.0, "b": 2.0}
    with pytest.raises(InvalidInput, match="point 17: missing key"):
        detector.process_batch_sync(batch)
    assert detector.get_stats()["total_processed"] == 0 and detector.columns is None
    del batch[17]
    assert detector.process_batch_sync(batch)[-1].model_version == 1


def test_the_first_point_fixes_the_keys_only_if_it_is_valid() -> None:
    detector = StreamingAnomalyDetector("first", min_samples=5, executor=InlineExecutor())
    with pytest.raises(InvalidInput):
        detector.process_sync({"x": "hot"})
    with pytest.raises(InvalidInput):
        detector.process_sync({})
    assert detector.columns is None
    detector.process_sync({"y": 1.0, "x": 2.0})
    assert detector.columns == ("x", "y")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_samples": 2000, "window_size": 1000}, InvalidInput, "min_samples (2000) > window_size (1000)"),
        ({"backend": "nope"}, NotFound, "unknown backend 'nope'"),
        ({"contamination": 0.7}, InvalidInput, "contamination"),
        ({"retrain_interval": 0}, InvalidInput, "retrain_interval"),
        ({"min_samples": 1}, InvalidInput, "min_samples"),
        ({"params": {"n_estimators": 10}}, InvalidInput, "unknown parameter"),
        ({"rolling_windows": [2000], "window_size": 1000}, InvalidInput, "looks back 2000 rows"),
        ({"threshold": float("nan")}, InvalidInput, "threshold"),
        ({"model_id": "a b"}, InvalidInput, "invalid stream id"),
    ],
)
def test_bad_settings_are_named(kwargs, error, message) -> None:
    with pytest.raises(error) as err:
        StreamingAnomalyDetector(**{"model_id": "cfg", **kwargs})
    assert message in str(err.value)


def test_learned_threshold_keeps_flagged_share_near_contamination_and_flags_spikes() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6000, 3))
    spikes = np.arange(499, 6000, 500)
    X[spikes, rng.integers(0, 3, spikes.size)] = 6.0 * rng.choice([-1.0, 1.0], spikes.size)
    detector = StreamingAnomalyDetector("quality", contamination=0.05, executor=InlineExecutor())
    out = detector.ingest([{"a": r[0], "b": r[1], "c": r[2]} for r in X.tolist()])
    normal = out.scored.copy()
    normal[spikes] = False
    assert 0.025 <= out.flag[normal].mean() <= 0.075
    assert out.flag[spikes].all()


def test_fixed_threshold_is_applied_on_the_score_scale() -> None:
    detector = StreamingAnomalyDetector("fixed", min_samples=30, threshold=0.6, executor=InlineExecutor())
    results = detector.process_batch_sync(points(300))
    scored = [r for r in results if r.score is not None]
    assert all(r.threshold == 0.6 for r in results)
    assert all(r.is_anomaly == (r.score > 0.6) for r in scored)
    assert any(r.is_anomaly for r in scored) and not all(r.is_anomaly for r in scored)


def test_a_fit_that_fails_keeps_the_detector_collecting_and_retries() -> None:
    # MCD cannot fit constant data; the detector must say why and recover once data vary.
    detector = StreamingAnomalyDetector("mcd", backend="mcd", min_samples=20, retrain_interval=10,
                                        executor=InlineExecutor())
    results = detector.process_batch_sync([{"a": 1.0, "b": 1.0}] * 25)
    assert all(r.score is None for r in results)
    stats = detector.get_stats()
    assert stats["status"] == "collecting" and "could not fit" in stats["last_error"]
    assert results[-1].samples_until_ready == 5  # next attempt after retrain_interval points
    varied = [{"a": p["a"], "b": p["b"]} for p in points(40, keys="ab")]
    results = detector.process_batch_sync(varied)
    first_scored = next(i for i, r in enumerate(results) if r.score is not None)
    # Attempts happen every retrain_interval points (30, 40, 50... overall); MCD keeps failing
    # while constant rows are the majority of the window, then succeeds.
    assert (first_scored + 26) % 10 == 0
    assert results[first_scored].model_version == 1 and detector.model_version >= 1
    assert detector.get_stats()["last_error"] is None


def test_reset_returns_to_cold_start_and_keeps_the_keys() -> None:
    detector = StreamingAnomalyDetector("reset", min_samples=20, retrain_interval=20, executor=InlineExecutor())
    detector.process_batch_sync(points(100))
    assert detector.model_version > 1
    detector.reset()
    stats = detector.get_stats()
    assert stats["status"] == "collecting" and stats["model_version"] == 0
    assert stats["total_processed"] == 0 and stats["samples_collected"] == 0
    with pytest.raises(InvalidInput):
        detector.process_sync({"other": 1.0})
    assert detector.process_sync(points(1)[0]).samples_until_ready == 19


def test_checkpoint_state_restores_the_same_detector() -> None:
    config = {"min_samples": 30, "retrain_interval": 40, "window_size": 100, "rolling_windows": [5]}
    data = points(400, seed=6)
    original = StreamingAnomalyDetector("ckpt", executor=InlineExecutor(), **config)
    original.process_batch_sync(data[:250])
    state = original.checkpoint_state()
    restored = StreamingAnomalyDetector("ckpt", executor=InlineExecutor(), **config)
    restored.restore_state(state)
    for key in ("model_version", "total_processed", "samples_collected", "samples_since_retrain", "threshold"):
        assert restored.get_stats()[key] == original.get_stats()[key], key
    a = original.process_batch_sync(data[250:])
    b = restored.process_batch_sync(data[250:])
    assert [(r.score, r.model_version) for r in a] == [(r.score, r.model_version) for r in b]


def test_retrains_run_off_the_calling_thread() -> None:
    seen: set[str] = set()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tock")

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            def wrapped():
                seen.add(threading.current_thread().name)
                return fn(*args, **kwargs)

            return pool.submit(wrapped)

    detector = StreamingAnomalyDetector("where", min_samples=20, retrain_interval=20, executor=Recording())
    detector.process_batch_sync(points(200))
    deadline = time.monotonic() + 30
    while detector.model_version < 2 and time.monotonic() < deadline:
        detector.process_sync(points(1, seed=9)[0])
        time.sleep(0.01)
    pool.shutdown()
    assert detector.model_version >= 2
    assert seen and all(name.startswith("tock") for name in seen)
    assert threading.current_thread().name not in seen


def test_retrains_in_worker_processes_land() -> None:
    from anomd.streaming.executors import RetrainPool

    pool = RetrainPool("process", 1)
    try:
        detector = StreamingAnomalyDetector("proc", min_samples=20, retrain_interval=20, rolling_windows=[3],
                                            executor=pool)
        detector.process_batch_sync(points(100))  # first retrains run on threads while workers start
        assert pool.warm(timeout=120), "worker process did not start"
        started = detector.get_stats()["retrains_completed"]
        deadline = time.monotonic() + 60
        data = points(5000, seed=11)
        i = 0
        while detector.get_stats()["retrains_completed"] < started + 3 and time.monotonic() < deadline:
            detector.process_batch_sync(data[i % 5000 : i % 5000 + 20])
            i += 20
            time.sleep(0.01)
        stats = detector.get_stats()
        assert stats["retrains_completed"] >= started + 3 and stats["retrains_failed"] == 0, stats
    finally:
        pool.shutdown()


def test_try_process_now_never_waits_and_never_fits() -> None:
    detector = StreamingAnomalyDetector("now", min_samples=20, executor=InlineExecutor())
    data = points(60, seed=12)
    assert detector.try_process_now(data[0]) is None  # collecting: a fit may be due
    detector.process_batch_sync(data[:30])
    restored = StreamingAnomalyDetector("now", min_samples=20, executor=InlineExecutor())
    restored.restore_state(detector.checkpoint_state())
    assert restored.try_process_now(data[30]) is None  # its scoring speed is not known yet
    result = detector.try_process_now(data[30])
    assert result is not None and result.score is not None
    with detector._lock:  # another thread busy with the detector
        assert detector.try_process_now(data[31]) is None
    assert detector.try_process_now(data[32], budget_s=0.0) is None  # over budget
    assert detector.get_stats()["total_processed"] == 31
    assert restored.get_stats()["total_processed"] == 30
