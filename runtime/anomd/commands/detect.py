"""``anomd detect FILE``: flag anomalous rows of a CSV or Parquet file, no server needed.

It fits the chosen detector on the file's numeric columns and scores the same rows, exactly as
``POST /detect`` does (nothing is stored), or, with ``--model``, scores them with a stored model
as ``POST /score`` does. It writes the file back with three columns appended: ``score``,
``is_anomaly`` and ``raw_score`` (or only the anomalous rows, the top N, or the anomalous
intervals: ``detect_output``).

Start-up time is part of the interface of a command people run on small files: NumPy, Polars
and the detector stack are imported inside :func:`run`, never at module level, so ``anomd
--help`` pays for none of them.

A file with a ``timestamp`` column (``timestamp_field``) is a time series: as ``POST /detect``
does, its rows are scored in time order with the time-series pipeline (each row on what came
before it), unless ``--no-series``; the timestamp is never a feature, and the rows are written
back in the file's order.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from anomd.commands.common import (
    UsageError,
    add_command,
    add_config_option,
    add_data_dir_option,
    parse_json_object,
    settings_from,
)

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from anomd.model import FittedModel
    from anomd.settings import Settings
    from anomd.timeseries.series import SeriesResult

RESULT_COLUMNS = ("score", "is_anomaly", "raw_score")
DEFAULT_CHUNK_ROWS = 50_000


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "detect",
        help="flag anomalous rows of a CSV or Parquet file",
        description=(
            "Fit a detector on the numeric columns of FILE and score the same rows (nothing is "
            "stored), or score them with a stored model (--model). The rows are written back "
            "with `score`, `is_anomaly` and `raw_score` appended (or only the anomalous ones, "
            "the top N, or the anomalous intervals): to --output (CSV or Parquet, by suffix) or "
            "as CSV on standard output. A summary goes to standard error."
        ),
        epilog=(
            "examples:\n"
            "  anomd detect payments.csv > flagged.csv\n"
            "  anomd detect sensors.parquet --backend isolation_forest --contamination 0.02 \\\n"
            "      --columns temp,pressure --output flagged.parquet\n"
            "  anomd detect big.csv --backend knn --params '{\"n_neighbors\": 10}' -o out.csv\n"
            "  anomd detect sensors.csv --plot sensors.png -o flagged.csv\n"
            "  anomd detect today.csv --model fraud-detector --only-anomalies\n"
            "  anomd detect sensors.csv --top 20\n"
            "  anomd detect sensors.csv --intervals -o incidents.csv"
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
        "--model",
        "-m",
        metavar="NAME",
        help="score with this stored model instead of fitting (its backend is found by name; "
        "--backend chooses when several backends have one of that name)",
    )
    parser.add_argument(
        "--contamination",
        "-c",
        type=float,
        default=None,
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
        default=None,
        choices=("standardization", "zscore", "raw", "minmax"),
        help="how raw scores become `score` (default standardization, or the model's)",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--only-anomalies", action="store_true", help="write only the anomalous rows (with a "
        "`row` column: their position in FILE)",
    )
    shown.add_argument(
        "--intervals", action="store_true", help="write one line per run of consecutive "
        "anomalous rows: start_row, end_row, rows, peak_row, peak_score, peak_raw_score",
    )
    parser.add_argument(
        "--top", type=int, metavar="N", help="write the N highest-scoring rows, highest first "
        "(of the anomalous ones with --only-anomalies), with a `row` column",
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
    add_data_dir_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from anomd.commands.detect_output import ROW_COLUMN, intervals, selected_rows
    from anomd.commands.tabular_io import read_table, table_format, write_table

    if args.output:
        table_format(args.output, "output")  # refuse a bad suffix before the slow part
    if args.plot:
        plot_format(args.plot)  # refuse a bad suffix or a missing matplotlib before fitting
    check_options(args)
    settings = settings_from(args)

    frame = read_table(args.file)
    if frame.height == 0:
        raise UsageError(f"{args.file} has no rows")
    appended = RESULT_COLUMNS + ((ROW_COLUMN,) if args.only_anomalies or args.top else ())
    clashing = [c for c in appended if c in frame.columns]
    if clashing:
        raise UsageError(
            f"{args.file} already has column(s) {', '.join(clashing)}, which detect appends; "
            "rename or drop them first"
        )
    time_field = args.timestamp_column or settings.timestamp_field
    series = None
    if args.series or (args.series is None and time_field in frame.columns and not args.model):
        if args.model:
            raise UsageError("--series scores with the time-series pipeline and --model with a stored "
                             "model; choose one")
        columns, series = score_series(frame, time_field, settings, args)
        raw, score, flags = series.scores.raw, series.scores.score, series.scores.is_anomaly
        X = None
    else:
        if args.model:
            fitted, columns, X = stored_model(args, settings, frame, time_field)
            show_progress = progress_wanted(len(X), args.chunk_rows, args.progress)
        else:
            fitted, columns, X, show_progress = fit_model(args, settings, frame, time_field)
        raw, score, flags = score_in_chunks(
            fitted, X, args.chunk_rows, show_progress, args.normalization or fitted.info.normalization
        )

    import polars as pl

    result = frame.with_columns(
        pl.Series("score", score), pl.Series("is_anomaly", flags), pl.Series("raw_score", raw)
    )
    if args.intervals:
        written = intervals(frame, raw, score, flags)
    else:
        written = selected_rows(result, score, flags, only_anomalies=args.only_anomalies, top=args.top)
    write_table(written, args.output)
    if not args.quiet:
        count = int(flags.sum())
        what = (f"; {written.height} interval(s)" if args.intervals else
                f"; {written.height} row(s) written" if written is not result else "")
        print(f"anomd: {count} of {len(flags)} rows anomalous ({count / len(flags):.1%}) "
              + (series_summary(series, columns) if series is not None else fitted_summary(fitted, columns, args))
              + what + (f"; written to {args.output}" if args.output else ""), file=sys.stderr)
    if args.plot:
        if series is not None:
            from anomd.plotting import plot

            plot(frame[columns[0]].to_numpy(), series.scores).savefig(args.plot)
        else:
            draw(X, columns, raw, score, flags, fitted, args)
    return 0


def fitted_summary(fitted: FittedModel, columns: list[str], args: argparse.Namespace) -> str:
    return (f"with {fitted.info.backend}{' model ' + repr(args.model) if args.model else ''} on "
            f"{', '.join(columns)}; threshold {fitted.threshold_for(args.normalization):.6g} "
            f"({args.normalization or fitted.info.normalization})")


def series_summary(series: SeriesResult, columns: list[str]) -> str:
    periods = [t.get("period") for t in series.stats.transforms if t.get("transform") == "seasonal"]
    warm_up = int(len(series.scored) - series.scored.sum())
    return (f"as a time series of {', '.join(columns)} ({series.stats.backend}; period "
            f"{periods[0] if periods else 'none'}; the first {warm_up} rows are its warm-up); "
            f"threshold {series.scores.threshold:.6g} (calibrated)")


def check_options(args: argparse.Namespace) -> None:
    """Refuses contradictory options before any file is read."""
    if args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    if args.top is not None and args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    if args.top is not None and args.intervals:
        raise UsageError("--top and --intervals do not combine: intervals are written whole")
    if args.model:
        fitting_only = [o for o, v in (("--contamination", args.contamination), ("--params", args.params))
                        if v is not None]
        if fitting_only:
            raise UsageError(f"{' and '.join(fitting_only)} apply when fitting; --model scores with "
                             "the stored model's own threshold and parameters")


def fit_model(
    args: argparse.Namespace, settings: Settings, frame: pl.DataFrame, time_field: str
) -> tuple[FittedModel, list[str], np.ndarray, bool | None]:
    """Fits the chosen backend on the file's columns (with a clock on stderr meanwhile)."""
    from anomd.backend_catalog import params_for, resolve_backend
    from anomd.commands.common import plugin_host
    from anomd.commands.progress import working
    from anomd.frames import feature_matrix
    from anomd.model import train

    params = parse_json_object(args.params, "--params") if args.params else None
    spec = resolve_backend(plugin_host(settings), settings, args.backend)
    columns = choose_columns(frame, args.columns, args.file, exclude=(time_field,))
    X = feature_matrix(frame, columns, args.file)
    show_progress = progress_wanted(len(X), args.chunk_rows, args.progress)
    with working(f"anomd: fitting {spec.id} on {len(X):,} rows x {len(columns)} columns", show_progress):
        fitted = train(
            spec,
            X,
            name="detect",
            contamination=0.1 if args.contamination is None else args.contamination,
            normalization=args.normalization or "standardization",
            params=params_for(settings, spec.id, params),
        )
    return fitted, columns, X, show_progress


