"""One-class SVM (Schölkopf et al., 2001): a kernel boundary around the normal data."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._pyod import PyODDetector


class OneClassSVMParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kernel: Literal["rbf", "linear", "poly", "sigmoid"] = "rbf"
    nu: Annotated[float, msgspec.Meta(gt=0, le=1, description="Upper bound on the share of training errors.")] = 0.5
    gamma: Annotated[float, msgspec.Meta(gt=0)] | Literal["auto", "scale"] = "auto"
    degree: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    coef0: float = 0.0
    tol: Annotated[float, msgspec.Meta(gt=0)] = 1e-3
    max_iter: Annotated[int, msgspec.Meta(ge=-1)] = -1


def build(params: OneClassSVMParams, contamination: float) -> PyODDetector:
    from pyod.models.ocsvm import OCSVM

    return PyODDetector(
        OCSVM(
            kernel=params.kernel, nu=params.nu, gamma=params.gamma, degree=params.degree,
            coef0=params.coef0, tol=params.tol, max_iter=params.max_iter, contamination=contamination,
        )
    )


MB = 1 << 20
#: libsvm caches kernel rows (one float32 per pair of training rows) up to PyOD's 200 MB cache:
#: the quadratic part. The model keeps the support vectors (about ``nu`` of the rows). Scoring
#: makes one contiguous float64 copy of the rows and walks the support vectors row by row: the
#: 1,000 x 40 explanation (26,214-row probe blocks) grew a process by 17-19 MB, against 34 MB
#: estimated with two copies.
_KERNEL_CACHE = 200 * MB
MEMORY = MemoryCost(
    fit=lambda n, d, p: min(4 * n * n, _KERNEL_CACHE) + 3 * n * d * CELL + 64 * n + 4 * MB,
    score=lambda m, d, n, p: m * d * CELL + 16 * m + 2 * MB,
    model=lambda n, d, p: n * d * CELL + 32 * n + MB,
)


SPEC = DetectorSpec(
    id="one_class_svm",
    name="One-Class SVM",
    description="Learns a kernel boundary enclosing most training rows; distance outside it is the score.",
    category="linear",
    speed="slow",
    memory="medium",
    best_for="Small to medium data with a smooth normal region; quadratic in the number of rows.",
    params=OneClassSVMParams,
    build=build,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
