"""The live feed: what streams just scored, for the dashboard, without slowing the streams down.

The stream route calls :meth:`LiveFeed.publish` once per request, after the points are
processed. Publishing never blocks and never waits for a reader: it writes the points into the
stream's :class:`~anomd.ui.ring.PointRing` under a short lock and, only if someone watches that
stream, wakes the watchers' event loop. With nobody watching that is one ring write per request
(about 2.5 µs for a single point; ``python -m benchmarks ui``, figures in docs/ui.md).

A watcher (a :class:`Subscription`, one per open live chart) is not a queue of messages: it is a
cursor into the ring. It reads everything past its cursor when it wakes, so any number of
points published meanwhile costs it one read, its memory never grows, and a watcher too slow to
keep up simply finds its oldest unread points overwritten (it is told how many it missed). The
publisher does not know or care how fast anyone reads.

Alongside, the feed counts scored and flagged points for ``GET /metrics`` (the flagged share of
the Grafana board); counting is done even when the dashboard is off.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import numpy as np
import structlog

from anomd.streaming.results import BatchOutcome, StreamingResult
from anomd.ui.ring import MAX_CHART_COLUMNS, PointRing, RingSlice

log = structlog.get_logger("anomd.ui")

#: Streams whose recent points are kept; the least recently published one goes first.
MAX_STREAMS = 256


class Subscription:
    """One watcher of one stream: a cursor into its ring and a way to be woken.

    Created by :meth:`LiveFeed.watch` on the event loop that will wait on it.
    """

    __slots__ = ("_armed", "_event", "_loop", "cursor", "model_id")

    def __init__(self, model_id: str, loop: asyncio.AbstractEventLoop, cursor: int) -> None:
        self.model_id = model_id
        self.cursor = cursor
        self._loop = loop
        self._event = asyncio.Event()
        self._armed = True

    def notify(self) -> None:
        """Wakes the watcher; called by the publisher from any thread, at most once per read."""
        if self._armed:
            self._armed = False
            try:
                self._loop.call_soon_threadsafe(self._event.set)
            except RuntimeError:  # the loop is closed: the server is stopping
                pass

    async def wait(self, timeout: float) -> bool:
        """Waits until something was published (True) or ``timeout`` seconds passed (False)."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def rearm(self) -> None:
        self._event.clear()
        self._armed = True


