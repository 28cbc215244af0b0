"""The NAB scorer of the streaming benchmark, on series whose score is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmarks.nab_scoring import LabelledSeries, probation_rows, score_corpus, windows_to_rows

# One window, rows 40..49 (width 10) of 100 rows; probation is the first 15 rows.
WINDOW = ((40, 49),)
SIGMA_MINUS_1 = 2 / (1 + math.exp(-5)) - 1  # 0.986614...


def series(detections: dict[int, float], n: int = 100, windows=WINDOW) -> LabelledSeries:
    scores = np.zeros(n)
    for row, value in detections.items():
        scores[row] = value
    return LabelledSeries("hand", scores, windows)


def normalised(raw: float, windows: int = 1) -> float:
    null, perfect = -1.0 * windows, 1.0 * windows
    return 100 * (raw - null) / (perfect - null)


def test_probation_is_15_percent_capped_at_750() -> None:
    assert probation_rows(100) == 15 and probation_rows(4032) == 604 and probation_rows(22695) == 750


def test_detection_at_the_window_start_is_perfect() -> None:
    result = score_corpus([series({40: 1.0})])
    assert result.raw == pytest.approx(1.0) and result.normalized == pytest.approx(100.0)
    assert result.null == -1.0 and result.perfect == 1.0 and result.threshold == 1.0


def test_a_later_detection_earns_less() -> None:
    # Row 45: y = -(49 - 45 + 1) / 10 = -0.5; reward sigma(-0.5) / sigma(-1).
    expected = (2 / (1 + math.exp(-2.5)) - 1) / SIGMA_MINUS_1  # 0.85979...
    result = score_corpus([series({45: 1.0})])
    assert result.raw == pytest.approx(expected)
    assert result.normalized == pytest.approx(normalised(expected))  # 92.99


def test_only_the_first_detection_in_a_window_counts() -> None:
    result = score_corpus([series({41: 1.0, 42: 1.0, 48: 1.0})])
    expected = (2 / (1 + math.exp(5 * -0.9)) - 1) / SIGMA_MINUS_1
    assert result.raw == pytest.approx(expected)


def test_false_positives_before_any_window_cost_a_fp_and_the_threshold_is_optimised() -> None:
    # Row 20 (score 0.9) is a false positive with no window before it: -0.11.
    # Threshold 0.9 -> FP and a missed window: -1.11; threshold 0.8 -> FP + TP: 0.89; "never" -> -1.
    result = score_corpus([series({20: 0.9, 40: 0.8})])
    assert result.raw == pytest.approx(0.89) and result.threshold == 0.8
    assert result.normalized == pytest.approx(94.5)


def test_a_false_positive_after_a_window_is_scaled_by_its_distance() -> None:
    # Row 60: y = (60 - 49) / (10 - 1); cost 0.11 * sigma(y) (negative, close to -0.11).
    fp = 0.11 * (2 / (1 + math.exp(5 * 11 / 9)) - 1)
    result = score_corpus([series({40: 1.0, 60: 1.0})])
    assert result.raw == pytest.approx(1.0 + fp)
    just_after = score_corpus([series({40: 1.0, 50: 1.0})])
    assert just_after.raw == pytest.approx(1.0 + 0.11 * (2 / (1 + math.exp(5 / 9)) - 1))
    assert just_after.raw > result.raw


def test_detections_in_probation_are_ignored_and_null_scores_zero() -> None:
    assert score_corpus([series({5: 1.0})]).normalized == pytest.approx(0.0)
    assert score_corpus([series({})]).normalized == pytest.approx(0.0)


def test_corpus_sums_series_and_profiles_change_weights() -> None:
    corpus = [series({40: 1.0}), series({}, windows=((30, 39), (70, 79)))]
    result = score_corpus(corpus)
    # 1 TP, 2 missed windows: raw = 1 - 2 = -1; null = -3; perfect = 3.
    assert result.raw == pytest.approx(-1.0) and result.windows == 3
    assert result.normalized == pytest.approx(100 * 2 / 6)
    low_fn = score_corpus(corpus, "reward_low_FN_rate")  # A_FN = 2
    assert low_fn.raw == pytest.approx(1.0 - 4.0) and low_fn.null == -6.0


def test_windows_map_timestamps_to_inclusive_rows() -> None:
    ts = np.arange("2024-01-01T00:00", "2024-01-01T01:00", np.timedelta64(5, "m"), dtype="datetime64[s]")
    rows = windows_to_rows(ts, [["2024-01-01 00:10:00.000000", "2024-01-01 00:20:00.000000"]])
    assert rows == ((2, 4),)
