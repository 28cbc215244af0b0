"""COPOD: copula-based outlier detection (Li et al., 2020). Parameter-free.

Fitted as PyOD fits it, without importing PyOD; scoring uses a per-column ECDF sketch (see
``_fast_ecdf``) so that one row costs microseconds and the model does not store the training
matrix. ``fast_scoring=False`` keeps PyOD's own fitting and scoring path. ``tail`` decides how
a value beyond a column's training range counts (``_range_tails``): further out, more
anomalous (the default), or capped as in PyOD.
"""

from __future__ import annotations

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._fast_ecdf import ECDFTailDetector
from ._fast_param import FastScoring
from ._range_tails import TailParam


class COPODParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    fast_scoring: FastScoring = True
    tail: TailParam = "extrapolated"


def build(params: COPODParams, contamination: float) -> ECDFTailDetector:
    if params.fast_scoring:  # fitted without PyOD (same training scores, see _ecdf_training)
        return ECDFTailDetector(None, "copod", True, params.tail)
    from pyod.models.copod import COPOD

    return ECDFTailDetector(COPOD(contamination=contamination), "copod", False, params.tail)


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
