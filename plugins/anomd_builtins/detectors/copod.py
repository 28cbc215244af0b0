"""COPOD: copula-based outlier detection (Li et al., 2020). Parameter-free.

PyOD fits; scoring uses a per-column ECDF sketch (see ``_fast_ecdf``) so that one row costs
microseconds and the model does not store the training matrix. ``fast_scoring=False`` keeps
PyOD's own scoring path.
"""

from __future__ import annotations

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._fast_ecdf import ECDFTailDetector
from ._fast_param import FastScoring


class COPODParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    fast_scoring: FastScoring = True


def build(params: COPODParams, contamination: float) -> ECDFTailDetector:
    from pyod.models.copod import COPOD

    return ECDFTailDetector(COPOD(contamination=contamination), "copod", params.fast_scoring)


MB = 1 << 20
#: As ECOD (same fit, same sketch-based scoring).
MEMORY = MemoryCost(
    fit=lambda n, d, p: 10 * n * d * CELL + 32 * n + 4 * MB,
    score=lambda m, d, n, p: 16 * m * d * CELL + 4 * MB,
    model=lambda n, d, p: d * min(n, 4096) * 24 + 16 * n + MB,
)


SPEC = DetectorSpec(
    id="copod",
    name="COPOD",
    description="Estimates tail probabilities with an empirical copula and sums them across features.",
    category="probabilistic",
    speed="fast",
    memory="low",
    best_for="High-dimensional tabular data with no tuning budget; interpretable per-feature tails.",
    params=COPODParams,
    build=build,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
