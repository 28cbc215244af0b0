"""anomd: a plugin-driven anomaly-detection runtime.

Batch use without a server::

    import anomd

    service = anomd.AnomalyService()           # filesystem store in ./.anomd
    service.fit(rows, model="fraud", backend="ecod")
    fitted, scores = service.score(new_rows, model="fraud", backend="ecod")

    scores = anomd.detect(rows, backend="isolation_forest")   # fit and score, nothing stored
    anomd.plot(rows, scores).savefig("scores.png")           # needs the `plot` extra

Streaming::

    detector = anomd.StreamingAnomalyDetector("sensor-1", rolling_windows=[5, 10])
    result = detector.process({"temp": 45.0})   # score, then learn
    detector.score_one(point); detector.learn_one(point)   # the two halves, River-style
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anomd.hookspecs import hookimpl

__all__ = [
    "AnomalyService", "DetectorSpec", "DetectorStatus", "Scores", "StreamingAnomalyDetector", "detect", "hookimpl",
    "plot",
]

if TYPE_CHECKING:
    from anomd.detectors import DetectorSpec
    from anomd.model import Scores
    from anomd.service import AnomalyService
    from anomd.streaming import DetectorStatus, StreamingAnomalyDetector

_LAZY = {
    "AnomalyService": "anomd.service",
    "DetectorSpec": "anomd.detectors",
    "Scores": "anomd.model",
    "FittedModel": "anomd.model",
    "PluginHost": "anomd.plugins",
    "load_settings": "anomd.settings",
    "StreamingAnomalyDetector": "anomd.streaming",
    "DetectorStatus": "anomd.streaming",
    "TransformSpec": "anomd.transforms",
}


def __getattr__(name: str) -> Any:
    # Plugins import ``anomd.hookimpl`` at load time; importing the service (and with it numpy
    # and the storage stack) lazily keeps that cheap and free of import cycles.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'anomd' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def detect(data: Any, *, backend: str = "ecod", contamination: float = 0.1, **kwargs: Any) -> Scores:
    """Fits ``backend`` on ``data`` and scores the same rows, storing nothing.

    Args:
        data: Rows as lists of numbers, dicts keyed by column name, or a 2-D numpy array.
        backend: Detector id (see ``anomd backends``).
        contamination: Expected share of anomalies; sets the threshold.
        **kwargs: ``normalization``, ``params``, ``schema``, ``threshold``.
    """
    from anomd.backend_catalog import resolve_backend
    from anomd.model import train

    spec = resolve_backend(_default_plugins(), None, backend)
    threshold = kwargs.pop("threshold", None)
    fitted = train(spec, data, name="detect", contamination=contamination, **kwargs)
    return fitted.score(data, threshold=threshold)


def plot(series_or_scores: Any, scores: Scores | None = None, **kwargs: Any) -> Any:
    """A matplotlib figure of values, score, threshold and flagged points (see
    :func:`anomd.plotting.plot`; matplotlib is the optional extra ``plot``)."""
    from anomd.plotting import plot as draw

    return draw(series_or_scores, scores, **kwargs)


_plugins: Any = None


def _default_plugins() -> Any:
    global _plugins
    if _plugins is None:
        from anomd.plugins import PluginHost

        _plugins = PluginHost()
    return _plugins
