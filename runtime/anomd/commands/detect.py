"""``anomd detect FILE``: flag anomalous rows of a CSV or Parquet file, no server needed.

It fits the chosen detector on the file's numeric columns and scores the same rows, exactly as
``POST /detect`` does, then writes the file back with three columns appended: ``score``,
``is_anomaly`` and ``raw_score``. Nothing is stored.

A file with a ``timestamp`` column (``timestamp_field``) is a time series: as ``POST /detect``
does, its rows are scored in time order with the time-series pipeline (each row on what came
before it), unless ``--no-series``; the timestamp is never a feature, and the rows are written
back in the file's order.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import numpy as np

from anomd.commands.common import (
    UsageError,
    add_command,
    add_config_option,
    parse_json_object,
    settings_from,
)

if TYPE_CHECKING:
    import polars as pl

    from anomd.model import FittedModel

RESULT_COLUMNS = ("score", "is_anomaly", "raw_score")
DEFAULT_CHUNK_ROWS = 50_000


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "detect",
        help="flag anomalous rows of a CSV or Parquet file",
        description=(
            "Fit a detector on the numeric columns of FILE and score the same rows (nothing is "
            "stored). The rows are written back with `score`, `is_anomaly` and `raw_score` "
            "appended: to --output (CSV or Parquet, by suffix) or as CSV on standard output. "
            "A summary goes to standard error."
        ),
        epilog=(
            "examples:\n"
            "  anomd detect payments.csv > flagged.csv\n"
            "  anomd detect sensors.parquet --backend isolation_forest --contamination 0.02 \\\n"
            "      --columns temp,pressure --output flagged.parquet\n"
            "  anomd detect big.csv --backend knn --params '{\"n_neighbors\": 10}' -o out.csv\n"
            "  anomd detect sensors.csv --plot sensors.png -o flagged.csv"
        ),
    )
    parser.add_argument(
        "file", metavar="FILE", help="input table: .csv, .parquet or .pq; - reads CSV from stdin"
    )
    parser.add_argument(
        "--backend",
        "-b",
        help="detector id (see `anomd backends`; default: the configured default, ecod)",
    )
    parser.add_argument(
        "--contamination",
        "-c",
        type=float,
        dest="contamination_given",
        help="expected share of anomalies in (0, 0.5]; sets the threshold (default 0.1; 0.01 for a series)",
    )
    parser.add_argument(
        "--columns",
        metavar="A,B,...",
        help="comma-separated columns to use (numeric or boolean; default: every numeric column)",
    )
    parser.add_argument(
        "--params", metavar="JSON", help="the backend's hyper-parameters as a JSON object"
    )
    parser.add_argument(
        "--normalization",
        default="standardization",
        choices=("standardization", "zscore", "raw", "minmax"),
        help="how raw scores become `score` (default standardization)",
    )
    parser.add_argument(
        "--output", "-o", metavar="OUT", help="write here (.csv, .parquet or .pq) instead of stdout"
    )
    parser.add_argument(
        "--plot",
        metavar="IMAGE",
        help="also draw values, score, threshold and flagged rows to IMAGE (.png, .svg, .pdf; "
        "needs matplotlib: pip install 'anomd[plot]')",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"score in chunks of N rows, with a progress bar (default {DEFAULT_CHUNK_ROWS})",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show the progress bar (default: only on a terminal, for more than one chunk)",
    )
    progress.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show it"
    )
    series = parser.add_mutually_exclusive_group()
    series.add_argument(
        "--series", dest="series", action="store_true", default=None,
        help="score the rows as a time series (default when the file has a timestamp column)",
    )
    series.add_argument(
        "--no-series", dest="series", action="store_false",
        help="score the rows as a table even if they have a timestamp column (it is left out)",
    )
    parser.add_argument(
        "--timestamp-column", metavar="NAME",
        help="the rows' time column (ISO 8601 or epoch seconds/ms; default: timestamp_field, timestamp)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    add_config_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from anomd.backend_catalog import params_for, resolve_backend
    from anomd.commands.common import plugin_host
    from anomd.commands.tabular_io import read_table, table_format, write_table
    from anomd.frames import feature_matrix
    from anomd.model import train

    if args.output:
        table_format(args.output, "output")  # refuse a bad suffix before the slow part
    if args.plot:
        plot_format(args.plot)  # refuse a bad suffix or a missing matplotlib before fitting
    if args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    params = parse_json_object(args.params, "--params") if args.params else None
    settings = settings_from(args)
    spec = resolve_backend(plugin_host(settings), settings, args.backend)

    frame = read_table(args.file)
    if frame.height == 0:
        raise UsageError(f"{args.file} has no rows")
    clashing = [c for c in RESULT_COLUMNS if c in frame.columns]
    if clashing:
        raise UsageError(
            f"{args.file} already has column(s) {', '.join(clashing)}, which detect appends; "
            "rename or drop them first"
        )
    time_field = args.timestamp_column or settings.timestamp_field
    if args.series or (args.series is None and time_field in frame.columns):
        return run_series(frame, time_field, params, settings, args)
    columns = choose_columns(frame, args.columns, args.file, exclude=(time_field,))
    X = feature_matrix(frame, columns, args.file)

    show_progress = progress_wanted(len(X), args.chunk_rows, args.progress)
    if show_progress or (show_progress is None and sys.stderr.isatty()):
        # Fitting is one call with no progress to report; say what is happening meanwhile.
        print(
            f"anomd: fitting {spec.id} on {len(X)} rows x {len(columns)} columns...",
            file=sys.stderr,
        )
    fitted = train(
        spec,
        X,
        name="detect",
        contamination=0.1 if args.contamination_given is None else args.contamination_given,
        normalization=args.normalization,
        params=params_for(settings, spec.id, params),
    )
    raw, score, flags = score_in_chunks(fitted, X, args.chunk_rows, show_progress)

    import polars as pl

    result = frame.with_columns(
        pl.Series("score", score), pl.Series("is_anomaly", flags), pl.Series("raw_score", raw)
    )
    write_table(result, args.output)
    if not args.quiet:
        count = int(flags.sum())
        print(
            f"anomd: {count} of {len(flags)} rows anomalous ({count / len(flags):.1%}) with "
            f"{spec.id} on {', '.join(columns)}; threshold {fitted.info.threshold:.6g} "
            f"({fitted.info.normalization})"
            + (f"; written to {args.output}" if args.output else ""),
            file=sys.stderr,
        )
    if args.plot:
        draw(X, columns, raw, score, flags, fitted, args)
    return 0


def run_series(frame: pl.DataFrame, time_field: str, params: dict | None, settings, args: argparse.Namespace) -> int:
    """``detect`` on a time series: the rows replayed in time order (``anomd.timeseries.series``)."""
    import polars as pl

    from anomd.commands.common import plugin_host
    from anomd.commands.tabular_io import write_table
    from anomd.timeseries.series import detect_series

    if time_field not in frame.columns:
        raise UsageError(f"{args.file} has no {time_field!r} column for --series; name it with --timestamp-column")
    columns = choose_columns(frame, args.columns, args.file, exclude=(time_field,))
    rows = frame.select([time_field, *columns]).to_dicts()
    if not args.quiet:
        print(f"anomd: scoring {len(rows)} rows of {', '.join(columns)} as a time series...", file=sys.stderr)
    result = detect_series(
        rows, time_field=time_field, backend=args.backend, contamination=args.contamination_given,
        params=params, plugins=plugin_host(settings), settings=settings,
    )
    scores = result.scores
    write_table(frame.with_columns(
        pl.Series("score", scores.score), pl.Series("is_anomaly", scores.is_anomaly),
        pl.Series("raw_score", scores.raw),
    ), args.output)
    if not args.quiet:
        count, n = int(scores.is_anomaly.sum()), len(rows)
        periods = [t.get("period") for t in result.stats.transforms if t.get("transform") == "seasonal"]
        print(
            f"anomd: {count} of {n} rows anomalous ({count / n:.1%}) as a time series "
            f"({result.stats.backend}; period {periods[0] if periods else 'none'}; the first "
            f"{int(n - result.scored.sum())} rows are its warm-up); threshold {scores.threshold:.6g} "
            f"(calibrated)" + (f"; written to {args.output}" if args.output else ""),
            file=sys.stderr,
        )
    if args.plot:
        from anomd.plotting import plot

        plot(frame[columns[0]].to_numpy(), scores).savefig(args.plot)
    return 0


PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "webp")


def plot_format(path: str) -> str:
    """The image format of ``--plot``, after checking matplotlib is there to draw it.

    Raises:
        UsageError: An unknown suffix, or matplotlib is not installed.
    """
    import importlib.util

    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in PLOT_FORMATS:
        raise UsageError(f"--plot {path}: name the image .png, .svg, .pdf, .jpg or .webp")
    if importlib.util.find_spec("matplotlib") is None:
        from anomd.plotting import INSTALL_HINT

        raise UsageError(f"--plot: {INSTALL_HINT}")
    return suffix


def draw(
    X: np.ndarray,
    columns: list[str],
    raw: np.ndarray,
    score: np.ndarray,
    flags: np.ndarray,
    fitted: FittedModel,
    args: argparse.Namespace,
) -> None:
    """Writes the ``--plot`` image: the file's columns, the scores and the flagged rows."""
    from anomd.model import Scores
    from anomd.plotting import plot

    scores = Scores(raw=raw, score=score, is_anomaly=flags, threshold=fitted.info.threshold,
                    normalization=fitted.info.normalization)
    count = int(flags.sum())
    title = (f"{args.file}: {count} of {len(flags)} rows anomalous ({count / len(flags):.1%}) "
             f"with {fitted.info.backend}")
    plot(X, scores, names=columns, title=title).savefig(args.plot, dpi=110)
    if not args.quiet:
        print(f"anomd: plot written to {args.plot}", file=sys.stderr)


