"""ECOD: empirical-CDF outlier detection (Li et al., 2022). Parameter-free and fast.

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


class ECODParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    fast_scoring: FastScoring = True
    tail: TailParam = "extrapolated"


def build(params: ECODParams, contamination: float) -> ECDFTailDetector:
    if params.fast_scoring:  # fitted without PyOD (same training scores, see _ecdf_training)
        return ECDFTailDetector(None, "ecod", True, params.tail)
    from pyod.models.ecod import ECOD

    return ECDFTailDetector(ECOD(contamination=contamination), "ecod", False, params.tail)


MB = 1 << 20
#: Measured: PyOD's fit keeps the matrix and four more of its size; scoring builds about a dozen
#: matrix-sized temporaries; the model is the ECDF sketch (at most a few thousand knots a column).
MEMORY = MemoryCost(
    fit=lambda n, d, p: 10 * n * d * CELL + 32 * n + 4 * MB,
    score=lambda m, d, n, p: 16 * m * d * CELL + 4 * MB,
    model=lambda n, d, p: d * min(n, 4096) * 24 + 16 * n + MB,
)


SPEC = DetectorSpec(
    id="ecod",
    name="ECOD",
    description="Scores each value by how far into the tails of its column's empirical distribution it falls.",
    category="probabilistic",
    speed="fast",
    memory="low",
    best_for="A strong parameter-free default for tabular data; features with skewed tails.",
    params=ECODParams,
    build=build,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
