"""k-nearest-neighbour distance detector (Ramaswamy et al., 2000)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import PyODDetector


class KNNParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    n_neighbors: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="k.")] = 5
    method: Literal["largest", "mean", "median"] = "largest"
    algorithm: Literal["auto", "ball_tree", "kd_tree", "brute"] = "auto"
    leaf_size: Annotated[int, msgspec.Meta(ge=1)] = 30
    metric: Literal["minkowski", "euclidean", "manhattan", "chebyshev"] = "minkowski"
    p: Annotated[int, msgspec.Meta(ge=1)] = 2


def build(params: KNNParams, contamination: float) -> PyODDetector:
    from pyod.models.knn import KNN

    return PyODDetector(
        KNN(
            n_neighbors=params.n_neighbors, method=params.method, algorithm=params.algorithm,
            leaf_size=params.leaf_size, metric=params.metric, p=params.p, contamination=contamination,
        )
    )


MB = 1 << 20
#: Measured: a tree (or brute-force search in bounded chunks) over a copy of the matrix, and
#: k + 1 neighbours (distance and index) per row. Not the O(n²) distance matrix: scikit-learn
#: reduces distances in small chunks (every metric here has a specialised reduction). The fit's
#: constant also covers the leave-one-out query's mask and the allocator's slack: a 12,000 x 10
#: fit through the server grew a process whose free pages had been handed back by 24 MB, and
#: scoring 20,000 rows by 24-25 MB (tests/test_admission_rss.py), so the constants are 11 and
#: 4 MB (27.8 and 26.5 MB estimated with the request's own parts). Scoring does not copy its
#: input (float64 in C order, as the server builds it): traced with tracemalloc, scoring 26,214
#: x 40 rows (an explanation's probe block) peaked 2.2 MB above them, 20,000 x 10 3.1 MB. The
#: copy once counted here put the estimate of explaining 1,000 rows of 40 features at 2.0-2.06
#: times its measured 20 MB, over the bound the test holds estimates to.
MEMORY = MemoryCost(
    fit=lambda n, d, p: 2 * n * d * CELL + 3 * n * (p.n_neighbors + 1) * 2 * CELL + 11 * MB,
    score=lambda m, d, n, p: 2 * m * (p.n_neighbors + 1) * 2 * CELL + 4 * MB,
    model=lambda n, d, p: n * d * CELL + n * 48 + MB,
)


SPEC = DetectorSpec(
    id="knn",
    name="k-Nearest Neighbours",
    description="Scores a row by the distance to its k-th nearest training row (or the mean/median of k).",
    category="proximity",
    speed="medium",
    memory="high",
    best_for="Low- to mid-dimensional data where distance means similarity; a strong baseline.",
    params=KNNParams,
    build=build,
    # Training scores leave each row out, so k neighbours need k + 1 rows.
    min_samples=lambda params: params.n_neighbors + 1,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
