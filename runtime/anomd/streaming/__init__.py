"""Streaming anomaly detection: score each point at once, refit in the background.

See :class:`StreamingAnomalyDetector` for the life cycle (cold start, tick, tock) and
``docs/streaming.md`` for limits, checkpoints and measured figures.
"""

from anomd.streaming.detector import StreamingAnomalyDetector
from anomd.streaming.executors import InlineExecutor, process_executor, shared_thread_executor
from anomd.streaming.results import BatchOutcome, DetectorStatus, StreamingResult

__all__ = [
    "BatchOutcome", "DetectorStatus", "InlineExecutor", "StreamingAnomalyDetector", "StreamingResult",
    "process_executor", "shared_thread_executor",
]
