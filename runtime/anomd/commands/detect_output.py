"""What ``anomd detect`` writes: every row, the anomalous ones, the top N, or intervals.

The scores are computed for every row either way; these options only choose what is written.
Filtered outputs (``--only-anomalies``, ``--top``) gain a ``row`` column, the row's position in
the input, so a flagged row can be found in the original file. ``--intervals`` merges runs of
consecutive flagged rows into one line each: first and last row, length, and the row and score
of its peak (and the first and last ``timestamp`` when the file has that column).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

ROW_COLUMN = "row"
TIMESTAMP = "timestamp"


def selected_rows(
    result: pl.DataFrame, score: np.ndarray, flags: np.ndarray, *, only_anomalies: bool, top: int | None
) -> pl.DataFrame:
    """The rows to write: the flagged ones, then the ``top`` highest scores (in score order,
    highest first; ties keep file order); all rows in file order when neither is asked."""
    import numpy as np
    import polars as pl

    if not only_anomalies and top is None:
        return result
    positions = np.arange(len(score))
    if only_anomalies:
        positions = positions[flags]
    if top is not None:
        order = np.argsort(-score[positions], kind="stable")
        positions = positions[order[:top]]
    chosen = result[positions.tolist()] if len(positions) else result.clear()
    return chosen.insert_column(0, pl.Series(ROW_COLUMN, positions, dtype=pl.Int64))


def intervals(
    frame: pl.DataFrame, raw: np.ndarray, score: np.ndarray, flags: np.ndarray
) -> pl.DataFrame:
    """One row per run of consecutive flagged rows, with its extent and peak."""
    import numpy as np
    import polars as pl

    from anomd.plotting import flagged_intervals

    runs = flagged_intervals(flags)
    starts = np.array([s for s, _ in runs], dtype=np.int64)
    ends = np.array([e for _, e in runs], dtype=np.int64)
    peaks = np.array([s + int(np.argmax(score[s : e + 1])) for s, e in runs], dtype=np.int64)
    columns: dict[str, pl.Series] = {
        "start_row": pl.Series(starts), "end_row": pl.Series(ends),
        "rows": pl.Series(ends - starts + 1), "peak_row": pl.Series(peaks),
        "peak_score": pl.Series(score[peaks], dtype=pl.Float64),
        "peak_raw_score": pl.Series(raw[peaks], dtype=pl.Float64),
    }
    if TIMESTAMP in frame.columns:
        stamps = frame[TIMESTAMP]
        columns["start"] = stamps.gather(starts.tolist())
        columns["end"] = stamps.gather(ends.tolist())
    return pl.DataFrame({name: series.alias(name) for name, series in columns.items()})
