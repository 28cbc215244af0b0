"""Which features made a row anomalous: per-feature contributions and the cause.

A feature's **contribution** is how much the detector's raw score falls when that feature
alone is set to its training median. It is model-agnostic and in the detector's own units, and
usually the largest contribution is the cause. Two things make contributions unable to tell:

- **Ties.** Several features can raise the score by exactly the same amount: ECOD's tail
  probability cannot go below ``1/(n+1)``, so every feature beyond the training range adds the
  same. Contributions within :data:`TIE_TOLERANCE` of each other (relative to the row's score)
  are tied.
- **Saturation.** Most detectors stop seeing distance at the edge of the training data: a
  histogram (HBOS, LODA) puts any value past its last bin in its sparsest bin, an ECDF cannot
  rank past its last value, an isolation tree never splits beyond the data it grew on. A value
  ten ranges beyond the training maximum then scores no higher than one just past it, and
  can contribute less than a merely unusual value of another feature. A feature is saturated
  when its value lies outside the training range, it does raise the score, and moving it twice
  as far from the median raises the score by less than :data:`SATURATION` of its contribution
  (the detector cannot tell how far out it is). This is measured on the detector, not assumed
  per algorithm: a kNN distance keeps growing beyond the range, so its features never saturate.

The **cause** is the feature with the largest contribution unless that evidence is uninformative
in one of these ways: then the features tied with the largest contribution and the saturated
features are compared by a second measure, the distance from the training median in robust
units (interquartile range / 1.349, see :class:`FeatureProfile`), and the farthest is the cause.
The reply lists the cause first, then the other features by contribution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from anomd.normalization import finite_scores

#: Rows an explanation covers at most (each costs one extra scoring per feature).
EXPLAIN_LIMIT = 1000
#: Probe cells scored at once (8 MB of float64), whatever the width.
EXPLAIN_BLOCK_CELLS = 1 << 20
#: Contributions closer than this share of the row's score scale count as tied.
TIE_TOLERANCE = 1e-9
#: A feature outside the training range is saturated when moving it twice as far from the
#: median raises the score by less than this share of its contribution.
SATURATION = 0.25


def explain_block_rows(features: int) -> int:
    """Probe rows an explanation scores at once for ``features`` columns (at least one)."""
    return max(1, EXPLAIN_BLOCK_CELLS // max(1, features))


class Explanation(msgspec.Struct, frozen=True):
    """Why one row is anomalous.

    Attributes:
        cause: The feature the explanation names (see the module docstring).
        contributions: Feature → how much the raw score falls when that feature alone is set
            to its training median; the cause first, then by contribution.
    """

    cause: str
    contributions: dict[str, float]


@dataclass(frozen=True, slots=True)
class FeatureProfile:
    """What an explanation needs to know of each training column.

    Attributes:
        median: The training median (what a feature is set to when probing it).
        scale: The robust spread (the unit of the deviation tie-break); ones when unknown.
        low: The training minimum, or None when unknown (models saved before it was kept).
        high: The training maximum, or None when unknown.
    """

    median: np.ndarray
    scale: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @classmethod
    def learn(cls, X: np.ndarray) -> FeatureProfile:
        """Median, robust spread and range of each column of the training matrix.

        The spread is the interquartile range over 1.349 (the standard deviation of a normal
        column), else 1.4826 × the median absolute deviation, else the standard deviation; a
        constant column gets a spread so small that any other value is far from it.
        """
        q25, median, q75 = np.percentile(X, [25, 50, 75], axis=0)
        spread = (q75 - q25) / 1.349
        flat = spread <= 0
        if flat.any():
            mad = 1.4826 * np.median(np.abs(X[:, flat] - median[flat]), axis=0)
            spread[flat] = np.where(mad > 0, mad, X[:, flat].std(axis=0))
        floor = 1e-9 * (np.abs(median) + 1.0)
        return cls(median, np.maximum(spread, floor), X.min(axis=0), X.max(axis=0))

    @classmethod
    def from_parts(cls, parts: dict[str, Any]) -> FeatureProfile | None:
        """The profile stored in an artifact; older artifacts kept only the medians."""
        stored = parts.get("feature_profile")
        if stored is not None:
            return cls(**stored)
        medians = parts.get("feature_medians")
        return None if medians is None else cls(medians, np.ones_like(medians))

    def to_parts(self) -> dict[str, Any]:
        return {"feature_profile": {"median": self.median, "scale": self.scale,
                                    "low": self.low, "high": self.high},
                "feature_medians": self.median}

    def deviations(self, X: np.ndarray) -> np.ndarray:
        """Each cell's distance from its column's median, in robust units."""
        return np.abs(X - self.median) / self.scale


def explain(
    score: Callable[[np.ndarray], np.ndarray], X: np.ndarray, rows: Sequence[int],
    profile: FeatureProfile, names: Sequence[str], limit: int = EXPLAIN_LIMIT,
) -> dict[int, Explanation]:
    """Explanations of ``rows`` of ``X`` (at most ``limit``) for the detector's raw ``score``.

    Each explained row costs one scoring per feature, plus one per feature outside the
    training range (the saturation check); probes are scored in blocks of
    :func:`explain_block_rows` rows, so the memory this takes is bounded whatever the width.
    """
    rows = list(rows)[:limit]
    if not rows:
        return {}
    subset = X[rows]
    n, d = subset.shape
    base = finite_scores(score(subset))
    which, cols = np.divmod(np.arange(n * d), d)
    drops = _drops(score, subset, base, which, cols, profile.median[cols]).reshape(n, d)
    saturated = np.zeros((n, d), dtype=bool)
    if profile.low is not None and profile.high is not None:
        outside = (subset < profile.low) | (subset > profile.high)
        at = np.flatnonzero((outside & (drops > 0)).reshape(-1))
        if at.size:
            which, cols = np.divmod(at, d)
            farther = 2.0 * subset[which, cols] - profile.median[cols]
            rise = -_drops(score, subset, base, which, cols, farther)
            saturated.reshape(-1)[at] = rise < SATURATION * drops.reshape(-1)[at]
    deviations = profile.deviations(subset)
    explained = {}
    for k, row in enumerate(rows):
        order = rank(drops[k], deviations[k], saturated[k], float(base[k]))
        explained[row] = Explanation(
            cause=names[order[0]],
            contributions={names[j]: round(float(drops[k, j]), 6) for j in order},
        )
    return explained


def _drops(
    score: Callable[[np.ndarray], np.ndarray], subset: np.ndarray, base: np.ndarray,
    which: np.ndarray, cols: np.ndarray, values: np.ndarray,
) -> np.ndarray:
    """``base[row] - score(row with one column replaced)`` for each (row, column, value)."""
    out = np.empty(which.size)
    step = explain_block_rows(subset.shape[1])
    for start in range(0, which.size, step):
        part = slice(start, start + step)
        probes = subset[which[part]]
        probes[np.arange(probes.shape[0]), cols[part]] = values[part]
        out[part] = base[which[part]] - finite_scores(score(probes))
    return out


def rank(drops: np.ndarray, deviations: np.ndarray, saturated: np.ndarray, score: float) -> np.ndarray:
    """One row's features in explanation order: the cause, then by contribution.

    The cause is the largest contribution, unless other features tie with it or some are
    saturated: then it is the one of those farthest from its median in robust units.
    Features tied in contribution are ordered by that distance too.
    """
    scale = max(abs(score), float(np.abs(drops).max(initial=0.0)), np.finfo(float).tiny)
    buckets = np.floor(drops / (TIE_TOLERANCE * scale))
    order = np.lexsort((-deviations, -buckets))
    contenders = np.flatnonzero((buckets == buckets[order[0]]) | saturated)
    cause = contenders[np.argmax(deviations[contenders])]
    return np.concatenate(([cause], order[order != cause]))