def stored_model(
    args: argparse.Namespace, settings: Settings, frame: pl.DataFrame, time_field: str
) -> tuple[FittedModel, list[str], np.ndarray]:
    """The stored ``--model`` and the file's matrix for it: by column name when the model
    knows names (the file may order them differently), else the numeric columns in order."""
    from anomd.errors import InvalidInput
    from anomd.frames import encoder_matrix, feature_matrix
    from anomd.service import AnomalyService

    service = AnomalyService(settings)
    try:
        fitted, _ = service.get_model(args.model, args.backend)
    finally:
        service.close()
    encoder = fitted.encoder
    if encoder is not None:
        columns = [c.name for c in encoder.columns]
        if args.columns is not None:
            raise UsageError(f"model {args.model!r} names its columns ({', '.join(columns)}); "
                             "--columns applies to models fitted on unnamed columns")
        return fitted, columns, encoder_matrix(frame, encoder, args.file)
    columns = choose_columns(frame, args.columns, args.file, exclude=(time_field,))
    if len(columns) != fitted.info.input_dim:
        raise InvalidInput(
            f"{args.file}: model {args.model!r} takes {fitted.info.input_dim} columns and "
            f"{len(columns)} were chosen ({', '.join(columns)}); pick them with --columns"
        )
    return fitted, columns, feature_matrix(frame, columns, args.file)


