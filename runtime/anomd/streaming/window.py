"""The sliding window: the newest rows of a stream in one preallocated numpy buffer.

Appending a row must cost about a microsecond, so the window never rebuilds a DataFrame or
reallocates. Rows are written one after another into a buffer with some spare room at the end;
when the spare room runs out, the newest ``capacity`` rows are moved back to the front in one
``memmove``. That happens once every ``slack`` appends, so an append is O(1) amortised, and
the newest ``k`` rows are always one contiguous slice: the tail the feature kernels read and
the snapshot a retrain copies are plain views, no gathering from a circular layout.
"""

from __future__ import annotations

import numpy as np


class SlidingWindow:
    """The newest ``capacity`` rows of width ``width`` (float64).

    Args:
        width: Number of columns.
        capacity: Rows kept; older rows fall out as new ones arrive.
        slack: Spare rows before a compaction; defaults to a quarter of ``capacity``
            (at least 64), which bounds the memory overhead to ~25 %.
    """

    __slots__ = ("_buf", "_end", "_start", "capacity", "width")

    def __init__(self, width: int, capacity: int, slack: int | None = None) -> None:
        if width < 1 or capacity < 1:
            raise ValueError("a window needs at least one column and one row")
        self.width = width
        self.capacity = capacity
        spare = slack if slack is not None else max(64, capacity // 4)
        self._buf = np.empty((capacity + max(1, spare), width), dtype=np.float64)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def _compact(self) -> None:
        kept = self._end - self._start
        self._buf[:kept] = self._buf[self._start : self._end]
        self._start, self._end = 0, kept

    def append(self, row: object) -> None:
        """Adds one row (a sequence of ``width`` numbers), dropping the oldest if full."""
        if self._end == self._buf.shape[0]:
            self._compact()
        self._buf[self._end] = row
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1

    def extend(self, rows: np.ndarray) -> None:
        """Adds many rows (n × width) in order; only the newest ``capacity`` are kept."""
        rows = rows[-self.capacity :]
        n = rows.shape[0]
        if n == 0:
            return
        if self._end + n > self._buf.shape[0]:
            keep = min(len(self), self.capacity - n)
            self._buf[:keep] = self._buf[self._end - keep : self._end]
            self._start, self._end = 0, keep
        self._buf[self._end : self._end + n] = rows
        self._end += n
        self._start = max(self._start, self._end - self.capacity)

    def tail(self, k: int) -> np.ndarray:
        """A read-only-by-convention view of the newest ``min(k, len)`` rows, oldest first."""
        return self._buf[max(self._start, self._end - k) : self._end]

    def rows(self) -> np.ndarray:
        """A view of every row in the window, oldest first."""
        return self._buf[self._start : self._end]

    def snapshot(self) -> np.ndarray:
        """A copy of every row, safe to hand to another thread."""
        return self.rows().copy()

    def clear(self) -> None:
        self._start = self._end = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer (for the memory report)."""
        return int(self._buf.nbytes)
