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
    singles = [one.process(p) for p in data]
    batched = many.process_batch(data[:333]) + many.process_batch(data[333:])
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
        ({"rolling_windows": [5000], "window_size": 1000}, InvalidInput, "looks back 5000 rows, more than 4 times"),
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
    detector = StreamingAnomalyDetector("quality", contamination=0.05, retrain_lag=0)
    out = detector.process_many([{"a": r[0], "b": r[1], "c": r[2]} for r in X.tolist()])
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


# -- the River-style core: score_one, learn_one, process ------------------------------------------


def test_score_one_changes_nothing_and_scores_as_process_would() -> None:
    detector = StreamingAnomalyDetector("pure", min_samples=20, retrain_interval=15, rolling_windows=[3],
                                        executor=InlineExecutor())
    data = points(100, seed=21)
    assert detector.score_one(data[0]).score is None and detector.columns is None  # nothing fixed
    detector.process_batch(data[:60])
    before = detector.get_stats()
    probe = detector.score_one(data[60])
    again = detector.score_one(data[60])
    assert detector.get_stats() == before
    assert probe == again and probe.score is not None
    twin = StreamingAnomalyDetector("twin", min_samples=20, retrain_interval=15, rolling_windows=[3],
                                    executor=InlineExecutor())
    twin.process_batch(data[:60])
    processed = twin.process(data[60])
    assert (processed.score, processed.raw_score, processed.is_anomaly, processed.model_version) == (
        probe.score, probe.raw_score, probe.is_anomaly, probe.model_version)
    with pytest.raises(InvalidInput, match="missing key"):
        detector.score_one({"a": 1.0})


def test_learn_one_alone_works_from_cold_start() -> None:
    detector = StreamingAnomalyDetector("learner", min_samples=25, retrain_interval=20, retrain_lag=5,
                                        executor=InlineExecutor())
    data = points(200, seed=22)
    for i, point in enumerate(data):
        detector.learn_one(point)
        if i == 23:
            assert detector.model_version == 0 and detector.status is DetectorStatus.COLLECTING
        if i == 24:
            assert detector.model_version == 1  # the 25th point completes the cold start
    stats = detector.get_stats()
    # Retrains start after points 45, 65, ... (every 20 learned) and land 5 points later.
    assert stats["retrains_started"] == (200 - 25) // 20
    assert stats["model_version"] == 1 + (200 - 25 - 5) // 20
    assert stats["points_scored"] == 0 and stats["total_processed"] == 200
    assert detector.score_one(points(1, seed=23)[0]).score is not None


def test_process_is_score_one_then_learn_one() -> None:
    config = {"min_samples": 30, "retrain_interval": 25, "retrain_lag": 7, "transforms": [{"transform": "diff"}]}
    data = points(400, seed=24)
    whole = StreamingAnomalyDetector("whole", executor=InlineExecutor(), **config)
    halves = StreamingAnomalyDetector("halves", executor=InlineExecutor(), **config)
    for point in data:
        combined = whole.process(point)
        if halves.model_version == 0:
            halves.learn_one(point)  # cold start: learned, then scored on the model it completed
            if halves.model_version:
                assert combined.score is not None
            continue
        scored = halves.score_one(point)
        halves.learn_one(point)
        assert (scored.score, scored.is_anomaly, scored.model_version) == (
            combined.score, combined.is_anomaly, combined.model_version)
    assert whole.model_version == halves.model_version > 10


def test_results_can_still_be_awaited_as_in_anomd_0_1() -> None:
    detector = StreamingAnomalyDetector("await", min_samples=10, executor=InlineExecutor())
    data = points(30, seed=25)

    async def main() -> tuple:
        batch = await detector.process_batch(data[:20])
        one = await detector.process(data[20])
        return batch, one

    batch, one = asyncio.run(main())
    assert len(batch) == 20 and batch[-1].model_version == 1 and one.score is not None


# -- settings as attributes -----------------------------------------------------------------------


def test_every_setting_is_a_read_only_attribute_under_its_constructor_name() -> None:
    import inspect

    wiring = {"plugins", "settings", "spec", "executor", "default_params"}
    names = [n for n in inspect.signature(StreamingAnomalyDetector).parameters if n not in wiring]
    values = {
        "model_id": "attrs", "backend": "knn", "min_samples": 30, "retrain_interval": 40,
        "window_size": 300, "rolling_windows": [4], "include_lags": True, "lag_periods": [2],
        "contamination": 0.05, "threshold": 0.9, "params": {"n_neighbors": 7}, "retrain_lag": 3,
        "transforms": [{"transform": "diff", "periods": [1]}],
        "postprocessor": {"postprocessor": "likelihood", "short": 5}, "pipeline": "tabular",
        "timestamp_field": "ts", "late_points": "reject",
    }
    assert set(names) == set(values), "a new constructor argument needs a read-only attribute"
    detector = StreamingAnomalyDetector(**values)
    stats = detector.get_stats()
    for name, value in values.items():
        assert getattr(detector, name) == value, name
        shown = stats["model_id"] if name == "model_id" else stats["config"][name]
        assert shown == value, name
        with pytest.raises(AttributeError, match="fixed when a detector is created|has no setter"):
            setattr(detector, name, value)
    detector.params["n_neighbors"] = 1  # a copy: the detector's settings cannot be changed this way
    assert detector.params == {"n_neighbors": 7}
    defaults = StreamingAnomalyDetector("defaults")  # the first point settles the pipeline
    assert (defaults.pipeline, defaults.backend, defaults.window_size, defaults.threshold) == ("auto", None, 1000, None)
    defaults.process({"temp": 1.0})
    assert (defaults.pipeline, defaults.backend, defaults.retrain_lag) == ("tabular", "ecod", None)
    assert defaults.get_stats()["retrain_lag"] == defaults.retrain_interval == 100
    series = StreamingAnomalyDetector("series")
    series.process({"timestamp": "2024-03-01T12:00:00Z", "temp": 1.0})
    assert (series.pipeline, series.backend, series.retrain_lag, series.contamination) == ("series", "surprise", 0, 0.01)


