"""Minimum covariance determinant (Rousseeuw, 1984): robust Mahalanobis distance."""

from __future__ import annotations

from typing import Annotated

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import PyODDetector


class MCDParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    support_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    assume_centered: bool = False
    random_state: int | None = 42


def build(params: MCDParams, contamination: float) -> PyODDetector:
    from pyod.models.mcd import MCD

    return PyODDetector(
        MCD(
            support_fraction=params.support_fraction, assume_centered=params.assume_centered,
            random_state=params.random_state, contamination=contamination,
        )
    )


MB = 1 << 20
#: Measured: scikit-learn's FastMCD draws many subsets and keeps distances for every row; about
#: a dozen copies of the matrix at the peak (an 8,000 x 10 fit grew a trimmed process by 23-25
#: MB, and a stream's 4,000-row window fit plus its scoring by 32-34 MB, hence 9 MB of constant).
#: Scoring is a Mahalanobis distance (two copies).
MEMORY = MemoryCost(
    fit=lambda n, d, p: 12 * n * d * CELL + 600 * n + 9 * MB,
    score=lambda m, d, n, p: m * d * CELL + 16 * m + MB,
    model=lambda n, d, p: 40 * n + 4 * d * d * CELL + MB,
)


SPEC = DetectorSpec(
    id="mcd",
    name="Minimum Covariance Determinant",
    description="Fits a robust Gaussian (mean and covariance of the most concentrated subset) and scores Mahalanobis distance.",
    category="linear",
    speed="medium",
    memory="low",
    best_for="Roughly elliptical (Gaussian-like) data with correlated features and fewer than ~50 columns.",
    params=MCDParams,
    build=build,
    # A covariance estimate needs more rows than columns; the data check refines this.
    min_samples=lambda params: 3,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
