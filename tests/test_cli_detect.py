"""``anomd detect`` options on a real NAB series: --model, --only-anomalies, --top, --intervals,
--plot, progress; and what the command imports (start-up time is measured by a benchmark, but
which heavy modules load is a fact a test can hold).

machine_temperature_system_failure.csv: 22,695 readings of an industrial machine, four labelled
anomaly windows; the two failures (mid-December and early February) are where the temperature
falls far below its normal range.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from benchmarks.common import DATA_DIR

import anomd
from anomd.cli import main
from anomd.settings import load_settings

SERIES = "realKnownCause/machine_temperature_system_failure.csv"
nab = pytest.mark.data("nab")


@pytest.fixture(scope="module")
def nab_file() -> Path:
    return DATA_DIR / "nab" / "data" / SERIES


@pytest.fixture(scope="module")
def windows() -> list[tuple[datetime, datetime]]:
    labels = json.loads((DATA_DIR / "nab" / "labels" / "combined_windows.json").read_text())
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in labels[SERIES]]


def in_window(stamp: str, windows: list[tuple[datetime, datetime]]) -> bool:
    moment = datetime.fromisoformat(stamp)
    return any(a <= moment <= b for a, b in windows)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[pl.DataFrame, str]:
    out = tmp_path / "out.csv"
    assert main(["detect", *map(str, args), "-o", str(out)]) == 0
    return pl.read_csv(out), capsys.readouterr().err


@nab
def test_only_anomalies_top_and_intervals(nab_file, windows, tmp_path, capsys) -> None:
    """As a table (``--no-series``): every row scored on one model of the whole file."""
    full, _ = run(tmp_path, capsys, nab_file, "-c", "0.01", "--no-series")
    flagged = np.flatnonzero(full["is_anomaly"].to_numpy())
    n = len(flagged)
    assert 0.008 * full.height <= n <= 0.012 * full.height  # contamination 0.01 of the training rows

    only, err = run(tmp_path, capsys, nab_file, "-c", "0.01", "--no-series", "--only-anomalies")
    assert only.columns == ["row", "timestamp", "value", "score", "is_anomaly", "raw_score"]
    assert only["row"].to_list() == flagged.tolist() and only["is_anomaly"].all()
    assert f"{n} of 22695 rows anomalous" in err and f"{n} row(s) written" in err

    top, _ = run(tmp_path, capsys, nab_file, "-c", "0.01", "--no-series", "--top", "3")
    scores = full["score"].to_numpy()
    assert top["row"].to_list() == np.argsort(-scores, kind="stable")[:3].tolist()
    assert top["score"].to_list() == sorted(top["score"].to_list(), reverse=True)
    assert in_window(top["timestamp"][0], windows), "the strongest reading is in a labelled window"
    assert top.drop("row").equals(full[top["row"].to_list()])

    intervals, err = run(tmp_path, capsys, nab_file, "-c", "0.01", "--no-series", "--intervals")
    assert intervals.columns == ["start_row", "end_row", "rows", "peak_row", "peak_score", "peak_raw_score",
                                 "start", "end"]
    assert intervals["rows"].sum() == n and f"{intervals.height} interval(s)" in err
    assert (intervals["end_row"] - intervals["start_row"] + 1).to_list() == intervals["rows"].to_list()
    for row in intervals.iter_rows(named=True):
        run_flags = full["is_anomaly"][row["start_row"]: row["end_row"] + 1]
        assert run_flags.all()
        assert row["peak_score"] == scores[row["start_row"]: row["end_row"] + 1].max()
    # Consecutive flagged rows were merged: the runs are separated by unflagged rows.
    assert (intervals["start_row"][1:] > intervals["end_row"][:-1] + 1).all()
    # Both labelled failures have a long anomalous run inside their window.
    long_runs = intervals.filter(pl.col("rows") >= 15)
    hit = {i for i, (a, b) in enumerate(windows) for s in long_runs["start"].to_list()
           if a <= datetime.fromisoformat(s) <= b}
    assert {1, 3} <= hit, long_runs


@nab
def test_output_options_apply_to_a_series(nab_file, windows, tmp_path, capsys) -> None:
    """The file has a timestamp column, so by default it is scored as a time series; the output
    options work on those scores as on a table's."""
    full, err = run(tmp_path, capsys, nab_file)
    assert "as a time series of value (surprise" in err
    flagged = np.flatnonzero(full["is_anomaly"].to_numpy())
    intervals, err = run(tmp_path, capsys, nab_file, "--intervals")
    assert "as a time series" in err and intervals["rows"].sum() == len(flagged)
    hit = {i for i, (a, b) in enumerate(windows) for s in intervals["start"].to_list()
           if a <= datetime.fromisoformat(s) <= b}
    assert {1, 3} <= hit, intervals
    top, _ = run(tmp_path, capsys, nab_file, "--top", "1")
    assert top["row"].to_list() == [int(np.argmax(full["score"].to_numpy()))]
    assert main(["detect", str(nab_file), "--series", "--model", "m"]) == 2
    assert "choose one" in capsys.readouterr().err


