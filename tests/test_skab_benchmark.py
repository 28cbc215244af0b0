"""The SKAB benchmark's reading and scoring, on runs written here in SKAB's file format.

The real SKAB data is not shipped (it is downloaded, see benchmarks/skab.py), so these runs are
synthetic: three noisy sensors, one of which steps away from its level for a while. The
benchmark must read the format, turn the labels into windows, and the default stream must find
every planted window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from benchmarks import skab

HEADER = "datetime;Pressure;Current;Temperature;anomaly;changepoint"


def write_run(path: Path, seed: int, start: int, stop: int, n: int = 900) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal([1.0, 2.0, 70.0], [0.05, 0.1, 0.3], size=(n, 3))
    values[start:stop, 1] += 2.5  # the current jumps by 25 of its standard deviations
    labels = np.zeros(n, dtype=int)
    labels[start:stop] = 1
    times = np.datetime64("2020-03-09T10:00:00") + np.arange(n).astype("timedelta64[s]")
    lines = [HEADER] + [
        f"{str(t).replace('T', ' ')};{v[0]:.6f};{v[1]:.6f};{v[2]:.6f};{flag}.0;0.0"
        for t, v, flag in zip(times, values, labels)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_labelled_windows_are_runs_of_consecutive_labels():
    labels = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    assert skab.labelled_windows(labels) == ((1, 2), (5, 5), (7, 9))
    assert skab.labelled_windows(np.zeros(4)) == ()


def test_read_run_parses_the_skab_format(tmp_path):
    write_run(tmp_path / "1.csv", seed=0, start=600, stop=650)
    run = skab.read_run(tmp_path / "1.csv", "valve1/1.csv")
    assert run.fields == ("Pressure", "Current", "Temperature")
    assert run.values.shape == (900, 3)
    assert run.windows == ((600, 649),)
    assert run.times[1] - run.times[0] == np.timedelta64(1, "s")


def test_missing_data_is_reported_not_raised(tmp_path, capsys):
    assert skab.find_data(str(tmp_path)) is None
    assert skab.main(["--data", str(tmp_path)]) == 2
    assert "SKAB data not found" in capsys.readouterr().out


def test_default_stream_finds_every_planted_window(tmp_path):
    folder = tmp_path / "valve1"
    folder.mkdir()
    for i, start in enumerate((600, 700, 750)):
        write_run(folder / f"{i}.csv", seed=i, start=start, stop=start + 60)
    assert skab.find_data(str(tmp_path)) == tmp_path
    runs = skab.load_runs(tmp_path)
    assert [r.name for r in runs] == ["valve1/0.csv", "valve1/1.csv", "valve1/2.csv"]
    outcome = skab.score_runs(runs, *skab.CONFIGS["default (timestamp + 8 sensors)"])
    assert outcome["windows_found"] == 3
    assert outcome["false_alarms"] <= 1
    assert outcome["standard"]["normalized"] > 80
