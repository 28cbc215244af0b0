"""Local outlier factor (Breunig et al., 2000): density relative to the neighbours' density."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import WORKING_MEMORY_MB, PyODDetector


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


MB = 1 << 20
def _chunks(params: LOFParams) -> int:
    """Distance chunks of a brute-force search: the cosine metric has no specialised reduction,
    so scikit-learn computes distance rows in chunks of up to ``_pyod.WORKING_MEMORY_MB``."""
    return 2 * WORKING_MEMORY_MB * MB if params.metric == "cosine" else 2 * MB


#: Measured: like kNN (a tree or chunked brute force over a copy of the matrix), with the k
#: neighbours' distances and indices of every training row kept in the model. The fit's 2 MB is
#: a fresh process's first large request (12,000 x 10: 26.1 MB measured, 26.9 estimated without it).
MEMORY = MemoryCost(
    fit=lambda n, d, p: 2 * n * d * CELL + 4 * n * (p.n_neighbors + 1) * 2 * CELL + _chunks(p) + 2 * MB,
    score=lambda m, d, n, p: m * d * CELL + 3 * m * (p.n_neighbors + 1) * 2 * CELL + _chunks(p),
    model=lambda n, d, p: n * d * CELL + n * (p.n_neighbors + 1) * 2 * CELL + n * 48 + MB,
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
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
