"""From ``sensitivity`` to margin width, and from a residual to ``severity``.

A margin is ``factor(sensitivity)`` robust spreads of the series' residuals on each side of the
expected value, with ``factor = 3 + (99 - sensitivity)``: 3 spreads at 99, 7 at the default 95,
102 at 0. It falls steadily as sensitivity rises (Azure's contract: the lower the sensitivity,
the wider the margins and the fewer the anomalies). The default was chosen once, on the NAB
corpus as a whole (``python -m benchmarks azure``): real series have heavy tails, and at 95 it
flags under 2 % of their points while finding most labelled windows; docs/migrating-from-azure.md
has the figures. Severity grows with how many spreads a point lies from its expected value
(``z / (z + 10)``), whatever the sensitivity, and is 0 for points within their margins.
"""

from __future__ import annotations

import numpy as np

#: Margin factor (in robust spreads) at sensitivity 99; each point of sensitivity less adds one.
NARROWEST = 3.0
#: Residual, in spreads, at which severity is one half.
SEVERITY_SCALE = 10.0


def margin_factor(sensitivity: float) -> float:
    """Spreads from the expected value to either margin: linear in sensitivity, decreasing."""
    s = min(max(float(sensitivity), 0.0), 99.0)
    return NARROWEST + (99.0 - s)


def severity(distance: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """Severity in [0, 1] of points ``distance`` spreads from their expected values."""
    # z / (z + c) rather than a function that saturates: far anomalies keep their order.
    far = np.abs(distance)
    return np.where(flagged, far / (far + SEVERITY_SCALE), 0.0)


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
