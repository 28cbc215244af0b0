"""A streaming detector's configuration: validated once, compared on every later request.

The configuration is fixed when a detector is created. A request that names an existing
detector with a different value for a field it sends is refused (409) rather than silently
served by a detector configured otherwise; the field-by-field comparison lives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from anomd.errors import InvalidInput
from anomd.registry import Registry
from anomd.streaming.features import TransformStep
from anomd.transforms import TransformSpec

#: Largest window accepted (rows); bounds the memory one request can make the server reserve.
MAX_WINDOW = 1_000_000


class StreamConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a streaming detector is set up (the ``POST /stream`` creation fields).

    Attributes:
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
        transforms: More transforms, e.g. ``[{"transform": "diff", "periods": [1]}]``.
        params: The backend's own hyper-parameters.
    """

    backend: str = "ecod"
    min_samples: int = 50
    retrain_interval: int = 100
    retrain_lag: int | None = None
    window_size: int = 1000
    contamination: float = 0.1
    threshold: float | None = None
    rolling_windows: list[int] | None = None
    include_lags: bool = False
    lag_periods: list[int] | None = None
    transforms: list[dict[str, Any]] = msgspec.field(default_factory=list)
    params: dict[str, Any] = msgspec.field(default_factory=dict)

    def check(self) -> StreamConfig:
        """Checks ranges and relations between fields.

        Raises:
            InvalidInput: Naming the field, e.g. ``min_samples (2000) > window_size (1000)``.
        """
        if not (2 <= self.min_samples):
            raise InvalidInput(f"min_samples must be at least 2, got {self.min_samples}")
        if not (2 <= self.window_size <= MAX_WINDOW):
            raise InvalidInput(f"window_size must be in [2, {MAX_WINDOW}], got {self.window_size}")
        if self.min_samples > self.window_size:
            raise InvalidInput(
                f"min_samples ({self.min_samples}) > window_size ({self.window_size}): the window "
                "could never hold enough points to fit; raise window_size or lower min_samples"
            )
        if self.retrain_interval < 1:
            raise InvalidInput(f"retrain_interval must be at least 1, got {self.retrain_interval}")
        if self.retrain_lag is not None and not (0 <= self.retrain_lag <= MAX_WINDOW):
            raise InvalidInput(f"retrain_lag must be in [0, {MAX_WINDOW}], got {self.retrain_lag}")
        if not (0.0 < self.contamination <= 0.5):
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
        for i, item in enumerate(self.transforms):
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
            if needed - 1 > self.window_size:
                raise InvalidInput(
                    f"transform {name!r} looks back {needed} rows, more than window_size "
                    f"({self.window_size}); use shorter windows or periods"
                )
            steps.append(step)
        return tuple(steps)

    def differences(self, sent: Iterable[str], other: Mapping[str, Any]) -> list[str]:
        """Fields in ``sent`` whose value in ``other`` differs from this configuration."""
        mine = msgspec.to_builtins(self)
        return [
            f"{name}={_show(other[name])} (detector has {_show(mine[name])})"
            for name in sent
            if name in mine and _normal(other[name]) != _normal(mine[name])
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