class LiveFeed:
    """Recent points of every stream, and who is watching them.

    Args:
        history: Points kept per stream (the ``ui_live_points`` setting).
        keep: Whether to keep points at all; off (dashboard disabled), :meth:`publish` only counts.
    """

    def __init__(self, history: int = 2000, keep: bool = True) -> None:
        self.history = history
        self.keep = keep
        #: Scored and flagged points since the process started (for ``/metrics``).
        self.scored = 0
        self.flagged = 0
        self._rings: OrderedDict[str, PointRing] = OrderedDict()
        self._watchers: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self._failed = False
        #: Set when the server stops: watchers end their event streams.
        self.closed = False

    # -- the publisher's side (the stream route; event loop or worker thread) -----------------

    def publish(self, model_id: str, points: Sequence[Mapping[str, Any]],
                outcome: BatchOutcome | StreamingResult) -> None:
        """Records what one request to ``POST /stream`` scored. Never raises, never blocks long.

        Args:
            model_id: The stream.
            points: The points of the request, as sent (already accepted by the detector).
            outcome: What the detector returned for them: a :class:`StreamingResult` for one
                point processed inline, a :class:`BatchOutcome` otherwise.
        """
        try:
            self._publish(model_id, points, outcome)
        except Exception:  # the dashboard must never fail a stream request
            if not self._failed:  # once: a bug here would otherwise log on every point
                self._failed = True
                log.exception("live feed publish failed; the dashboard may miss points")

    def _publish(self, model_id: str, points: Sequence[Mapping[str, Any]],
                 outcome: BatchOutcome | StreamingResult) -> None:
        single = isinstance(outcome, StreamingResult)
        if single:
            scored = outcome.score is not None
            flagged = outcome.is_anomaly is True
        else:
            scored = int(np.count_nonzero(outcome.scored))
            flagged = int(np.count_nonzero(outcome.flag))
        if not self.keep:
            self.scored += scored  # unlocked, like streaming.totals: a rare lost count is fine
            self.flagged += flagged
            return
        now = time.time()
        first = points[0]
        if not single:
            # Rows only for the points the ring can hold, built outside the lock. The ring's
            # charted columns are these (it is made from, or checked against, the same point).
            newest = points[max(0, len(points) - self.history):]
            charted = tuple(sorted(first))[:MAX_CHART_COLUMNS]
            row = itemgetter(*charted)  # one C call per point (a tuple, or a scalar for one column)
            values = np.array(list(map(row, newest)), dtype=np.float64)
            values = values.reshape(len(newest), len(charted))
        with self._lock:
            self.scored += scored
            self.flagged += flagged
            ring = self._ring(model_id, first)
            if single:
                ring.append(now, [first[c] for c in ring.charted], outcome.score,
                            outcome.threshold, flagged)
            else:
                ring.extend(now, values, outcome.score, outcome.thresholds, outcome.flag)
            watchers = self._watchers.get(model_id)
            if watchers:
                for watcher in watchers:
                    watcher.notify()

    def _ring(self, model_id: str, point: Mapping[str, Any]) -> PointRing:
        """The stream's ring, new when the stream is new or came back with other columns."""
        ring = self._rings.get(model_id)
        if ring is not None and len(point) == len(ring.columns) and not any(
            c not in point for c in ring.charted
        ):
            self._rings.move_to_end(model_id)
            return ring
        self._rings[model_id] = ring = PointRing(sorted(point), self.history)
        self._rings.move_to_end(model_id)
        while len(self._rings) > MAX_STREAMS:
            self._rings.popitem(last=False)
        return ring

    # -- the watchers' side (the dashboard's routes, on the event loop) ----------------------

    @contextmanager
    def watch(self, model_id: str, since: int | None = None) -> Iterator[Subscription]:
        """Subscribes the running event loop to ``model_id``; unsubscribes on exit.

        Args:
            since: First point wanted; None means the whole kept history.
        """
        subscription = Subscription(model_id, asyncio.get_running_loop(), since or 0)
        with self._lock:
            self._watchers.setdefault(model_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                watchers = self._watchers.get(model_id)
                if watchers is not None:
                    watchers.discard(subscription)
                    if not watchers:
                        del self._watchers[model_id]

    def read(self, subscription: Subscription, limit: int | None = None) -> RingSlice | None:
        """What ``subscription`` has not seen yet (None if nothing), moving its cursor past it.

        A cursor beyond the stream's points (the stream was recreated, or the server restarted
        under a reconnecting client) starts over from the oldest point kept.
        """
        with self._lock:
            subscription.rearm()
            ring = self._rings.get(subscription.model_id)
            if ring is None:
                return None
            if subscription.cursor > ring.total:
                subscription.cursor = 0
            if subscription.cursor == ring.total:
                return None
            chunk = ring.since(subscription.cursor, limit)
            subscription.cursor = ring.total
            return chunk

    def close(self) -> None:
        """Wakes every watcher for the last time (the server is stopping)."""
        with self._lock:
            self.closed = True
            for watchers in self._watchers.values():
                for watcher in watchers:
                    watcher.notify()

    def watchers(self, model_id: str) -> int:
        with self._lock:
            return len(self._watchers.get(model_id, ()))

    def last_anomaly(self, model_id: str) -> tuple[int, float] | None:
        """``(seq, unix time)`` of the stream's newest flagged point seen by this process."""
        with self._lock:
            ring = self._rings.get(model_id)
            if ring is None or ring.last_anomaly_seq is None or ring.last_anomaly_time is None:
                return None
            return ring.last_anomaly_seq, ring.last_anomaly_time
