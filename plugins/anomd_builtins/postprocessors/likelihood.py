"""Anomaly likelihood: is the recent level of raw scores unusual for this stream?

After Numenta's anomaly likelihood (Ahmad et al., 2017), written from its description: keep the
last ``long`` raw scores, and compare the mean of the last ``short`` of them with their mean and
spread. The tail probability ``p = Q((short mean - mean) / sd)`` of a Gaussian with those two
moments says how unusual the recent scores are *for this stream*: a noisy stream whose raw
scores are always high does not alarm, a quiet one does at its first burst. Averaging over
``short`` points favours sustained changes over single noisy points. The published score is
``-log10(p) / 10`` (capped at 1), 0 for the first ``learn`` points while the distribution is
learned. Any backend's raw score works as input.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import numpy as np

import anomd
from anomd.postprocessors import PostprocessorSpec, ScoreStream, score_of_surprise

_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class LikelihoodOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Recent raw scores averaged (the "short-term" mean).
    short: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 10
    #: Raw scores the mean and spread are taken over (the "long-term" distribution).
    long: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 1000
    #: Points before any score is published (the distribution needs a few).
    learn: Annotated[int, msgspec.Meta(ge=2, le=100_000)] = 100

    def __post_init__(self) -> None:
        if self.short > self.long:
            raise ValueError(f"short ({self.short}) must not exceed long ({self.long})")


def surprise_of_z(z: float) -> float:
    """``-ln Q(z)`` for the standard normal tail ``Q``, without underflow for large ``z``."""
    if z < 5.0:
        return -math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    if z > 1e150:  # z * z would overflow; the score is 1 long before
        return math.inf
    # Asymptotic series of Mills' ratio: Q(z) ~ phi(z) / z (1 - 1/z^2 + 3/z^4).
    return 0.5 * z * z + _LN_SQRT_2PI + math.log(z) - math.log1p(-1.0 / (z * z) + 3.0 / z**4)


class Likelihood(ScoreStream):
    """The state: a ring of the last ``long`` raw scores, with running sums."""

    __slots__ = ("count", "learn", "long", "position", "ring", "short", "sum", "sum_sq")

    def __init__(self, options: LikelihoodOptions) -> None:
        self.short, self.long, self.learn = options.short, options.long, options.learn
        self.ring = np.zeros(options.long)
        self.position = self.count = 0
        self.sum = self.sum_sq = 0.0

    def _score(self, raw: float) -> float:
        """The score of ``raw`` as the next point, from the state before it."""
        if self.count + 1 < self.learn:
            return 0.0
        n = min(self.count, self.long)
        mean = self.sum / n
        variance = self.sum_sq / n - mean * mean
        sd = math.sqrt(variance) if variance > 0.0 else 0.0
        k = min(self.short - 1, n)
        recent = raw + math.fsum(float(self.ring[(self.position - 1 - i) % self.long]) for i in range(k))
        excess = recent / (k + 1) - mean
        if not excess > 0.0:
            return 0.0
        spread = max(sd, 1e-12 * max(abs(mean), 1.0))
        # Raw scores near the float range overflow the sums: then the excess is off the scale.
        z = excess / spread if math.isfinite(excess / spread) else math.inf
        return score_of_surprise(surprise_of_z(z))

    def peek(self, raw: float) -> float:
        return self._score(raw)

    def update(self, raw: float) -> float:
        score = self._score(raw)
        if self.count >= self.long:
            old = float(self.ring[self.position])
            self.sum -= old
            self.sum_sq -= old * old
        raw = float(raw)
        self.ring[self.position] = raw
        self.sum += raw
        self.sum_sq += raw * raw
        self.position = (self.position + 1) % self.long
        self.count += 1
        if self.position == 0:  # once per lap, so rounding in the running sums cannot build up
            self.sum, self.sum_sq = float(self.ring.sum()), float(self.ring @ self.ring)
        return score



SPEC = PostprocessorSpec(
    id="likelihood",
    description="Anomaly likelihood: tail probability of the recent mean raw score against the stream's long-run mean and spread.",
    options=LikelihoodOptions,
    build=Likelihood,
)


@anomd.hookimpl
def register_postprocessors(register):
    register(SPEC)
