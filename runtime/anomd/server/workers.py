"""Running CPU-bound work off the event loop.

Fitting and scoring run on a bounded pool of worker threads, so the event loop keeps answering
(``/health`` stays fast while a long fit runs) and a burst of requests cannot start more CPU
work than the machine has room for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


class Workers:
    """A capacity-limited gateway to worker threads."""

    def __init__(self, threads: int) -> None:
        self.limiter = CapacityLimiter(threads)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self.limiter)
