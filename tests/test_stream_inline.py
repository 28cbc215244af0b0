"""The server's event-loop policy for single stream points (``anomd.server.stream_inline``)."""

from __future__ import annotations

import numpy as np

from anomd import StreamingAnomalyDetector
from anomd.server.stream_inline import InlineTicks
from anomd.streaming import InlineExecutor
from anomd.streaming.manager import LiveStream


def points(n: int, seed: int = 0) -> list[dict[str, float]]:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    return [{"a": r[0], "b": r[1], "c": r[2]} for r in X.tolist()]


def keep(detector, result):
    return result


def test_a_single_point_runs_inline_only_when_cheap_known_and_free() -> None:
    policy = InlineTicks(budget_s=0.001)
    detector = StreamingAnomalyDetector("now", min_samples=20, retrain_interval=50, executor=InlineExecutor())
    stream = LiveStream(detector)
    data = points(80, seed=1)
    assert policy.try_now(stream, data[0], keep) is None  # collecting, and its cost is not known yet
    stream.run(lambda d: d.process_batch(data[:30]))
    assert policy.try_now(stream, data[30], keep) is None  # still unknown: nothing measured it
    stream.run(lambda d: policy.process(d, data[30]))  # the worker path measures a plain tick
    result = policy.try_now(stream, data[31], keep)
    assert result is not None and result.score is not None
    with stream.lock:  # another thread is busy with the stream: never wait for it
        assert policy.try_now(stream, data[32], keep) is None
    assert InlineTicks(budget_s=0.0).try_now(stream, data[32], keep) is None  # over budget
    assert detector.get_stats()["total_processed"] == 32


def test_points_that_fit_or_wait_for_a_landing_go_to_a_worker() -> None:
    policy = InlineTicks(budget_s=1.0)
    detector = StreamingAnomalyDetector("due", min_samples=20, retrain_interval=10, retrain_lag=5)
    stream = LiveStream(detector)
    data = points(60, seed=2)
    for point in data[:19]:
        stream.run(lambda d, p=point: policy.process(d, p))
    assert detector.work_due()  # the 20th point fits the first model
    assert policy.try_now(stream, data[19], keep) is None
    for point in data[19:]:
        due = detector.work_due()
        result = policy.try_now(stream, point, keep)
        if due:
            assert result is None
            stream.run(lambda d, p=point: policy.process(d, p))
        else:
            assert result is not None
    assert detector.get_stats()["total_processed"] == 60 and detector.model_version > 2
