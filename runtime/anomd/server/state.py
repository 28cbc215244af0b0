"""What the app keeps for its lifetime, handed to handlers as ``app_state``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from litestar.di import NamedDependency

from anomd.jobs.manager import JobManager
from anomd.server.observe import HttpMetrics
from anomd.server.workers import Workers
from anomd.service import AnomalyService
from anomd.streaming.manager import StreamManager
from anomd.ui.live import LiveFeed


@dataclass
class AppState:
    service: AnomalyService
    workers: Workers
    started: float = field(default_factory=time.time)
    warmed_up: bool = False
    #: Request counts and latencies (filled in by the ``observe`` middleware).
    http: HttpMetrics = field(default_factory=HttpMetrics)
    #: Live streaming detectors (set by ``create_app``).
    streams: StreamManager | None = None
    #: What streams just scored, for the dashboard's live chart and the flagged-points metrics.
    live: LiveFeed = field(default_factory=lambda: LiveFeed(keep=False))
    #: Whether this app serves the dashboard at /ui (``anomd.ui.exposure``).
    dashboard: bool = False
    #: Dataset jobs (set by ``create_app``).
    jobs: JobManager | None = None


#: How handlers declare the ``app_state`` dependency (explicitly named, as Litestar 3 requires).
AppStateDep = NamedDependency[AppState]
