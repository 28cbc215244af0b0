"""From ``sensitivity`` to margin width, and from a residual to ``severity``.

A margin is ``factor(sensitivity) x`` the series' robust residual spread on each side of the
expected value. The factor falls steadily as sensitivity rises (Azure's contract: the lower the
sensitivity, the wider the margins and the fewer the anomalies), from :data:`WIDEST` at 0 to
:data:`NARROWEST` at 99. Severity grows with how many spreads a point lies from its expected
value, whatever the sensitivity, and is 0 for points within their margins.
"""

from __future__ import annotations

import numpy as np

#: Margin factors (in robust standard deviations) at sensitivity 0 and 99.
WIDEST, NARROWEST = 30.0, 3.0
#: Residual, in spreads, at which severity reaches about 0.76 (tanh 1).
SEVERITY_SCALE = 10.0


def margin_factor(sensitivity: int | float) -> float:
    """Spreads from the expected value to either margin: linear in sensitivity, decreasing."""
    s = min(max(float(sensitivity), 0.0), 99.0)
    return NARROWEST + (WIDEST - NARROWEST) * (99.0 - s) / 99.0


def severity(distance: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """Severity in [0, 1] of points ``distance`` spreads from their expected values."""
    return np.where(flagged, np.tanh(np.abs(distance) / SEVERITY_SCALE), 0.0)


def cap_ratio(distance: np.ndarray, flagged: np.ndarray, max_ratio: float) -> np.ndarray:
    """``flagged`` with at most ``max_ratio`` of the points kept: the farthest ones."""
    limit = int(np.floor(max_ratio * distance.size))
    if int(flagged.sum()) <= limit:
        return flagged
    keep = np.zeros_like(flagged)
    if limit > 0:
        order = np.argsort(-np.abs(np.where(flagged, distance, 0.0)), kind="stable")[:limit]
        keep[order] = True
    return keep & flagged
