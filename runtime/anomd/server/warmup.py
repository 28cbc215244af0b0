"""Warming up backends whose first use in a process is slow.

Measured in a fresh process on the 2-core benchmark machine (see docs/backends.md): importing
PyOD costs ~5 s (numba, scikit-learn), HBOS then spends ~4 s compiling numba code on its first
fit, ECOD/COPOD ~1 s (PyOD's numba ECDF), CBLOF ~4 s on its first k-means, the autoencoder ~8 s
(torch import and first training step), isolation forest ~0.5 s importing scikit-learn's
ensembles. Later fits of the same backend take milliseconds. Fitting and scoring a tiny
matrix with every enabled built-in backend at start-up, on a worker thread while the server
already answers, moves all of that out of the first real request.

Only built-in backends are warmed: a third-party detector's first use is its author's to know,
and fitting unknown code at start-up could cost more than it saves.
"""

from __future__ import annotations

import time

import numpy as np
import structlog

from anomd.model import train
from anomd.service import AnomalyService

log = structlog.get_logger("anomd.warmup")

#: Built-in backends, slowest first use first (after the default backend, which goes first).
WARM_BACKENDS = (
    "hbos", "cblof", "ecod", "copod", "isolation_forest", "autoencoder", "loda", "mcd", "knn",
    "local_outlier_factor", "one_class_svm", "suod",
)


def warm_order(default_backend: str, enabled: list[str]) -> list[str]:
    """The default backend first, then :data:`WARM_BACKENDS`, skipping disabled ones."""
    order = [default_backend] + [b for b in WARM_BACKENDS if b != default_backend]
    return [b for b in order if b in WARM_BACKENDS and (not enabled or b in enabled)]


def warm_up(service: AnomalyService) -> list[str]:
    """Fits and scores a 64 × 3 matrix with each enabled, available built-in backend.

    The operator's ``backend_defaults`` are applied, so the warmed code path is the one real
    requests take (e.g. with ``fast_scoring`` off). A failure is logged and skipped: it only
    costs first-request latency.

    Returns:
        The backends that were warmed, in order.
    """
    settings = service.settings
    X = np.random.default_rng(0).normal(size=(64, 3))
    warmed = []
    for backend in warm_order(settings.default_backend, settings.enabled_backends):
        spec = service.plugins.detectors.get(backend)
        if spec is None or not spec.available:
            continue
        started = time.perf_counter()
        try:
            params = settings.backend_defaults.get(backend, {})
            train(spec, X, name="warm-up", params=params).score(X[:1])
        except Exception:  # a failed warm-up only costs first-request latency
            log.warning("warm-up failed", backend=backend, exc_info=True)
            continue
        warmed.append(backend)
        log.debug("warmed up", backend=backend, seconds=round(time.perf_counter() - started, 3))
    return warmed
