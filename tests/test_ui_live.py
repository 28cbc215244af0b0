"""The dashboard's live feed: rings of recent points and watchers that never slow a stream down."""

from __future__ import annotations

import asyncio
import math
import threading

import numpy as np

from anomd.streaming.results import BatchOutcome, DetectorStatus, StreamingResult
from anomd.ui.live import MAX_STREAMS, LiveFeed
from anomd.ui.ring import MAX_CHART_COLUMNS, PointRing


def single(score: float | None, flag: bool | None, threshold: float | None = 0.7) -> StreamingResult:
    return StreamingResult(
        score=score, is_anomaly=flag, raw_score=score, status=DetectorStatus.READY,
        model_version=1, samples_collected=10, samples_until_ready=0, threshold=threshold,
    )


def batch(scores: list[float | None], flags: list[bool], threshold: float = 0.7) -> BatchOutcome:
    n = len(scores)
    scored = np.array([s is not None for s in scores])
    return BatchOutcome(
        raw=np.array([math.nan if s is None else s for s in scores]),
        score=np.array([math.nan if s is None else s for s in scores]),
        flag=np.array(flags), scored=scored, until_ready=np.zeros(n, dtype=np.int64),
        version=np.ones(n, dtype=np.int64), status=np.ones(n, dtype=np.int64),
        collected=np.arange(n), thresholds=np.where(scored, threshold, math.nan), threshold=threshold,
    )


def points(n: int, start: float = 0.0) -> list[dict[str, float]]:
    return [{"b": start + i, "a": -(start + i)} for i in range(n)]


# -- PointRing ------------------------------------------------------------------------------


def test_ring_grows_by_doubling_then_wraps_keeping_the_newest() -> None:
    ring = PointRing(["a", "b"], capacity=100)
    assert ring.size == 64  # small streams stay small
    for i in range(70):
        ring.append(float(i), [i, -i], 0.1 * (i % 10), 0.5, i == 65)
    assert ring.size == 100 and ring.total == 70
    chunk = ring.since(0)
    assert chunk.seq.tolist() == list(range(70)) and chunk.dropped == 0
    assert chunk.values[0].tolist() == [float(i) for i in range(70)]  # one row per column
    for i in range(70, 250):
        ring.append(float(i), [i, -i], 0.0, 0.5, False)
    assert ring.size == 100  # never past capacity
    chunk = ring.since(0)
    assert chunk.seq.tolist() == list(range(150, 250))
    assert chunk.dropped == 150  # the reader asked from 0; 150 points were overwritten
    assert chunk.time.tolist() == [float(i) for i in range(150, 250)]
    assert (ring.last_anomaly_seq, ring.last_anomaly_time) == (65, 65.0)


def test_ring_extend_skips_what_it_cannot_hold_but_counts_and_remembers_it() -> None:
    ring = PointRing(["a"], capacity=10)
    flags = np.zeros(25, dtype=bool)
    flags[3] = True  # flagged, then overwritten within the same batch
    ring.extend(5.0, np.arange(15, 25, dtype=float)[:, None], np.linspace(0, 1, 25),
                np.full(25, 0.5), flags)
    assert ring.total == 25
    chunk = ring.since(0)
    assert chunk.seq.tolist() == list(range(15, 25))
    assert chunk.values[0].tolist() == [float(v) for v in range(15, 25)]
    assert ring.last_anomaly_seq == 3 and ring.last_anomaly_time == 5.0


def test_ring_extend_past_capacity_after_single_points_keeps_the_newest() -> None:
    # A batch larger than the capacity, into a ring that still has its first small size and
    # holds points: the skipped points must not count as stored when the ring grows.
    ring = PointRing(["a"], capacity=200)
    for i in range(3):
        ring.append(float(i), [i], 0.1, 0.5, False)
    count = 500
    ring.extend(9.0, np.arange(300, 500, dtype=float)[:, None], np.zeros(count),
                np.full(count, 0.5), np.zeros(count, dtype=bool))
    assert ring.total == 503 and ring.size == 200
    assert ring.since(0).values[0].tolist() == [float(v) for v in range(300, 500)]


def test_ring_since_honours_the_cursor_and_the_limit() -> None:
    ring = PointRing(["a"], capacity=50)
    for i in range(30):
        ring.append(1.0, [i], 0.2, math.nan if i < 5 else 0.6, False)
    assert ring.since(30).seq.tolist() == []
    newest = ring.since(10, limit=5)
    assert newest.seq.tolist() == [25, 26, 27, 28, 29] and newest.dropped == 15
    head = ring.since(0)
    assert np.isnan(head.threshold[:5]).all() and (head.threshold[5:] == 0.6).all()


def test_ring_charts_at_most_sixteen_columns() -> None:
    columns = [f"c{i:02d}" for i in range(40)]
    ring = PointRing(columns, capacity=8)
    assert ring.charted == tuple(columns[:MAX_CHART_COLUMNS])


# -- LiveFeed: publishing -------------------------------------------------------------------