def choose_columns(frame: pl.DataFrame, requested: str | None, source: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """The columns to fit on: the ``--columns`` ones (checked) or every numeric one but
    ``exclude`` (the timestamp: never a feature)."""
    from anomd.frames import choose_columns as checked

    if requested is None:
        return checked(frame, None, source, exclude)
    columns = [c.strip() for c in requested.split(",") if c.strip()]
    if not columns:
        raise UsageError("--columns is empty; name at least one column")
    return checked(frame, columns, source)


def progress_wanted(rows: int, chunk_rows: int, progress: bool | None) -> bool | None:
    """Whether to show progress: forced on or off by a flag, else left to tqdm (``None``: only
    when stderr is a terminal), and never for work that fits in one chunk."""
    if progress is not None:
        return progress
    return None if rows > chunk_rows else False


def score_in_chunks(
    fitted: FittedModel, X: np.ndarray, chunk_rows: int, show: bool | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores ``X`` a chunk at a time so a progress bar can follow long files.

    Chunking changes no score: the detector contract requires a row's score not to depend on
    the other rows scored with it.

    Returns:
        ``(raw_score, score, is_anomaly)`` arrays, one value per row.
    """
    from tqdm import tqdm

    raw, score, flags = [], [], []
    disable = None if show is None else not show
    with tqdm(total=len(X), unit="rows", desc="scoring", file=sys.stderr, disable=disable) as bar:
        for start in range(0, len(X), chunk_rows):
            part = fitted.score_matrix(X[start : start + chunk_rows])
            raw.append(part.raw)
            score.append(part.score)
            flags.append(part.is_anomaly)
            bar.update(len(part.raw))
    return np.concatenate(raw), np.concatenate(score), np.concatenate(flags)