def score_series(
    frame: pl.DataFrame, time_field: str, settings: Settings, args: argparse.Namespace
) -> tuple[list[str], SeriesResult]:
    """The rows replayed in time order through the time-series pipeline (``anomd.timeseries.series``)."""
    from anomd.commands.common import plugin_host
    from anomd.timeseries.series import detect_series

    if time_field not in frame.columns:
        raise UsageError(f"{args.file} has no {time_field!r} column for --series; name it with --timestamp-column")
    columns = choose_columns(frame, args.columns, args.file, exclude=(time_field,))
    rows = frame.select([time_field, *columns]).to_dicts()
    if not args.quiet:
        print(f"anomd: scoring {len(rows):,} rows of {', '.join(columns)} as a time series...", file=sys.stderr)
    params = parse_json_object(args.params, "--params") if args.params else None
    return columns, detect_series(
        rows, time_field=time_field, backend=args.backend, contamination=args.contamination,
        params=params, plugins=plugin_host(settings), settings=settings,
    )


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

    method = args.normalization or fitted.info.normalization
    scores = Scores(raw=raw, score=score, is_anomaly=flags, threshold=fitted.threshold_for(method),
                    normalization=method)
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
    fitted: FittedModel, X: np.ndarray, chunk_rows: int, show: bool | None,
    normalization: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores ``X`` a chunk at a time so a progress bar can follow long files.

    Chunking changes no score: the detector contract requires a row's score not to depend on
    the other rows scored with it.

    Returns:
        ``(raw_score, score, is_anomaly)`` arrays, one value per row.
    """
    import numpy as np
    from tqdm import tqdm

    raw, score, flags = [], [], []
    disable = None if show is None else not show
    with tqdm(total=len(X), unit="rows", desc="scoring", file=sys.stderr, disable=disable) as bar:
        for start in range(0, len(X), chunk_rows):
            part = fitted.score_matrix(X[start : start + chunk_rows], normalization=normalization)
            raw.append(part.raw)
            score.append(part.score)
            flags.append(part.is_anomaly)
            bar.update(len(part.raw))
    return np.concatenate(raw), np.concatenate(score), np.concatenate(flags)
