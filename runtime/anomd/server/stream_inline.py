"""Which single stream points the server processes on the event loop itself.

Handing a point to a worker thread costs tens of microseconds, more than a typical tick of a
fast backend (about 15 µs for ``ecod`` with three features). So a single point for a live
stream is processed right on the event loop when three things hold: recent single points of
that stream took less than :data:`BUDGET_S`, the point will neither fit a model nor wait for
a retrain to land (``detector.work_due()``), and no other thread holds the stream. Everything
else (batches, cold-start fits, landing waits, restores from storage, slow backends, a
stream's first points while its cost is unknown) goes to the worker threads. The policy never
changes a result, only where the work runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from anomd.streaming.detector import StreamingAnomalyDetector
from anomd.streaming.manager import BUSY, LiveStream
from anomd.streaming.results import StreamingResult

T = TypeVar("T")

#: A single point whose processing recently took less than this runs on the event loop.
BUDGET_S = 0.001
#: Weight of the newest measurement in the moving average of a stream's cost per point.
_SMOOTHING = 0.05


class InlineTicks:
    """The event-loop policy for single points, with a moving cost average per detector."""

    def __init__(self, budget_s: float = BUDGET_S) -> None:
        self.budget_s = budget_s
        self._cost: WeakKeyDictionary[StreamingAnomalyDetector, float] = WeakKeyDictionary()

    def try_now(
        self,
        stream: LiveStream,
        point: Mapping[str, Any],
        respond: Callable[[StreamingAnomalyDetector, StreamingResult], T],
    ) -> T | None:
        """Processes ``point`` now if that is cheap and nobody holds the stream; else None.

        ``respond(detector, result)`` runs under the stream's lock too, so it sees the detector
        exactly as this point left it.

        Raises:
            InvalidInput: A bad point (nothing changed).
            DetectorClosed: The stream was evicted meanwhile.
        """
        detector = stream.detector
        cost = self._cost.get(detector)
        if cost is None or cost >= self.budget_s:
            return None
        result = stream.try_run(lambda d: None if d.work_due() else respond(d, self._timed(d, point)))
        return None if result is BUSY else result

    def process(self, detector: StreamingAnomalyDetector, point: Mapping[str, Any]) -> StreamingResult:
        """``detector.process(point)`` (on a worker thread), measured if it is a plain tick: a
        fit or a landing wait says nothing about what the stream's next points cost."""
        return detector.process(point) if detector.work_due() else self._timed(detector, point)

    def _timed(self, detector: StreamingAnomalyDetector, point: Mapping[str, Any]) -> StreamingResult:
        started = time.perf_counter()
        result = detector.process(point)
        took = time.perf_counter() - started
        cost = self._cost.get(detector)
        self._cost[detector] = took if cost is None else cost + (took - cost) * _SMOOTHING
        return result
