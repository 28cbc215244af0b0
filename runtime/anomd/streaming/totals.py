"""Process-wide counts of streaming work, for ``GET /metrics``.

Detectors come and go (evicted, deleted, restored), but a Prometheus counter must only go up
for as long as the process lives, so the counts are kept here rather than summed over the
detectors alive at scrape time. The increments are plain ``+=`` without a lock, because they
sit on the per-point path: two detectors bumping a count on different threads at the same
instant can, rarely, lose one increment. That is accurate enough for monitoring and costs
nothing measurable.
"""

from __future__ import annotations


class StreamTotals:
    """Counts since this process started."""

    def __init__(self) -> None:
        #: Points received by any streaming detector.
        self.points = 0
        #: Retrains that finished and were swapped in.
        self.retrains = 0
        #: Retrains that failed (the previous model kept scoring).
        self.retrain_failures = 0


#: The one instance every detector of this process updates.
TOTALS = StreamTotals()
