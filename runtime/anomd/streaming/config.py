"""A streaming detector's configuration: validated once, compared on every later request.

The configuration is fixed when a detector is created. A request that names an existing
detector with a different value for a field it sends is refused (409) rather than silently
served by a detector configured otherwise; the field-by-field comparison lives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

from anomd.errors import InvalidInput
from anomd.registry import Registry
from anomd.streaming.features import TransformStep
from anomd.timeseries.timestamps import DEFAULT_FIELD
from anomd.transforms import TransformSpec

#: Largest window accepted (rows); bounds the memory one request can make the server reserve.
MAX_WINDOW = 1_000_000
#: A transform may look back this many windows (three daily cycles of a seasonal residual
#: need three times the day's points); the window keeps that much extra history.
LOOKBACK_WINDOWS = 4


class StreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a streaming detector is set up (the ``POST /stream`` creation fields).

    Fields left as None take the default of the stream's pipeline (``anomd.streaming.pipelines``):
    the time-series one for points with a timestamp, the tabular one otherwise.

    Attributes:
        pipeline: ``series`` (points carry a timestamp: seasonal and level surprise, calibrated,
            one alert per episode), ``tabular`` (a batch detector retrained on a sliding
            window), or ``auto``: ``series`` exactly when the first point has a timestamp.
        timestamp_field: The key that holds a point's time; never a feature.
        late_points: A point earlier than the stream's latest: ``accept`` processes it in
            arrival order with its time moved up to the latest (counted in the stats),
            ``reject`` refuses it (422).
        backend: Detector id (see ``GET /backends``).
        min_samples: Points collected before the first fit (cold start).
        retrain_interval: Points learned between retrains.
        retrain_lag: Points learned between the start of a retrain and its landing: a retrain
            started after point ``t`` is swapped in right after point ``t + retrain_lag``,
            waiting for it there if it is not done, so replays are identical whatever runs
            the retrains. None (the default) means ``retrain_interval``; 0 fits synchronously.
        window_size: Newest rows kept; every retrain fits on them.
        contamination: Expected share of anomalies; sets the learned threshold.
        threshold: Fixed threshold on the ``score`` scale; None learns it from contamination.
        rolling_windows: Rolling mean/std/min/max over these trailing windows.
        include_lags: Add lagged values (periods from ``lag_periods``, default ``[1]``).
        lag_periods: Lags to add when ``include_lags`` is true.
        transforms: Transforms, e.g. ``[{"transform": "diff", "periods": [1]}]`` (the
            shorthands above add to them).
        postprocessor: Turns raw scores into the published ``score``, e.g.
            ``{"postprocessor": "likelihood"}``; ``{"postprocessor": "none"}`` publishes the
            model's standardised score.
        params: The backend's own hyper-parameters.
    """

    pipeline: Literal["auto", "series", "tabular"] = "auto"
    timestamp_field: str = DEFAULT_FIELD
    late_points: Literal["accept", "reject"] = "accept"
    backend: str | None = None
    min_samples: int | None = None
    retrain_interval: int | None = None
    retrain_lag: int | None = None
    window_size: int = 1000
    contamination: float | None = None
    threshold: float | None = None
    rolling_windows: list[int] | None = None
    include_lags: bool = False
    lag_periods: list[int] | None = None
    transforms: list[dict[str, Any]] | None = None
    postprocessor: dict[str, Any] | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Whether the pipeline is chosen (and every field filled in)."""
        return self.pipeline != "auto"

    def check(self) -> StreamConfig:
        """Checks ranges and relations between fields.

        Raises:
            InvalidInput: Naming the field, e.g. ``min_samples (2000) > window_size (1000)``.
        """
        if not self.timestamp_field:
            raise InvalidInput("timestamp_field must be a non-empty key")
        if self.min_samples is not None and not (2 <= self.min_samples):
            raise InvalidInput(f"min_samples must be at least 2, got {self.min_samples}")
        if not (2 <= self.window_size <= MAX_WINDOW):
            raise InvalidInput(f"window_size must be in [2, {MAX_WINDOW}], got {self.window_size}")
        if self.min_samples is not None and self.min_samples > self.window_size:
            raise InvalidInput(
                f"min_samples ({self.min_samples}) > window_size ({self.window_size}): the window "
                "could never hold enough points to fit; raise window_size or lower min_samples"
            )
        if self.retrain_interval is not None and self.retrain_interval < 1:
            raise InvalidInput(f"retrain_interval must be at least 1, got {self.retrain_interval}")
        if self.retrain_lag is not None and not (0 <= self.retrain_lag <= MAX_WINDOW):
            raise InvalidInput(f"retrain_lag must be in [0, {MAX_WINDOW}], got {self.retrain_lag}")
        if self.contamination is not None and not (0.0 < self.contamination <= 0.5):
            raise InvalidInput(f"contamination must be in (0, 0.5], got {self.contamination}")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise InvalidInput(f"threshold must be a finite number, got {self.threshold}")
        return self

    @property
    def lag(self) -> int:
        """The effective ``retrain_lag``."""
        return self.retrain_interval if self.retrain_lag is None else self.retrain_lag

    def transform_requests(self) -> list[tuple[str, dict[str, Any]]]:
        """The transforms asked for, as ``(id, options)``: shorthand fields first."""
        wanted: list[tuple[str, dict[str, Any]]] = []
        if self.rolling_windows:
            wanted.append(("rolling", {"windows": list(self.rolling_windows)}))
        if self.include_lags:
            wanted.append(("lag", {"periods": list(self.lag_periods or [1])}))
        for i, item in enumerate(self.transforms or ()):
            if not isinstance(item, Mapping) or not isinstance(item.get("transform"), str):
                raise InvalidInput(
                    f"transforms[{i}] must be an object with a \"transform\" name, "
                    "e.g. {\"transform\": \"diff\", \"periods\": [1]}"
                )
            options = {k: v for k, v in item.items() if k != "transform"}
            wanted.append((item["transform"], options))
        return wanted

    def steps(self, registry: Registry[TransformSpec]) -> tuple[TransformStep, ...]:
        """Resolves and validates the transforms against the registered ones.

        Raises:
            InvalidInput: Unknown transform, bad options, or a look-back longer than the window.
        """
        steps = []
        for name, options in self.transform_requests():
            spec = registry.get(name)
            if spec is None:
                known = ", ".join(registry) or "none"
                raise InvalidInput(f"unknown transform {name!r}; available transforms: {known}")
            step = TransformStep(spec, spec.parse_options(options))
            needed = spec.lookback(step.options)
            if needed - 1 > LOOKBACK_WINDOWS * self.window_size:
                raise InvalidInput(
                    f"transform {name!r} looks back {needed} rows, more than {LOOKBACK_WINDOWS} "
                    f"times window_size ({self.window_size}); use shorter windows or periods"
                )
            steps.append(step)
        return tuple(steps)

    def differences(self, sent: Iterable[str], other: Mapping[str, Any]) -> list[str]:
        """Fields in ``sent`` whose value in ``other`` differs from this configuration.

        ``pipeline: "auto"`` asks for nothing in particular, so it matches any pipeline.
        """
        mine = msgspec.to_builtins(self)
        return [
            f"{name}={_show(other[name])} (detector has {_show(mine[name])})"
            for name in sent
            if name in mine and _normal(other[name]) != _normal(mine[name])
            and not (name == "pipeline" and other[name] == "auto")
        ]

    def as_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


def _normal(value: Any) -> Any:
    # 0.1 and 0.10 are equal; an int sent for a float field (threshold 1 vs 1.0) too.
    if isinstance(value, bool) or value is None:
        return value
    if value == [] or value == {}:
        return None  # "no rolling windows" is the same whether sent as [] or left out
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    return msgspec.json.encode(value).decode()
