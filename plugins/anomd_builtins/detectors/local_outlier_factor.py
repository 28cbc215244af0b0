"""Local outlier factor (Breunig et al., 2000): density relative to the neighbours' density."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

import anomd
from anomd.detectors import DetectorSpec

from ._pyod import PyODDetector


class LOFParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    n_neighbors: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Neighbourhood size.")] = 20
    algorithm: Literal["auto", "ball_tree", "kd_tree", "brute"] = "auto"
    leaf_size: Annotated[int, msgspec.Meta(ge=1)] = 30
    metric: Literal["minkowski", "euclidean", "manhattan", "chebyshev", "cosine"] = "minkowski"
    p: Annotated[int, msgspec.Meta(ge=1)] = 2


def build(params: LOFParams, contamination: float) -> PyODDetector:
    from pyod.models.lof import LOF

    return PyODDetector(
        LOF(
            n_neighbors=params.n_neighbors, algorithm=params.algorithm, leaf_size=params.leaf_size,
            metric=params.metric, p=params.p, contamination=contamination, novelty=True,
        )
    )


SPEC = DetectorSpec(
    id="local_outlier_factor",
    name="Local Outlier Factor",
    description="Compares each row's local density with that of its nearest neighbours.",
    category="proximity",
    speed="medium",
    memory="high",
    best_for="Clusters of different densities; local anomalies a global model misses.",
    params=LOFParams,
    build=build,
    min_samples=lambda params: 2,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