def test_publish_keeps_single_and_batch_points_in_order_with_their_results() -> None:
    feed = LiveFeed(history=100)
    feed.publish("s", [{"b": 2.0, "a": 1.0}], single(None, None, None))  # cold start
    feed.publish("s", points(3, 10), batch([0.2, 0.9, None], [False, True, False]))
    feed.publish("s", [{"a": 7.0, "b": 8.0}], single(0.95, True))

    async def read() -> None:
        with feed.watch("s") as watcher:
            chunk = feed.read(watcher)
            assert chunk is not None
            assert chunk.columns == ("a", "b")  # sorted, as the detector sorts them
            assert chunk.seq.tolist() == [0, 1, 2, 3, 4]
            assert chunk.values.tolist() == [[1.0, -10.0, -11.0, -12.0, 7.0],
                                             [2.0, 10.0, 11.0, 12.0, 8.0]]
            score = chunk.score.tolist()
            assert math.isnan(score[0]) and score[1:3] == [0.2, 0.9] and math.isnan(score[3])
            assert chunk.flag.tolist() == [False, False, True, False, True]
            assert math.isnan(chunk.threshold[0]) and chunk.threshold[4] == 0.7
            assert feed.read(watcher) is None  # nothing new

    asyncio.run(read())
    assert (feed.scored, feed.flagged) == (3, 2)
    seq, when = feed.last_anomaly("s")
    assert seq == 4 and when > 0


def test_a_stream_recreated_with_other_columns_starts_a_new_ring() -> None:
    feed = LiveFeed(history=100)
    feed.publish("s", points(5), batch([0.1] * 5, [False] * 5))
    feed.publish("s", [{"temp": 1.0}], single(0.3, False))

    async def read() -> None:
        with feed.watch("s", since=5) as watcher:  # a cursor past the new ring: start over
            chunk = feed.read(watcher)
            assert chunk is not None and chunk.columns == ("temp",) and chunk.seq.tolist() == [0]

    asyncio.run(read())


def test_only_the_most_recent_streams_keep_points() -> None:
    feed = LiveFeed(history=100)
    for i in range(MAX_STREAMS + 5):
        feed.publish(f"s{i}", [{"v": 1.0}], single(0.9, True))
    assert feed.last_anomaly("s0") is None  # dropped first
    assert feed.last_anomaly(f"s{MAX_STREAMS + 4}") is not None
    assert len(feed._rings) == MAX_STREAMS


def test_publish_with_the_dashboard_off_only_counts() -> None:
    feed = LiveFeed(keep=False)
    feed.publish("s", points(4), batch([0.1, 0.9, 0.95, None], [False, True, True, False]))
    feed.publish("s", [{"v": 1.0}], single(0.99, True))
    assert (feed.scored, feed.flagged) == (4, 3)
    assert feed.last_anomaly("s") is None and not feed._rings


def test_publish_never_raises_and_reports_a_failure_once() -> None:
    feed = LiveFeed(history=10)
    feed.publish("s", [{"v": 1.0}], single(0.5, False))
    for _ in range(3):  # a point without the stream's key: a bug upstream, not the caller's
        feed.publish("s", [{"v": 1.0}, {"w": 2.0}], batch([0.1, 0.2], [False, False]))
    assert feed._failed
    feed.publish("s", [{"v": 3.0}], single(0.5, False))  # the feed still works afterwards

    async def read() -> None:
        with feed.watch("s") as watcher:
            chunk = feed.read(watcher)
            assert chunk is not None and chunk.values[0].tolist()[-1] == 3.0

    asyncio.run(read())


# -- LiveFeed: watchers ---------------------------------------------------------------------


def test_a_watcher_is_woken_from_another_thread_and_reads_everything_in_one_go() -> None:
    feed = LiveFeed(history=1000)

    async def watch() -> None:
        with feed.watch("s") as watcher:
            assert feed.watchers("s") == 1
            assert feed.read(watcher) is None
            assert not await watcher.wait(0.05)  # nothing published yet

            def publisher() -> None:
                for i in range(200):
                    feed.publish("s", [{"v": float(i)}], single(0.1, False))

            thread = threading.Thread(target=publisher)
            thread.start()
            assert await watcher.wait(5)
            thread.join()
            chunk = feed.read(watcher)
            assert chunk is not None and chunk.seq.tolist() == list(range(200))
            assert chunk.values[0].tolist() == [float(i) for i in range(200)]
        assert feed.watchers("s") == 0

    asyncio.run(watch())


def test_a_slow_watcher_loses_the_oldest_points_not_the_publisher_its_speed() -> None:
    feed = LiveFeed(history=100)

    async def watch() -> None:
        with feed.watch("s") as slow:
            for i in range(1000):  # never waits for the watcher, which reads nothing meanwhile
                feed.publish("s", [{"v": float(i)}], single(0.1, False))
            chunk = feed.read(slow)
            assert chunk is not None
            assert chunk.seq.tolist() == list(range(900, 1000)) and chunk.dropped == 900
            assert feed.read(slow) is None

    asyncio.run(watch())


def test_close_wakes_every_watcher() -> None:
    feed = LiveFeed()

    async def watch() -> None:
        with feed.watch("a") as a, feed.watch("b") as b:
            asyncio.get_running_loop().call_later(0.05, feed.close)
            assert await a.wait(5) and await b.wait(5)
            assert feed.closed

    asyncio.run(watch())
