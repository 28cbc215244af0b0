"""The sign of each column's skewness with one new row appended, from stored moments.

ECOD and COPOD pick, per column, which tail counts as "the" outlying one from the sign of the
column's skewness, and PyOD computes that skewness over the training rows *plus the rows being
scored*. On a near-symmetric column one extreme row can flip the sign, and for COPOD that
changes the row's score a lot (its per-feature score falls from ``U_l`` to ``U_l / 2``). To
reproduce PyOD's one-row result without the training matrix, the detector keeps the count,
mean and second and third central sums of each column and updates them with the row
(the one-point case of the pairwise moment update of Chan et al. / Pébay, 2008).

The sign follows ``scipy.stats.skew`` (biased): the sign of the third central moment, and 0
where scipy returns NaN because the variance is zero to machine precision.
"""

from __future__ import annotations

import numpy as np

_EPS = float(np.finfo(np.float64).eps)


class AppendedSkew:
    """Per-column moments of the training matrix.

    Attributes:
        n: Training rows.
        mean: Column means.
        m2: Sums of squared deviations from the mean.
        m3: Sums of cubed deviations from the mean.
    """

    def __init__(self, X: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float64)
        self.n = int(X.shape[0])
        self.mean = X.mean(axis=0)
        deviation = X - self.mean
        self.m2 = np.einsum("ij,ij->j", deviation, deviation)
        self.m3 = np.einsum("ij,ij,ij->j", deviation, deviation, deviation)

    def training_signs(self) -> np.ndarray:
        """``(n_features,)`` skewness signs of the training columns themselves."""
        degenerate = self.m2 / self.n <= (_EPS * self.mean) ** 2
        return np.where(degenerate, 0.0, np.sign(self.m3))

    def signs(self, X: np.ndarray) -> np.ndarray:
        """``(n_rows, n_features)`` skewness signs of each column with that row appended."""
        n = float(self.n)
        total = n + 1.0
        delta = np.asarray(X, dtype=np.float64) - self.mean
        mean = self.mean + delta / total
        m2 = self.m2 + delta * delta * (n / total)
        m3 = self.m3 + delta**3 * (n * (n - 1.0) / total**2) - 3.0 * delta * self.m2 / total
        degenerate = m2 / total <= (_EPS * mean) ** 2
        return np.where(degenerate, 0.0, np.sign(m3))
