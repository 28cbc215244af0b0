"""Warming up backends whose first use compiles code.

HBOS spends ~6 s in numba compilation on its first fit in a process and CBLOF ~4 s; doing it at
start-up, on a worker thread, keeps the first real request fast.
"""

from __future__ import annotations

import numpy as np
import structlog

from anomd.model import train
from anomd.service import AnomalyService

log = structlog.get_logger("anomd.warmup")

WARM_BACKENDS = ("hbos", "cblof", "ecod", "isolation_forest")


def warm_up(service: AnomalyService) -> list[str]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    warmed = []
    for backend in WARM_BACKENDS:
        spec = service.plugins.detectors.get(backend)
        if spec is None or not spec.available:
            continue
        try:
            train(spec, X, name="warm-up").score(X[:1])
            warmed.append(backend)
        except Exception:  # noqa: BLE001 - a failed warm-up only costs first-request latency
            log.warning("warm-up failed", backend=backend, exc_info=True)
    return warmed
