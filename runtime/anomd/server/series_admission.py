"""Memory admission for the series routes (``/timeseries/*`` and Azure's paths).

A series request is bounded by ``series_max_points`` before anything is decoded beyond its
body, but several at once, next to fits and stream batches, still share one machine: each is
estimated (``anomd.admission.estimate_series``, linear in its values) and admitted against the
same budget as every other request, so a burst of large series waits or gets a 503 with
Retry-After instead of taking the memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from litestar import Request

from anomd import admission
from anomd.server.body import body_size
from anomd.server.state import AppState

T = TypeVar("T")


async def admitted_series(
    request: Request, app_state: AppState, operation: str, points: int, variables: int,
    work: Callable[..., T], *args: Any,
) -> T:
    """Runs ``work(*args)`` on a worker thread once its memory is admitted.

    Args:
        operation: ``entire``, ``last``, ``changepoint`` or ``multivariate``.
        points: The longest series' points; ``variables`` how many series (1 for univariate).

    Raises:
        TooLarge: Its estimate alone is over ``max_request_memory_mb`` (413).
        Overloaded: Requests in progress hold too much of the budget (503, Retry-After).
    """
    estimate = admission.estimate_series(operation, points, variables, await body_size(request))
    memory = app_state.service.memory

    def admitted() -> T:
        with memory.admit(estimate):
            return work(*args)

    return await app_state.workers.run(admitted)
