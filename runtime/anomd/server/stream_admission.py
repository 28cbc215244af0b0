"""Memory admission for ``POST /stream`` batches and the points that may fit a model.

Single points of live streams that run on the event loop (``stream_inline``) cost
microseconds and allocate next to nothing: they are not admitted. Everything that goes to a
worker thread (batches, cold-start fits, landing retrains, restores) is estimated from the
points, the detector's feature width and window, and its backend's cost model, and admitted
against the same budget as batch requests (``anomd.admission``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from litestar import Request

from anomd import admission
from anomd.errors import AnomdError
from anomd.server.body import body_size
from anomd.server.state import AppState
from anomd.streaming.config import StreamConfig

T = TypeVar("T")

#: Features one transform adds per input column, at most (rolling: mean, std, min, max).
_PER_TRANSFORM = 4


def _config(app_state: AppState, model_id: str, sent: Mapping[str, Any]) -> tuple[StreamConfig, str | None]:
    """The detector's configuration and backend: the live one's, else what this request would
    create (a checkpointed detector's own configuration is only known once restored)."""
    live = app_state.streams.peek(model_id) if app_state.streams else None
    if live is not None:
        return live.detector.config, live.detector.config.backend
    try:
        config = msgspec.convert(dict(sent), StreamConfig)
    except msgspec.ValidationError:
        config = StreamConfig()  # the manager refuses the bad field itself, naming it
    return config, sent.get("backend")  # none sent: the server's default backend


def stream_estimate(
    app_state: AppState, model_id: str, sent: Mapping[str, Any], points: Sequence[Mapping[str, Any]],
    body_bytes: int,
) -> admission.MemoryEstimate:
    service = app_state.service
    config, backend = _config(app_state, model_id, sent)
    spec = service.detector(backend)
    try:
        params = spec.parse_params({**service.settings.backend_defaults.get(spec.id, {}),
                                    **config.params})
    except AnomdError:
        params = spec.parse_params({})
    shape = admission.rows_shape(points)
    lags = len(config.lag_periods or [1]) if config.include_lags else 0
    transforms = len(config.rolling_windows or []) * _PER_TRANSFORM + lags
    transforms += len(config.transforms or []) * _PER_TRANSFORM
    features = shape.width * (1 + transforms)
    return admission.estimate_stream(spec, params, shape, config.window_size, features, body_bytes)


async def admitted_stream(
    request: Request, app_state: AppState, model_id: str, sent: Mapping[str, Any],
    points: Sequence[Mapping[str, Any]], work: Callable[[], T],
) -> T:
    """Runs ``work`` on a worker thread once the request's memory is admitted.

    Raises:
        TooLarge: The batch (or the detector's window) needs more than the limit (413).
        Overloaded: Requests in progress hold too much of the budget (503, Retry-After).
    """
    body_bytes = await body_size(request)

    def admitted() -> T:
        estimate = stream_estimate(app_state, model_id, sent, points, body_bytes)
        with app_state.service.memory.admit(estimate):
            return work()

    return await app_state.workers.run(admitted)
