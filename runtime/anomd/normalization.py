"""Turning raw detector scores into comparable ``score`` values.

Raw scores live on each detector's own scale (distances, log-likelihoods, path lengths), so a
client cannot compare them across backends. The scaler learns location and spread from the
training scores and maps raw scores onto the scale the client asked for. Every map is
monotone, so a threshold learned on raw scores converts exactly to any of them.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec
import numpy as np
from scipy.special import expit

Normalization = Literal["standardization", "zscore", "raw", "minmax"]
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)

# MAD of a normal distribution is 0.6745 σ; scaling by this makes it estimate σ.
_MAD_TO_SIGMA = 1.4826
_IQR_TO_SIGMA = 1.349
_FLOAT_MAX = float(np.finfo(np.float64).max)


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
    def fit(cls, raw: np.ndarray) -> ScoreScaler:
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
                return np.clip((raw - self.mean) / self.std, -_FLOAT_MAX, _FLOAT_MAX)
            if method == "minmax":
                span = self.maximum - self.minimum
                return np.clip((raw - self.minimum) / (span if span > 0 else 1.0), -_FLOAT_MAX, _FLOAT_MAX)
            if method == "raw":
                return raw
        raise ValueError(f"unknown normalization {method!r}; choose one of {', '.join(NORMALIZATIONS)}")

    def transform_one(self, raw: float, method: str) -> float:
        return float(self.transform(np.array([raw]), method)[0])
