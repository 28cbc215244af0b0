"""COPOD: copula-based outlier detection (Li et al., 2020). Parameter-free."""

from __future__ import annotations

import anomd
from anomd.detectors import DetectorSpec, NoParams

from ._pyod import PyODDetector


def build(params: NoParams, contamination: float) -> PyODDetector:
    from pyod.models.copod import COPOD

    return PyODDetector(COPOD(contamination=contamination))


SPEC = DetectorSpec(
    id="copod",
    name="COPOD",
    description="Estimates tail probabilities with an empirical copula and sums them across features.",
    category="probabilistic",
    speed="fast",
    memory="medium",
    best_for="High-dimensional tabular data with no tuning budget; interpretable per-feature tails.",
    params=NoParams,
    build=build,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
