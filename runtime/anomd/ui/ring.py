"""The newest points of one stream, kept for the dashboard's live chart.

Numpy arrays used as a ring: appending writes one slot per array, reading copies the slots a
reader has not seen yet. The arrays start small and double up to ``capacity`` (a stream that
only ever sends a few points costs a few kilobytes, not the full history), and never grow after
that: the oldest point is overwritten.

Not thread-safe on its own: :class:`anomd.ui.live.LiveFeed` holds a lock around every call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Value columns a chart shows at most; wider streams are charted by their first ones (by name).
MAX_CHART_COLUMNS = 16
_FIRST_SIZE = 64


@dataclass(slots=True)
class RingSlice:
    """Points ``first_seq`` .. ``first_seq + len(seq) - 1`` of a stream, oldest first.

    Attributes:
        columns: Names of the charted value columns (``values`` has one row per column).
        seq: Each point's number, counted from the first point this process saw of the stream.
        time: Arrival time (Unix seconds) of the request that carried each point.
        values: ``(columns, points)``: one row per column, so each row is one chart line.
        score: Normalised score; NaN while the stream was collecting (cold start).
        threshold: The threshold in force; NaN before the first model.
        flag: Whether the point was flagged anomalous.
        dropped: Points from the one asked for that are not in this slice: overwritten before
            they were read, or beyond the ``limit`` of the read.
    """

    columns: tuple[str, ...]
    seq: np.ndarray
    time: np.ndarray
    values: np.ndarray
    score: np.ndarray
    threshold: np.ndarray
    flag: np.ndarray
    dropped: int


class PointRing:
    """Fixed-capacity history of one stream's scored points.

    Args:
        columns: The stream's columns (sorted by name, as the detector sorts them).
        capacity: Most points kept; at least 1.
    """

    __slots__ = ("_flag", "_score", "_threshold", "_time", "_values", "capacity", "charted",
                 "columns", "last_anomaly_seq", "last_anomaly_time", "total")

    def __init__(self, columns: Sequence[str], capacity: int) -> None:
        self.columns = tuple(columns)
        self.charted = self.columns[:MAX_CHART_COLUMNS]
        self.capacity = max(1, capacity)
        #: Points appended so far; the next point's ``seq``.
        self.total = 0
        self.last_anomaly_seq: int | None = None
        self.last_anomaly_time: float | None = None
        self._allocate(min(self.capacity, _FIRST_SIZE))

    def _allocate(self, size: int) -> None:
        self._time = np.zeros(size)
        self._values = np.zeros((size, len(self.charted)))
        self._score = np.full(size, np.nan)
        self._threshold = np.full(size, np.nan)
        self._flag = np.zeros(size, dtype=bool)

    @property
    def size(self) -> int:
        return len(self._time)

    def _make_room(self, count: int) -> None:
        """Grows the arrays (before they first wrap) so ``count`` more points fit unwrapped."""
        size = self.size
        if size == self.capacity or self.total + count <= size:
            return
        new = min(self.capacity, max(2 * size, self.total + count))
        old = (self._time, self._values, self._score, self._threshold, self._flag)
        self._allocate(new)
        kept = self.total  # nothing has wrapped yet, so slots 0..total-1 hold every point
        for target, source in zip(
            (self._time, self._values, self._score, self._threshold, self._flag), old, strict=True
        ):
            target[:kept] = source[:kept]

    def append(self, when: float, values: Sequence[float], score: float | None,
               threshold: float | None, flag: bool) -> None:
        """One point (the single-point path: plain Python numbers, no array round trip)."""
        self._make_room(1)
        slot = self.total % self.size
        self._time[slot] = when
        self._values[slot] = values
        self._score[slot] = math.nan if score is None else score
        self._threshold[slot] = math.nan if threshold is None else threshold
        self._flag[slot] = flag
        if flag:
            self.last_anomaly_seq, self.last_anomaly_time = self.total, when
        self.total += 1

    def extend(self, when: float, values: np.ndarray, score: np.ndarray, threshold: np.ndarray,
               flag: np.ndarray) -> None:
        """Many points that arrived together, oldest first.

        Only the newest ``capacity`` of them can be kept, so ``values`` (``(points, charted
        columns)``) holds just those: the caller need not build rows that would be overwritten
        at once. ``score``, ``threshold`` and ``flag`` cover every point (the skipped ones still
        count in :attr:`total` and may be the last anomaly).
        """
        count = len(score)
        kept = len(values)
        skipped = count - kept
        hits = np.flatnonzero(flag)
        if len(hits):
            self.last_anomaly_seq, self.last_anomaly_time = self.total + int(hits[-1]), when
        # Room first, while ``total`` still counts only stored points (``_make_room`` copies
        # that many); the skipped ones are counted after.
        self._make_room(count)
        self.total += skipped
        slots = (self.total + np.arange(kept)) % self.size
        self._time[slots] = when
        self._values[slots] = values
        self._score[slots] = score[skipped:]
        self._threshold[slots] = threshold[skipped:]
        self._flag[slots] = flag[skipped:]
        self.total += kept

    def since(self, seq: int, limit: int | None = None) -> RingSlice:
        """Copies of the points from ``seq`` on (the newest ``limit`` of them at most)."""
        oldest = max(0, self.total - self.size)
        start = max(seq, oldest, self.total - limit if limit else 0)
        start = min(start, self.total)
        slots = np.arange(start, self.total) % self.size
        return RingSlice(
            columns=self.charted,
            seq=np.arange(start, self.total),
            time=self._time[slots],
            values=self._values[slots].T.copy(),
            score=self._score[slots],
            threshold=self._threshold[slots],
            flag=self._flag[slots],
            dropped=max(0, start - seq),
        )
