"""Counters and histograms the runtime keeps about itself.

They are plain in-process numbers, bumped from the event loop and from worker threads alike
(hence the lock), and read only when someone asks: the server renders them as Prometheus text
at ``GET /metrics``; the Python API can read them directly. They count since the process
started, which is what Prometheus expects of a counter.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence

Labels = tuple[str, ...]

#: Seconds; spans a streamed point (sub-millisecond) to a long fit (minutes).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, 60.0, 300.0)


class Counter:
    """A count per combination of label values that only goes up.

    Args:
        name: Metric name, e.g. ``anomd_fits_total``.
        help: One line saying what is counted.
        labels: Label names, in the order :meth:`inc` takes their values.
    """

    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, *values: str, by: float = 1.0) -> None:
        with self._lock:
            self._values[values] = self._values.get(values, 0.0) + by

    def value(self, *values: str) -> float:
        with self._lock:
            return self._values.get(values, 0.0)

    def total(self) -> float:
        with self._lock:
            return sum(self._values.values())

    def samples(self) -> list[tuple[Labels, float]]:
        with self._lock:
            return sorted(self._values.items())


class Histogram:
    """Observations sorted into cumulative buckets, with their count and sum.

    Args:
        name: Metric name, e.g. ``anomd_http_request_duration_seconds``.
        help: One line saying what is observed.
        labels: Label names.
        buckets: Upper bounds, ascending; ``+Inf`` is implied.
    """

    def __init__(self, name: str, help: str, labels: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.buckets = tuple(buckets)
        self._series: dict[Labels, list[float]] = {}  # per-bucket counts, then count, then sum
        self._lock = threading.Lock()

    def observe(self, value: float, *values: str) -> None:
        slot = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(values)
            if series is None:
                series = self._series[values] = [0.0] * (len(self.buckets) + 2)
            if slot < len(self.buckets):
                series[slot] += 1
            series[-2] += 1
            series[-1] += value

    def samples(self) -> list[tuple[Labels, list[float], float, float]]:
        """Per label combination: cumulative bucket counts, count and sum."""
        out = []
        with self._lock:
            for labels, series in sorted(self._series.items()):
                cumulative, running = [], 0.0
                for count in series[: len(self.buckets)]:
                    running += count
                    cumulative.append(running)
                out.append((labels, cumulative, series[-2], series[-1]))
        return out


class ServiceMetrics:
    """What the anomaly service counts: fits, scored rows and their durations, per backend."""

    def __init__(self) -> None:
        self.fits = Counter("anomd_fits_total", "Models fitted and stored.", ["backend"])
        self.fit_failures = Counter(
            "anomd_fit_failures_total", "Fits refused or failed after the request was accepted.",
            ["backend"])
        self.fit_seconds = Histogram("anomd_fit_duration_seconds", "Time to fit a model.",
                                     ["backend"])
        self.scored_rows = Counter("anomd_scored_rows_total",
                                   "Rows scored by stored models (POST /score).", ["backend"])
        self.detected_rows = Counter("anomd_detected_rows_total",
                                     "Rows fitted and scored in one go (POST /detect).", ["backend"])
        self.deletes = Counter("anomd_model_deletes_total", "Models deleted.")

    def all(self) -> list[Counter | Histogram]:
        return [self.fits, self.fit_failures, self.fit_seconds, self.scored_rows,
                self.detected_rows, self.deletes]
