"""Memory admission: a request's working memory is estimated before it is allocated.

A valid-looking request can cost far more memory than its body: a kNN fit keeps neighbour
arrays, a one-class SVM a kernel cache that grows with the square of the rows, an explanation
scores every feature of every anomalous row once more, and decoded JSON rows take five times
the bytes of the matrix built from them. So before a fit, score, detect, explanation or stream
batch allocates anything large, its peak working memory is estimated from the rows, the
encoded width and the backend's declared cost model (:class:`anomd.detectors.MemoryCost`), and

- a request whose estimate alone is over ``max_request_memory_mb`` is refused with a 413 that
  gives the estimate, the limit and the setting's name (:class:`TooLarge`);
- concurrent requests share that same budget: one that does not fit next to the requests in
  progress is refused at once with a 503 and ``Retry-After`` (:class:`Overloaded`).

Why refuse instead of queueing: a request waiting in a queue still holds its body and its
decoded rows, the very memory the budget protects, and it would hold a worker thread too (the
check runs on the worker thread, where the encoded width of object rows can be computed
without stalling the event loop). Refusing frees both at once; the worker pool already queues
the CPU work of admitted requests, and ``Retry-After`` tells clients when to come back.

The estimate is the sum of what is alive at the request's peak: the body and the decoded rows
(held until the reply), the encoded matrix, and the largest of the phases that follow (fitting,
saving the model, scoring, explaining, building the reply). Constants below were measured on
CPython 3.11 (``tests/test_admission_rss.py`` measures the real peak RSS of a server against
the estimate for every backend).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from anomd.detectors import CELL, DetectorSpec
from anomd.encoding import Row, RowEncoder
from anomd.errors import Overloaded, TooLarge
from anomd.explain import EXPLAIN_LIMIT, explain_block_rows

MB = 1 << 20
#: The setting that bounds a request's working memory (named in every refusal).
SETTING = "max_request_memory_mb"
#: Share of the machine's (or the container's) memory the default budget takes.
DEFAULT_SHARE = 0.5
#: Rows an explanation covers at most.
EXPLAIN_ROWS = EXPLAIN_LIMIT

#: A Python float inside a list: the object (24 bytes, in a 32-byte allocator block) and its slot.
_FLOAT_IN_LIST = 32 + 8
#: One row of a ``/score`` reply: the per-row lists of numbers, the ``ScorePoint`` and its JSON
#: (400 bytes left a 30,000-row one-class SVM scoring, whose own work is small, within 1 % of
#: its measured peak).
_REPLY_ROW = 450
#: One feature of one explained row: a dict entry, its float, and its JSON text.
_EXPLAINED_CELL = 112
#: Transient float arrays per row while turning raw scores into a reply (scaling, flags, copies).
_SCORE_ARRAYS = 8
#: Temporary rows x features float matrices of the extrapolated tail (see ``_tail``).
_TAIL_MATRICES = 4
#: One value of a series request, from its decoded point to its reply, by operation (see
#: ``estimate_series``; measured at 50,000 points: entire 28-36 MB, last 31-36 MB, changepoint
#: 15-25 MB (25 in a process that has served nothing larger), multivariate 22-24 MB of peak
#: growth, over two machines).
_SERIES_VALUE = {"entire": 900, "last": 900, "changepoint": 600, "multivariate": 600}
#: Serving any request, whatever its size: the worker thread, the event loop's objects and the
#: allocator pages they touch. A 50-row fit, score or detect (ecod, knn, one-class SVM) grew a
#: fresh, trimmed server process by 6-9 MB; 4 MB of that is counted here (each backend's own
#: constant covers the rest of its first use).
_SERVING = 4 * MB


class MemoryEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """The working memory a request is expected to need, in bytes, by part."""

    operation: str
    backend: str
    rows: int
    features: int
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        if not self.backend:  # the series routes: their own model, no detector plugin
            return f"{self.operation} of {self.rows:,} points × {self.features:,} series"
        return (f"{self.operation} of {self.rows:,} rows × {self.features:,} features with "
                f"backend {self.backend!r}")


class RowsShape(msgspec.Struct, frozen=True, kw_only=True):
    """What the rows of a request are, measured without encoding them.

    Attributes:
        rows: Row count.
        width: Columns of the encoded matrix (one-hot categories counted).
        decoded_bytes: Memory the rows take as Python objects (decoded JSON).
    """

    rows: int
    width: int
    decoded_bytes: int


def _block(size: int) -> int:
    """An allocation rounded up the way small objects are (16-byte blocks)."""
    return (size + 15) // 16 * 16


def _value_bytes(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0  # singletons
    if isinstance(value, (int, float, str)):
        return _block(sys.getsizeof(value))
    return _block(sys.getsizeof(value))


def _row_bytes(row: Any) -> int:
    """One decoded row: its container and the values it owns (dict keys are shared)."""
    if isinstance(row, Mapping):
        return _block(sys.getsizeof(row)) + sum(_value_bytes(v) for v in row.values()) + 8
    return _block(sys.getsizeof(row)) + len(row) * (_FLOAT_IN_LIST - 8) + 8


def decoded_bytes(data: Sequence[Row] | np.ndarray) -> int:
    """Memory of a request's rows as decoded Python objects (0 for a NumPy array, which the
    caller owns), extrapolated from a sample of rows so it costs nothing on large bodies."""
    if isinstance(data, np.ndarray) or len(data) == 0:
        return 0
    sample = [data[i] for i in range(0, len(data), max(1, len(data) // 16))][:17]
    return int(max(_row_bytes(row) for row in sample) * len(data))


def rows_shape(
    data: Sequence[Row] | np.ndarray, encoder: RowEncoder | None = None, width: int | None = None
) -> RowsShape:
    """The shape of ``data`` once encoded: by ``encoder`` (object rows), by ``width`` (a model's
    input width), or as it comes (list rows, arrays)."""
    n = len(data)
    if encoder is not None:
        cols = len(encoder.features)
    elif width is not None:
        cols = width
    elif isinstance(data, np.ndarray):
        cols = int(data.shape[1]) if data.ndim == 2 else 1
    else:
        first = data[0] if n else []
        cols = len(first) if isinstance(first, (Sequence, Mapping)) else 1
    return RowsShape(rows=n, width=max(1, cols), decoded_bytes=decoded_bytes(data))


def _matrix(rows: int, width: int) -> int:
    # The float64 matrix plus the two boolean masks of the finiteness check.
    return rows * width * (CELL + 2)


def _request_parts(shape: RowsShape, body_bytes: int) -> dict[str, int]:
    return {"serving": _SERVING, "body": body_bytes, "decoded rows": shape.decoded_bytes,
            "matrix": _matrix(shape.rows, shape.width)}


def _fit_phase(spec: DetectorSpec, params: Any, rows: int, width: int, save: bool) -> int:
    """The larger of fitting and what follows it (the model next to the statistics learned from
    the training data, then next to its serialised artifact)."""
    cost = spec.memory_cost
    model = cost.model(rows, width, params)
    after = model + rows * width * CELL + 4 * rows * CELL  # per-column medians copy the matrix
    saving = model + 2 * model if save else 0  # the pickle buffer and the signed artifact
    return int(max(cost.fit(rows, width, params), after, saving))


def _score_phase(spec: DetectorSpec, params: Any, rows: int, width: int, trained: int,
                 reply_rows: int) -> int:
    cost = spec.memory_cost
    scoring = cost.score(rows, width, trained, params) + _tail(params, rows, width)
    return int(max(scoring, reply_rows * _REPLY_ROW) + _SCORE_ARRAYS * rows * CELL)


def _tail(params: Any, rows: int, width: int) -> int:
    """The extrapolated tail (``tail: extrapolated``) scores rows beyond the training range
    with a handful of temporary matrices of the rows' shape (distances below and above the
    range, their weights; the clipped copy for detectors that clip)."""
    if getattr(params, "tail", None) != "extrapolated":
        return 0
    return _TAIL_MATRICES * rows * width * CELL


def _explain_phase(spec: DetectorSpec, params: Any, rows: int, width: int, trained: int) -> int:
    """Explaining ``rows`` rows: probe blocks of at most ``explain_block_rows`` rows scored one
    at a time, the per-feature drops and deviations, and the explanation dicts of the reply."""
    block = min(rows * width, explain_block_rows(width))
    probes = (block * width * CELL + spec.memory_cost.score(block, width, trained, params)
              + _tail(params, block, width))
    return int(probes + 2 * rows * width * CELL + rows * width * _EXPLAINED_CELL)


def estimate_fit(spec: DetectorSpec, params: Any, shape: RowsShape, body_bytes: int = 0,
                 save: bool = True) -> MemoryEstimate:
    """A fit (``save``: and storing the model)."""
    parts = _request_parts(shape, body_bytes)
    parts["backend"] = _fit_phase(spec, params, shape.rows, shape.width, save)
    return MemoryEstimate(operation="fit", backend=spec.id, rows=shape.rows,
                          features=shape.width, parts=parts)


def estimate_score(spec: DetectorSpec, params: Any, shape: RowsShape, trained_rows: int,
                   body_bytes: int = 0, explain: bool = False) -> MemoryEstimate:
    """Scoring with a stored model fitted on ``trained_rows`` rows (``explain``: explaining up
    to :data:`EXPLAIN_ROWS` anomalous rows too)."""
    parts = _request_parts(shape, body_bytes)
    n, d = shape.rows, shape.width
    parts["backend"] = _score_phase(spec, params, n, d, trained_rows, n)
    if explain:
        parts["explanations"] = _explain_phase(spec, params, min(n, EXPLAIN_ROWS), d, trained_rows)
    return MemoryEstimate(operation="explain" if explain else "score", backend=spec.id,
                          rows=n, features=d, parts=parts)


def estimate_detect(spec: DetectorSpec, params: Any, shape: RowsShape, body_bytes: int = 0,
                    flagged: float = 1.0) -> MemoryEstimate:
    """Fit and score the same rows, nothing stored; the reply lists the flagged rows only,
    at most ``flagged`` of them (a share)."""
    parts = _request_parts(shape, body_bytes)
    n, d = shape.rows, shape.width
    fitting = _fit_phase(spec, params, n, d, save=False)
    reply = math.ceil(n * min(1.0, flagged))
    scoring = spec.memory_cost.model(n, d, params) + _score_phase(spec, params, n, d, n, reply)
    parts["backend"] = int(max(fitting, scoring))
    return MemoryEstimate(operation="detect", backend=spec.id, rows=n, features=d, parts=parts)


def estimate_stream(spec: DetectorSpec, params: Any, shape: RowsShape, window_size: int,
                    features: int | None = None, body_bytes: int = 0) -> MemoryEstimate:
    """A batch of points for a streaming detector: its window buffer, the fit on the window
    that a cold start or a landing retrain runs within the request (on a copy of the window),
    and scoring the batch in steps of at most ``streaming.detector.CHUNK`` points.

    Args:
        features: Columns of the detector's feature matrix (raw columns plus what its
            transforms add); the points' own width when None.
    """
    from anomd.streaming.detector import CHUNK

    parts = _request_parts(shape, body_bytes)
    n, d = shape.rows, features or shape.width
    parts["matrix"] = _matrix(n, d)
    parts["window"] = 2 * window_size * d * CELL + 12 * n * CELL  # buffer with slack; outcomes
    fitting = window_size * d * CELL + _fit_phase(spec, params, window_size, d, save=False)
    step = min(n, CHUNK)
    scoring = _score_phase(spec, params, step, d, window_size, 0) + n * _REPLY_ROW
    parts["backend"] = int(fitting + scoring)
    return MemoryEstimate(operation="stream batch", backend=spec.id, rows=n, features=d,
                          parts=parts)


def estimate_series(operation: str, points: int, variables: int = 1, body_bytes: int = 0) -> MemoryEstimate:
    """A request to the series routes (``/timeseries/*`` and Azure's): linear in the values.

    Each value is decoded as a point object (timestamp text and number), placed on the time
    grid, decomposed (level, seasonal profile, residual, spread: a few float arrays over the
    grid, which may hold up to twice the points), and answered with one result object per
    point and its JSON; :data:`_SERIES_VALUE` is that sum per operation, measured
    (``tests/test_admission_rss.py``).

    Args:
        operation: ``entire``, ``last``, ``changepoint`` or ``multivariate``.
    """
    values = points * max(1, variables)
    parts = {"body": body_bytes, "series": values * _SERIES_VALUE[operation]}
    return MemoryEstimate(operation=f"series {operation}", backend="", rows=points,
                          features=max(1, variables), parts=parts)


# -- the budget -------------------------------------------------------------------------------


def machine_memory_bytes() -> int:
    """Memory this process can have: the container's cgroup limit, else physical memory."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:
            return int(text)
    return physical


def default_limit_mb() -> int:
    """The default of ``max_request_memory_mb``: half of :func:`machine_memory_bytes`."""
    return max(64, int(machine_memory_bytes() * DEFAULT_SHARE) // MB)


def limit_mb(configured: int) -> int:
    """The effective limit: the setting, or the machine-derived default when it is 0."""
    return configured or default_limit_mb()


def _mb(size: float) -> str:
    return f"{math.ceil(size / MB):,} MB"


class MemoryBudget:
    """The working memory requests in progress may hold together, shared by all of them.

    Thread-safe: requests are admitted on worker threads.

    Args:
        limit_mb: The budget (``max_request_memory_mb``), also the most one request may need.
    """

    def __init__(self, limit_mb: int) -> None:
        self.limit = int(limit_mb) * MB
        self._lock = threading.Lock()
        self._held: dict[int, tuple[int, float]] = {}
        self._next = 0

    @property
    def in_use(self) -> int:
        with self._lock:
            return sum(size for size, _ in self._held.values())

    def check(self, estimate: MemoryEstimate) -> None:
        """Refuses a request that could never be admitted, whatever else is running.

        Raises:
            TooLarge: Its estimate alone is over the limit (413).
        """
        if estimate.total > self.limit:
            raise TooLarge(
                f"this {estimate.describe()} needs an estimated {_mb(estimate.total)} of working "
                f"memory, over this server's limit of {_mb(self.limit)} ({SETTING}); send fewer "
                "rows or columns, choose a lighter backend (GET /v1/ml/anomaly/backends), or "
                f"raise {SETTING}"
            )

    @contextmanager
    def admit(self, estimate: MemoryEstimate) -> Iterator[None]:
        """Holds ``estimate.total`` bytes of the budget while the block runs.

        Raises:
            TooLarge: The estimate alone is over the limit (413).
            Overloaded: Requests in progress hold too much of the budget for this one now
                (503, with a ``Retry-After``).
        """
        self.check(estimate)
        size = estimate.total
        now = time.monotonic()
        with self._lock:
            held = sum(s for s, _ in self._held.values())
            if held + size > self.limit:
                oldest = min((started for _, started in self._held.values()), default=now)
                retry = max(1, min(30, math.ceil(now - oldest)))
                raise Overloaded(
                    f"the server is busy: requests in progress hold {_mb(held)} of its "
                    f"{_mb(self.limit)} working-memory budget ({SETTING}) and this "
                    f"{estimate.describe()} needs {_mb(size)}; retry in {retry} s",
                    retry_after=retry,
                )
            token = self._next
            self._next += 1
            self._held[token] = (size, now)
        try:
            yield
        finally:
            with self._lock:
                del self._held[token]
