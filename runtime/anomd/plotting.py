"""``anomd.plot``: a picture of a series, its scores, the threshold and what was flagged.

matplotlib is an optional dependency (``pip install 'anomd[plot]'``), imported only when a plot
is drawn, so neither ``import anomd`` nor the CLI pays for it. The figure is built on
:class:`matplotlib.figure.Figure` directly, not through ``pyplot``: no global figure state, no
GUI backend needed, and ``fig.savefig(...)`` works on a headless server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from anomd.model import Scores

INSTALL_HINT = "anomd.plot needs matplotlib: pip install 'anomd[plot]' (or uv sync --extra plot)"
#: Value columns drawn at most (the first ones, or those named by ``columns``).
MAX_LINES = 8
_FLAG = "#c62f2f"
_THRESHOLD = "#c98a00"
_SCORE = "#39424e"


def _matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return Figure


def _is_scores(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("score", "is_anomaly", "threshold", "normalization"))


def as_matrix(data: Any, names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Numbers to plot as ``(rows, columns)`` with a name per column.

    Accepts a 1-D or 2-D array or list, a list of dicts (numeric values; keys of the first row),
    or a data frame with ``columns`` and ``to_numpy()`` (Polars, pandas).

    Raises:
        ValueError: Empty data, or values that are not numbers.
    """
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        names = list(names or data.columns)
        matrix = np.asarray(data.to_numpy(), dtype=np.float64)
    elif isinstance(data, Sequence) and data and isinstance(data[0], Mapping):
        keys = list(data[0])
        names = list(names or keys)
        matrix = np.array([[row[k] for k in keys] for row in data], dtype=np.float64)
    else:
        matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise ValueError(f"nothing to plot: expected rows of numbers, got shape {matrix.shape}")
    if names is None:
        names = ["value"] if matrix.shape[1] == 1 else [f"x{i}" for i in range(matrix.shape[1])]
    if len(names) != matrix.shape[1]:
        raise ValueError(f"{len(names)} names for {matrix.shape[1]} columns")
    return matrix, [str(n) for n in names]


def flagged_intervals(flags: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive flagged rows as ``(first, last)`` index pairs."""
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return []
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _shade(ax: Axes, intervals: list[tuple[int, int]]) -> None:
    """Flagged stretches as one collection of translucent bands, full height.

    Each run is widened to the half-steps around it, so a lone flagged row shows as well.
    """
    if intervals:
        ax.broken_barh([(start - 0.5, end - start + 1) for start, end in intervals], (0, 1),
                       transform=ax.get_xaxis_transform(), color=_FLAG, alpha=0.13, linewidth=0)


def _legend(ax: Axes, **kwargs: Any) -> None:
    """Above the panel, so it never hides data."""
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize="small",
              borderaxespad=0.2, **kwargs)


def plot(
    series_or_scores: Any,
    scores: Scores | None = None,
    *,
    columns: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    title: str | None = None,
    backend: str = "ecod",
    contamination: float = 0.1,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draws values, score, threshold and flagged points and intervals.

    Three ways to call it::

        anomd.plot(anomd.detect(rows))           # scores only: score, threshold, flags
        anomd.plot(rows, scores)                 # values on top, scores below
        anomd.plot(rows)                         # detects first (``backend``, ``contamination``)

    Args:
        series_or_scores: A :class:`~anomd.model.Scores` (from :func:`anomd.detect` or
            ``AnomalyService.score``), or the values: a 1-D series, rows of numbers, dict rows
            or a data frame.
        scores: The scores of those values, one per row.
        columns: Which value columns to draw (default: the first eight).
        names: Column names for values given without any.
        title: Figure title.
        backend: Detector to run when values come without scores.
        contamination: Its expected share of anomalies.
        figsize: Inches; default fits the number of panels.

    Returns:
        A :class:`matplotlib.figure.Figure`; save it with ``fig.savefig("out.png")`` or show it
        in a notebook.

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
        ValueError: Values and scores of different lengths, or an unknown column.
    """
    Figure = _matplotlib()
    values: np.ndarray | None = None
    labels: list[str] = []
    if _is_scores(series_or_scores) and scores is None:
        scores = series_or_scores
    else:
        values, labels = as_matrix(series_or_scores, names)
        if scores is None:
            from anomd import detect

            scores = detect(values, backend=backend, contamination=contamination)
    score = np.asarray(scores.score, dtype=np.float64)
    flags = np.asarray(scores.is_anomaly, dtype=bool)
    if values is not None and len(values) != len(score):
        raise ValueError(f"{len(values)} rows of values but {len(score)} scores")
    x = np.arange(len(score))
    intervals = flagged_intervals(flags)

    panels = 1 if values is None else 2
    fig = Figure(figsize=figsize or (11, 3.2 * panels + 0.6), layout="constrained")
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    count = int(flags.sum())
    fig.suptitle(title or f"{count} of {len(score)} points flagged ({count / len(score):.1%})")

    if values is not None:
        ax = axes[0]
        chosen = list(columns) if columns else labels[:MAX_LINES]
        unknown = [c for c in chosen if c not in labels]
        if unknown:
            raise ValueError(f"no column(s) {', '.join(map(repr, unknown))}; columns: {', '.join(labels)}")
        for name in chosen:
            column = values[:, labels.index(name)]
            ax.plot(x, column, linewidth=1, label=name)
            ax.scatter(x[flags], column[flags], s=18, color=_FLAG, zorder=3, label="_flagged")
        _shade(ax, intervals)
        hidden = len(labels) - len(chosen)
        ax.set_ylabel("value" + (f" ({hidden} more columns not drawn)" if hidden > 0 else ""))
        _legend(ax, ncols=min(MAX_LINES, len(chosen)))
        ax.grid(alpha=0.3)

    ax = axes[-1]
    ax.plot(x, score, color=_SCORE, linewidth=1, label="score")
    ax.axhline(scores.threshold, color=_THRESHOLD, linestyle="--", linewidth=1.2,
               label=f"threshold {scores.threshold:.4g}")
    ax.scatter(x[flags], score[flags], s=22, color=_FLAG, zorder=3, label=f"flagged ({count})")
    _shade(ax, intervals)
    ax.set_ylabel(f"score ({scores.normalization})")
    ax.set_xlabel("row")
    _legend(ax, ncols=3)
    ax.grid(alpha=0.3)
    return fig
