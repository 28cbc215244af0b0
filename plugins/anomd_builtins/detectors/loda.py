"""LODA: lightweight on-line detector of anomalies (Pevný, 2016).

PyOD fits; scoring evaluates all projections at once (see ``_fast_loda``) instead of PyOD's
loop over projections. ``fast_scoring=False`` keeps PyOD's own scoring path.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

import anomd
from anomd.detectors import CELL, DetectorSpec, MemoryCost

from ._fast_loda import FastLODADetector
from ._fast_param import FastScoring
from ._range_tails import TailParam


class LODAParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    n_bins: Annotated[int, msgspec.Meta(ge=2, le=10_000, description="Histogram bins per projection.")] = 10
    n_random_cuts: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Random projections.")] = 100
    random_state: int | None = 42
    fast_scoring: FastScoring = True
    tail: TailParam = "extrapolated"


def build(params: LODAParams, contamination: float) -> FastLODADetector:
    from pyod.models.loda import LODA

    return FastLODADetector(
        LODA(n_bins=params.n_bins, n_random_cuts=params.n_random_cuts, random_state=params.random_state,
             contamination=contamination),
        params.fast_scoring,
        params.tail,
    )


MB = 1 << 20
#: Measured: the projections of the whole matrix, histogram by histogram; a small model. The fit's
#: constant is the first large request's heap growth: a 40,000 x 10 fit grew a fresh process by
#: 40.6 MB against 39.2 estimated with 4 MB (one that had served others: 30.5 MB).
MEMORY = MemoryCost(
    fit=lambda n, d, p: 2 * n * d * CELL + 12 * n * CELL + 10 * MB,
    score=lambda m, d, n, p: 2 * m * d * CELL + 12 * m * CELL + 4 * MB,
    model=lambda n, d, p: p.n_random_cuts * (d + p.n_bins) * CELL * 2 + 16 * n + MB,
)


SPEC = DetectorSpec(
    id="loda",
    name="LODA",
    description="Averages the negative log density of one-dimensional histograms over sparse random projections.",
    category="ensemble",
    speed="fast",
    memory="low",
    best_for="Streams and large data: cheap to fit and to score, robust to irrelevant features.",
    params=LODAParams,
    build=build,
    memory_cost=MEMORY,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
