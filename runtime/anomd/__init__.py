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


def detect(
    data: Any, *, backend: str | None = None, contamination: float | None = None,
    series: bool | None = None, timestamp_field: str = "timestamp", **kwargs: Any,
) -> Scores:
    """Fits ``backend`` on ``data`` and scores the same rows, storing nothing.

    Object rows with a ``timestamp`` are a time series: they are scored in time order, each on
    what came before it, with the time-series pipeline (``scores.times`` holds their times),
    unless ``series=False``. See docs/timeseries.md.

    Args:
        data: Rows as lists of numbers, dicts keyed by column name, or a 2-D numpy array.
        backend: Detector id (see ``anomd backends``); default ``ecod`` (``surprise`` for a series).
        contamination: Expected share of anomalies; sets the threshold (default 0.1; 0.01 for
            a series).
        series: Force (True) or refuse (False) the time-series treatment.
        timestamp_field: The rows' timestamp key.
        **kwargs: ``normalization``, ``params``, ``schema``, ``threshold``.
    """
    from anomd.backend_catalog import resolve_backend
    from anomd.errors import InvalidInput
    from anomd.model import train
    from anomd.timeseries.series import detect_series, is_series

    threshold = kwargs.pop("threshold", None)
    if series is not False and is_series(data, timestamp_field):
        return detect_series(
            data, time_field=timestamp_field, backend=backend, contamination=contamination,
            threshold=threshold, params=kwargs.get("params"), plugins=_default_plugins(),
        ).scores
    if series:
        raise InvalidInput(f"series is true but the rows carry no {timestamp_field!r}")
    spec = resolve_backend(_default_plugins(), None, backend)
    fitted = train(spec, data, name="detect", contamination=0.1 if contamination is None else contamination,
                   time_field=timestamp_field, **kwargs)
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
