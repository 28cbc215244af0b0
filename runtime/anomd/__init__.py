"""anomd: a plugin-driven anomaly-detection runtime.

Batch use without a server::

    import anomd

    detector = anomd.Detector("ecod", contamination=0.05).fit(frame)   # in memory, PyOD-style
    detector.predict(new_frame), detector.decision_function(new_frame)

    service = anomd.AnomalyService()           # filesystem store in ./.anomd
    service.fit(rows, model="fraud", backend="ecod")
    fitted, scores = service.score(new_rows, model="fraud", backend="ecod")

    scores = anomd.detect(rows, backend="isolation_forest")   # fit and score, nothing stored
    anomd.plot(rows, scores).savefig("scores.png")           # needs the `plot` extra

A running server, from Python (Arrow on the wire, DataFrames in and out)::

    with anomd.Client("http://127.0.0.1:8000") as client:
        client.fit(frame, model="fraud")
        result = client.score(new_frame, model="fraud")    # result.is_anomaly, result.to_polars()

Streaming::

    detector = anomd.StreamingAnomalyDetector("sensor-1", rolling_windows=[5, 10])
    result = detector.process({"temp": 45.0})   # score, then learn
    detector.score_one(point); detector.learn_one(point)   # the two halves, River-style
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anomd.hookspecs import hookimpl

__all__ = [
    "AnomalyService", "AsyncClient", "Client", "Detector", "DetectorSpec", "DetectorStatus", "Scores",
    "StreamingAnomalyDetector", "detect", "hookimpl", "plot",
]

if TYPE_CHECKING:
    from anomd.client import AsyncClient, Client
    from anomd.detectors import DetectorSpec
    from anomd.estimator import Detector
    from anomd.model import Scores
    from anomd.service import AnomalyService
    from anomd.streaming import DetectorStatus, StreamingAnomalyDetector

_LAZY = {
    "AnomalyService": "anomd.service",
    "Detector": "anomd.estimator",
    "Client": "anomd.client",
    "AsyncClient": "anomd.client",
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
        data: Anything :class:`Detector` takes: NumPy (1-D is one feature), lists of rows or
            numbers, dicts, pandas or Polars DataFrames and Series, Arrow tables.
        backend: Detector id (see ``anomd backends``); default ``ecod`` (``surprise`` for a series).
        contamination: Expected share of anomalies; sets the threshold (default 0.1; 0.01 for
            a series).
        series: Force (True) or refuse (False) the time-series treatment.
        timestamp_field: The rows' timestamp key or column.
        **kwargs: ``normalization``, ``params``, ``schema``, ``threshold``.
    """
    from anomd.errors import InvalidInput
    from anomd.estimator import Detector
    from anomd.inputs import prepare
    from anomd.timeseries.series import detect_series, is_series

    threshold = kwargs.pop("threshold", None)
    # Once, for fitting and scoring; a table with a timestamp column comes back as rows.
    data = prepare(data, schema=kwargs.get("schema"), time_field=timestamp_field)
    if series is not False and is_series(data.data, timestamp_field):
        return detect_series(
            data.data, time_field=timestamp_field, backend=backend, contamination=contamination,  # type: ignore[arg-type]
            threshold=threshold, params=kwargs.get("params"), plugins=_default_plugins(),
        ).scores
    if series:
        raise InvalidInput(f"series is true but the rows carry no {timestamp_field!r}")
    detector = Detector(backend or "ecod", contamination=0.1 if contamination is None else contamination, **kwargs)
    return detector.fit(data, name="detect", timestamp_field=timestamp_field).scores(data, threshold=threshold)


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