# -- deterministic landing and replay -------------------------------------------------------------


class SlowPool(ThreadPoolExecutor):
    """Worker threads whose fits take at least ``delay`` seconds (a loaded machine)."""

    def __init__(self, delay: float) -> None:
        super().__init__(max_workers=2)
        self.delay = delay

    def submit(self, fn, /, *args, **kwargs) -> Future:
        def slow():
            time.sleep(self.delay)
            return fn(*args, **kwargs)

        return super().submit(slow)


@pytest.mark.parametrize("lag", [0, 1, 13, 40, 95])
def test_a_retrain_lands_exactly_retrain_lag_points_after_it_starts(lag: int) -> None:
    pool = SlowPool(0.02)
    try:
        detector = StreamingAnomalyDetector("lands", min_samples=30, retrain_interval=40, retrain_lag=lag,
                                            executor=pool)
        versions = [detector.process(p).model_version for p in points(400, seed=26)]
    finally:
        pool.shutdown()
    changes = [i for i in range(1, len(versions)) if versions[i] != versions[i - 1]]
    # Cold fit at point index 29 (the 30th point); a retrain starts after every 40th point
    # learned since the last start, or at once when the previous one lands late (lag > 40).
    expected, start = [29], 29 + 40
    while start + lag + 1 < 400:
        expected.append(start + lag + 1)  # the first point scored by the new model
        start = start + max(40, lag)
    assert changes == expected


def replay(executor, data, **config) -> tuple[np.ndarray, ...]:
    detector = StreamingAnomalyDetector("replay", executor=executor, **config)
    out = detector.process_many(data)
    return out.raw, out.score, out.flag, out.version


@pytest.mark.parametrize("config", [{}, {"rolling_windows": [5], "retrain_interval": 30, "retrain_lag": 12}])
def test_replays_are_identical_whatever_runs_the_retrains(config) -> None:
    data = points(2000, seed=27)
    reference = replay(InlineExecutor(), data, **config)
    pools = [ThreadPoolExecutor(1), SlowPool(0.02)]
    try:
        for pool in pools:
            for _ in range(2):
                for got, want in zip(replay(pool, data, **config), reference):
                    np.testing.assert_array_equal(got, want)
    finally:
        for pool in pools:
            pool.shutdown()
    one_by_one = StreamingAnomalyDetector("loop", executor=SlowPool(0.01), **config)
    versions = [one_by_one.process(p).model_version for p in data]
    np.testing.assert_array_equal(versions, reference[3])


def test_a_checkpoint_carries_a_retrain_in_flight() -> None:
    config = {"min_samples": 30, "retrain_interval": 50, "retrain_lag": 40, "window_size": 200}
    data = points(600, seed=28)
    pool = SlowPool(0.05)
    try:
        original = StreamingAnomalyDetector("inflight", executor=pool, **config)
        original.process_batch(data[:100])  # a retrain started after point 80, lands after 120
        state = original.checkpoint_state()
        assert state.pending is not None and state.pending.land_at == 120
        restored = StreamingAnomalyDetector("inflight", executor=pool, **config)
        restored.restore_state(state)
        a = original.process_many(data[100:])
        b = restored.process_many(data[100:])
    finally:
        pool.shutdown()
    np.testing.assert_array_equal(a.version, b.version)
    np.testing.assert_array_equal(a.score, b.score)
    assert a.version[20] == a.version[19] + 1  # landed after point 120, as scheduled


@pytest.mark.data("nab")
def test_a_real_series_replays_identically_on_threads_and_processes() -> None:
    """nyc_taxi (10,320 points), default detector, replayed twice on threads and on processes."""
    from benchmarks.nab import load_series

    from anomd.streaming import process_executor

    _, _, values, _ = next(s for s in load_series() if s[0].endswith("nyc_taxi.csv"))
    data = [{"value": v} for v in values.tolist()]
    threads, processes = ThreadPoolExecutor(1), process_executor(1)
    try:
        runs = [replay(ex, data) for ex in (threads, threads, processes, processes)]
    finally:
        threads.shutdown()
        processes.shutdown()
    for run in runs[1:]:
        for got, want in zip(run, runs[0]):
            np.testing.assert_array_equal(got, want)
    assert runs[0][3][-1] > 90  # retrains really landed: one per 100 points after cold start
