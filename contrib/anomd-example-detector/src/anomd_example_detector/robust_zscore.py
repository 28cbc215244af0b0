"""Robust z-score: how many robust standard deviations a row lies from the training median.

Each feature is centred on its training median and scaled by its median absolute deviation
(MAD), so the outliers in the training data barely move the baseline, unlike a mean and a
standard deviation. The per-feature distances are then combined into one score per row.

It is the detector to start with when anomalies show up as one value far off its usual range
(a stuck sensor, a price with a misplaced decimal point): it is fast, needs no tuning, and its
per-feature distances explain each alert. It does not see unusual *combinations* of ordinary
values; a multivariate backend (isolation forest, kNN) does.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

import anomd
from anomd.detectors import DetectorSpec

#: Scales a MAD (and a mean absolute deviation) to estimate the standard deviation of
#: normally distributed data, so a score of 3 means "three sigma" on well-behaved columns.
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = float(np.sqrt(np.pi / 2))


class RobustZScoreParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The parameters clients send as ``params``; this Struct is also the published schema."""

    combine: Annotated[
        Literal["max", "mean", "rms"],
        msgspec.Meta(
            description="How per-feature z-scores become one score: the worst feature, "
            "their mean, or their root mean square."
        ),
    ] = "max"
    min_scale: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=1,
            description="Smallest spread a feature may have, relative to "
            "max(1, |median|); keeps constant features finite.",
        ),
    ] = 1e-6


class RobustZScore:
    """The detector: ``fit`` learns medians and spreads, ``score`` measures distances.

    Args:
        params: Validated parameters.
        contamination: Unused: the runtime turns scores into decisions, not the detector.
    """

    def __init__(self, params: RobustZScoreParams, contamination: float) -> None:
        self.combine = params.combine
        self.min_scale = params.min_scale

    def fit(self, X: np.ndarray) -> RobustZScore:
        median = np.median(X, axis=0)
        deviations = np.abs(X - median)
        scale = MAD_TO_SIGMA * np.median(deviations, axis=0)
        # The MAD is zero when over half a column holds one value (counts, flags); the mean
        # absolute deviation still sees the spread of the rest.
        scale = np.where(scale > 0, scale, MEAN_AD_TO_SIGMA * deviations.mean(axis=0))
        self.median_ = median
        self.scale_ = np.maximum(scale, self.min_scale * np.maximum(1.0, np.abs(median)))
        # Median and MAD hardly move when one row is left out, so in-sample scores are on the
        # same scale as scores of unseen rows, which is what the runtime's threshold needs.
        self.training_scores_ = self.score(X)
        return self

    def feature_scores(self, X: np.ndarray) -> np.ndarray:
        """Per-feature robust z-scores (rows × features): the explanation of a score."""
        return np.abs(np.asarray(X, dtype=np.float64) - self.median_) / self.scale_

    def score(self, X: np.ndarray) -> np.ndarray:
        z = self.feature_scores(X)
        if self.combine == "max":
            return z.max(axis=1)
        if self.combine == "mean":
            return z.mean(axis=1)
        return np.sqrt((z**2).mean(axis=1))


SPEC = DetectorSpec(
    id="robust_zscore",
    name="Robust z-score",
    description="Distance of each feature from its training median in units of the median absolute "
    "deviation, combined over features.",
    category="statistical",
    speed="fast",
    memory="low",
    best_for="Single values far outside their usual range in roughly unimodal columns; an "
    "explainable first baseline.",
    params=RobustZScoreParams,
    build=RobustZScore,
    # A median and a MAD from fewer rows say little about the spread.
    min_samples=lambda params: 3,
)


@anomd.hookimpl
def register_detectors(register):
    register(SPEC)