@nab
def test_model_scores_with_a_stored_model(nab_file, windows, tmp_path, capsys) -> None:
    """Fit on the probation period (the first 15 %, at most 750 rows: normal operation), store,
    then score the whole file with the stored model, found by name."""
    data_dir = tmp_path / "store"
    service = anomd.AnomalyService(load_settings(env={}, data_dir=str(data_dir)))
    series = pl.read_csv(nab_file)
    service.fit(series.select("value").head(750), model="machine", contamination=0.01)
    scored, err = run(tmp_path, capsys, nab_file, "--model", "machine", "--data-dir", data_dir,
                      "--only-anomalies")
    assert "with ecod model 'machine' on value" in err
    _, expected = service.score(series.select("value"), model="machine")
    assert scored["row"].to_list() == np.flatnonzero(expected.is_anomaly).tolist()
    assert scored["score"].to_list() == expected.score[expected.is_anomaly].tolist()
    deepest = scored.sort("value").row(0, named=True)
    assert in_window(deepest["timestamp"], windows)
    assert main(["detect", str(nab_file), "--model", "machine", "--data-dir", str(data_dir),
                 "--contamination", "0.2"]) == 2
    assert "--contamination apply when fitting" in capsys.readouterr().err
    assert main(["detect", str(nab_file), "--model", "absent", "--data-dir", str(data_dir)]) == 2
    assert "no stored model is named 'absent'" in capsys.readouterr().err


@nab
def test_plot_and_progress(nab_file, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    image = tmp_path / "machine.png"
    _, err = run(tmp_path, capsys, nab_file, "-c", "0.01", "--plot", image, "--progress",
                 "--chunk-rows", "5000", "--intervals", "--no-series")
    assert "anomd: fitting ecod on 22,695 rows x 1 columns: 00:0" in err
    assert "scoring: 100%" in err and "22695/22695" in err
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 10_000


@pytest.mark.parametrize(("argv", "message"), [
    (["--top", "0"], "--top must be at least 1, got 0"),
    (["--top", "3", "--intervals"], "--top and --intervals do not combine"),
    (["--model", "m", "--params", "{}"], "--params apply when fitting"),
    (["--only-anomalies"], "already has column(s) row, which detect appends"),
])
def test_contradictory_options_are_one_line(tmp_path, capsys, argv, message) -> None:
    table = tmp_path / "t.csv"
    table.write_text("row,a\n" + "".join(f"{i},{i % 5}\n" for i in range(20)))
    assert main(["detect", str(table), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(("argv", "absent"), [
    (["--help"], ("numpy", "polars", "pyod", "sklearn", "litestar")),
    (["detect", "{file}"], ("pyod", "sklearn", "scipy.special", "scipy.stats", "matplotlib", "numba",
                            "litestar", "pandas")),
])
def test_start_up_imports_stay_light(tmp_path, argv, absent) -> None:
    """``anomd --help`` and ``detect`` on a small file start in about a second because they
    import neither the detector stack nor the server (see docs/inputs.md for the figures)."""
    small = tmp_path / "ten.csv"
    small.write_text("a,b\n" + "".join(f"{i % 3},{i % 4}\n" for i in range(9)) + "9,9\n")
    args = [a.format(file=small) for a in argv]
    code = ("import sys; from anomd.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(','.join(sorted(m for m in sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path,
                          check=True)
    loaded = set(done.stderr.strip().splitlines()[-1].split(","))
    assert not loaded & set(absent), sorted(loaded & set(absent))
    if argv[0] == "detect":
        assert "1 of 10 rows anomalous" in done.stderr
