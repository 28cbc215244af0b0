"""``anomd.plot`` and ``anomd detect --plot``: the figure shows what was flagged, where."""

from __future__ import annotations

import builtins
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure

import anomd
from anomd.model import Scores
from anomd.plotting import as_matrix, flagged_intervals

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def planted_series() -> tuple[np.ndarray, list[int]]:
    """Two smooth columns with a lone spike and a five-row burst planted in them."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 12, 400)
    X = np.c_[np.sin(t) + rng.normal(0, 0.05, 400), np.cos(t) + rng.normal(0, 0.05, 400)]
    X[120] = [6.0, -6.0]
    X[300:305] += [5.0, 5.0]
    return X, [120, *range(300, 305)]


def flagged_marks(ax) -> np.ndarray:
    """x positions of the flagged-point markers drawn on an axes."""
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert marks, "no flagged-point markers"
    return np.unique(np.concatenate([m.get_offsets()[:, 0] for m in marks]))


def test_values_and_scores_show_the_planted_anomalies_flagged(planted_series) -> None:
    X, planted = planted_series
    scores = anomd.detect(X, contamination=0.02)
    assert set(planted) <= set(np.flatnonzero(scores.is_anomaly))  # the detector found them
    fig = anomd.plot(X, scores, names=["temp", "load"], title="planted")
    assert isinstance(fig, Figure)
    values_ax, score_ax = fig.axes
    flagged = np.flatnonzero(scores.is_anomaly)
    assert flagged_marks(values_ax).tolist() == flagged.tolist()
    assert flagged_marks(score_ax).tolist() == flagged.tolist()
    # The threshold is drawn where the model put it, and the score line is the score.
    lines = {line.get_label(): line for line in score_ax.get_lines()}
    threshold = next(v for k, v in lines.items() if k.startswith("threshold"))
    assert threshold.get_ydata()[0] == pytest.approx(scores.threshold)
    assert np.allclose(lines["score"].get_ydata(), scores.score)
    assert {line.get_label() for line in values_ax.get_lines()} == {"temp", "load"}
    # Flagged stretches are shaded, the burst as one band.
    bands = [c for c in score_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1 and len(bands[0].get_paths()) == len(flagged_intervals(scores.is_anomaly))
    assert (300, 304) in flagged_intervals(scores.is_anomaly)
    assert fig._suptitle.get_text() == "planted"


def test_scores_alone_make_one_panel_and_values_alone_are_detected_first(planted_series) -> None:
    X, _ = planted_series
    scores = anomd.detect(X, contamination=0.02)
    only = anomd.plot(scores)
    assert len(only.axes) == 1 and "points flagged" in only._suptitle.get_text()
    detected = anomd.plot(X[:, 0], contamination=0.01)  # a 1-D series, no scores given
    assert len(detected.axes) == 2
    assert 120 in flagged_marks(detected.axes[0]).tolist()


def test_a_saved_figure_is_an_image(tmp_path: Path, planted_series) -> None:
    X, _ = planted_series
    out = tmp_path / "plot.png"
    anomd.plot(X, anomd.detect(X)).savefig(out)
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10_000


def test_inputs_are_read_as_columns_with_names() -> None:
    matrix, names = as_matrix([{"a": 1, "b": 2.5}, {"a": 3, "b": 4.0}])
    assert matrix.tolist() == [[1.0, 2.5], [3.0, 4.0]] and names == ["a", "b"]
    assert as_matrix([1, 2, 3])[1] == ["value"]
    assert as_matrix(np.zeros((2, 3)))[1] == ["x0", "x1", "x2"]
    with pytest.raises(ValueError, match="nothing to plot"):
        as_matrix([])
    with pytest.raises(ValueError, match="2 names for 3 columns"):
        as_matrix(np.zeros((2, 3)), ["a", "b"])
    assert flagged_intervals(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 2), (4, 4)]
    assert flagged_intervals(np.zeros(4, dtype=bool)) == []


def test_mismatched_lengths_and_unknown_columns_are_refused(planted_series) -> None:
    X, _ = planted_series
    scores = anomd.detect(X)
    with pytest.raises(ValueError, match="400 rows of values but 10 scores"):
        anomd.plot(X, Scores(scores.raw[:10], scores.score[:10], scores.is_anomaly[:10], 0.5, "raw"))
    with pytest.raises(ValueError, match="no column"):
        anomd.plot(X, scores, columns=["nope"])


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'anomd\[plot\]'"):
        anomd.plot([1.0, 2.0, 3.0], anomd.detect([[1.0], [2.0], [3.0], [2.0], [1.0]]))


# -- the CLI ---------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anomd", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_detect_plot_writes_the_image(tmp_path: Path, planted_series) -> None:
    X, _ = planted_series
    source = tmp_path / "sensors.csv"
    source.write_text("temp,load\n" + "\n".join(f"{a},{b}" for a, b in X))
    result = run_cli("detect", str(source), "--contamination", "0.02", "--plot", "sensors.png",
                     "-o", "flagged.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    image = tmp_path / "sensors.png"
    assert image.read_bytes()[:8] == PNG and image.stat().st_size > 20_000
    assert "plot written to sensors.png" in result.stderr
    assert (tmp_path / "flagged.csv").is_file()


def test_detect_plot_refuses_a_bad_image_name_before_fitting(tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a\n1\n2\n")
    result = run_cli("detect", str(source), "--plot", "out.txt", cwd=tmp_path)
    assert result.returncode == 2 and "name the image .png" in result.stderr


def test_the_cli_does_not_import_matplotlib_unless_asked(tmp_path: Path) -> None:
    code = ("import sys; from anomd.cli import main; import anomd.commands.detect; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stdout.strip() == "False", result.stderr
