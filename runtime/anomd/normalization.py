"""Turning raw detector scores into comparable ``score`` values.

Raw scores live on each detector's own scale (distances, log-likelihoods, path lengths), so a
client cannot compare them across backends. The scaler learns location and spread from the
training scores and maps raw scores onto the scale the client asked for. Every map is
monotone, so a threshold learned on raw scores converts exactly to any of them -- up to
floating-point rounding and the logistic map's saturation at 1.0, which can merge a score just
above the threshold with the threshold itself. :func:`agree_with_flags` removes that last
difference, so that ``is_anomaly`` is always ``score > threshold`` as documented.
"""

from __future__ import annotations

import math
import sys
from typing import Literal, get_args

import msgspec
import numpy as np

Normalization = Literal["standardization", "zscore", "raw", "minmax"]
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)

# MAD of a normal distribution is 0.6745 σ; scaling by this makes it estimate σ.
_MAD_TO_SIGMA = 1.4826
_IQR_TO_SIGMA = 1.349
_FLOAT_MAX = float(np.finfo(np.float64).max)
# zscore and minmax clip one step below the largest float, so that a score can always be put
# one step above any threshold on those scales (see agree_with_flags).
_SCORE_MAX = float(np.nextafter(_FLOAT_MAX, 0.0))
# The standardised threshold sits at most this many (robust) scales above the median: expit(30)
# is 1 - 9.4e-14, leaving ~800 representable scores between the threshold and 1.0, whereas
# from ~37 on the logistic map rounds to exactly 1.0 and a row above the threshold could no
# longer score above it.
_MAX_THRESHOLD_Z = 30.0


def finite_scores(raw: np.ndarray) -> np.ndarray:
    """Replaces NaN and ±inf so that scores stay ordered and JSON-serialisable.

    A score a detector could not compute (NaN) is treated as maximally anomalous: hiding a row
    the model cannot explain would be the worse failure.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if np.isfinite(raw).all():
        return raw
    return np.nan_to_num(raw, nan=_FLOAT_MAX, posinf=_FLOAT_MAX, neginf=-_FLOAT_MAX)


class ScoreScaler(msgspec.Struct, frozen=True):
    """Location and spread statistics of the training scores."""

    median: float
    robust_scale: float
    mean: float
    std: float
    minimum: float
    maximum: float

    @classmethod
    def fit(cls, raw: np.ndarray, threshold: float | None = None) -> ScoreScaler:
        """Learns the statistics of the training scores ``raw``.

        Args:
            raw: Raw training scores.
            threshold: The raw decision threshold, when known. If it lies more than
                ``_MAX_THRESHOLD_Z`` robust scales above the median -- the robust scale is tiny
                next to the tail, e.g. when a large cluster of far outliers is in the training
                data -- the robust scale widens until it does not, so the standardised
                threshold stays below 1.0 and every row above it can score above it. Data
                with an ordinary tail never come near this and are unaffected.
        """
        raw = finite_scores(raw)
        finite = raw[np.abs(raw) < _FLOAT_MAX]
        if finite.size == 0:
            finite = np.zeros(1)
        median = float(np.median(finite))
        std = float(np.std(finite))
        mad = float(np.median(np.abs(finite - median))) * _MAD_TO_SIGMA
        q75, q25 = np.percentile(finite, [75, 25])
        robust = next(
            (s for s in (mad, float(q75 - q25) / _IQR_TO_SIGMA, std) if s > 1e-12 * max(1.0, abs(median))),
            1.0,
        )
        if threshold is not None:
            # Term by term: threshold - median itself may overflow for extreme raw scales.
            needed = float(threshold) / _MAX_THRESHOLD_Z - median / _MAX_THRESHOLD_Z
            robust = max(robust, needed)
        return cls(
            median=median,
            robust_scale=robust,
            mean=float(np.mean(finite)),
            std=std if std > 1e-12 else 1.0,
            minimum=float(finite.min()),
            maximum=float(finite.max()),
        )

    def transform(self, raw: np.ndarray, method: str) -> np.ndarray:
        """Maps raw scores onto the ``method`` scale (monotone non-decreasing)."""
        raw = np.asarray(raw, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            if method == "standardization":
                return expit((raw - self.median) / self.robust_scale)
            if method == "zscore":
                return np.clip((raw - self.mean) / self.std, -_SCORE_MAX, _SCORE_MAX)
            if method == "minmax":
                span = self.maximum - self.minimum
                return np.clip((raw - self.minimum) / (span if span > 0 else 1.0), -_SCORE_MAX, _SCORE_MAX)
            if method == "raw":
                return raw
        raise ValueError(f"unknown normalization {method!r}; choose one of {', '.join(NORMALIZATIONS)}")

    def transform_one(self, raw: float, method: str) -> float:
        return float(self.transform(np.array([raw]), method)[0])


#: Up to this many values, the logistic map is computed with ``math.exp`` (see :func:`expit`).
_SMALL = 4096


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, as ``scipy.special.expit`` computes it.

    scipy's ``expit`` is that formula with the C library's ``exp``, which is also what
    ``math.exp`` calls, so a small batch gets the same bits from a Python loop without
    importing ``scipy.special`` -- a third of a second of ``anomd detect``'s start-up on a
    small file. Large batches, and any process that has scipy loaded anyway (a server),
    use scipy's vectorised loop. (NumPy's own ``exp`` is SIMD code that differs from the C
    library's in the last bit for about 2 % of inputs, which would make batch scores differ
    from the streaming path's ``math.exp``; ``tests/test_properties.py`` checks the two paths
    agree bit for bit.)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size > _SMALL or "scipy.special" in sys.modules:
        from scipy.special import expit as vectorised

        return vectorised(x)
    return np.fromiter((_logistic(v) for v in x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


def _logistic(v: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-v))
    except OverflowError:  # exp(-v) beyond the largest float: C gives inf, and 1 / inf is 0
        return 0.0


def agree_with_flags(score: np.ndarray, flags: np.ndarray, threshold: float) -> np.ndarray:
    """``score`` adjusted so that ``score > threshold`` is exactly ``flags``.

    Decisions taken on the raw scale (``raw > raw_threshold``) are exact; the monotone maps to
    the other scales are exact only up to rounding, so a row a few ulps above the raw
    threshold can land *on* the converted threshold (and, before the scaler capped the
    standardised threshold, a saturated threshold of 1.0 left every flagged row at 1.0 == the
    threshold). Clients compare ``score`` with ``threshold``, so a flagged row's score is
    raised to the next float above the threshold and an unflagged row's is capped at it.
    Rows already on the right side are untouched and the map stays monotone, so rankings are
    unchanged; the change, where there is one, is of the order of the rounding it undoes.
    """
    above = np.nextafter(threshold, np.inf)
    return np.where(flags, np.maximum(score, above), np.minimum(score, threshold))
