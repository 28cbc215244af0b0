"""ECOD: empirical-CDF outlier detection (Li et al., 2022). Parameter-free and fast."""

from __future__ import annotations

import anomd
from anomd.detectors import DetectorSpec, NoParams

from ._pyod import PyODDetector


def build(params: NoParams, contamination: float) -> PyODDetector:
    from pyod.models.ecod import ECOD

    return PyODDetector(ECOD(contamination=contamination))


SPEC = DetectorSpec(
    id="ecod",
    name="ECOD",
    description="Scores each value by how far into the tails of its column's empirical distribution it falls.",
    category="probabilistic",
    speed="fast",
    memory="medium",
    best_for="A strong parameter-free default for tabular data; features with skewed tails.",
    params=NoParams,
    build=build,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
