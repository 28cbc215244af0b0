"""Isolation forest (Liu et al., 2008): anomalies are isolated by fewer random splits.

PyOD (scikit-learn) fits; scoring walks all trees at once from packed arrays (see
``_fast_iforest``), giving PyOD's scores without its per-tree overhead. ``fast_scoring=False``
keeps PyOD's own scoring path.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

import anomd
from anomd.detectors import DetectorSpec

from ._fast_iforest import FastIForestDetector
from ._fast_param import FastScoring
from ._range_tails import TailParam


class IsolationForestParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    n_estimators: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Number of trees.")] = 100
    max_samples: Annotated[int, msgspec.Meta(ge=2)] | Annotated[float, msgspec.Meta(gt=0, le=1)] | Literal["auto"] = "auto"
    max_features: Annotated[float, msgspec.Meta(gt=0, le=1, description="Share of features per tree.")] = 1.0
    bootstrap: bool = False
    random_state: int | None = 42
    fast_scoring: FastScoring = True
    tail: TailParam = "extrapolated"


def build(params: IsolationForestParams, contamination: float) -> FastIForestDetector:
    from pyod.models.iforest import IForest

    return FastIForestDetector(
        IForest(
            n_estimators=params.n_estimators,
            max_samples=params.max_samples,
            max_features=params.max_features,
            bootstrap=params.bootstrap,
            random_state=params.random_state,
            contamination=contamination,
        ),
        params.fast_scoring,
        params.tail,
    )


SPEC = DetectorSpec(
    id="isolation_forest",
    name="Isolation Forest",
    description="Random trees split the data until each row is alone; rows isolated in few splits are anomalous.",
    category="ensemble",
    speed="fast",
    memory="medium",
    best_for="General-purpose tabular data, mixed scales, many rows.",
    params=IsolationForestParams,
    build=build,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
