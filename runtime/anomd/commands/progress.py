"""Progress on standard error for work that reports none of its own (a detector's fit).

A fit is one call into the backend, with nothing to count; what a person waiting wants to know
is that it is running and for how long. :func:`working` shows ``fitting ecod on 1,000,000 rows:
12s`` and keeps the clock moving from a thread until the work is done. Like the scoring bar it
appears only on a terminal unless forced (``--progress``), so pipes and logs stay clean.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds between redraws of the elapsed time.
TICK_S = 0.5


@contextmanager
def working(text: str, show: bool | None) -> Iterator[None]:
    """Shows ``text`` and the time elapsed while the block runs.

    Args:
        text: What is being done.
        show: True to always show, False never, None only when stderr is a terminal.
    """
    from tqdm import tqdm

    disable = None if show is None else not show
    bar = tqdm(total=None, desc=text, file=sys.stderr, disable=disable, bar_format="{desc}: {elapsed}")
    if bar.disable:
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            bar.refresh()

    clock = threading.Thread(target=tick, name="anomd-progress", daemon=True)
    clock.start()
    try:
        yield
    finally:
        stop.set()
        clock.join()
        bar.refresh()
        bar.close()
