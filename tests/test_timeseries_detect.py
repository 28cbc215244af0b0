"""Series detection on planted cases: entire, last, change points, several series at once.

Each case plants something a person would call an anomaly (a spike, a dip, a level shift, a
broken seasonal cycle) in a series with noise, gaps or jittered timestamps, and checks that it
is found where it was planted, and that nothing much else is.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from anomd.timeseries.changepoint import detect_change_points
from anomd.timeseries.errors import SeriesInputError
from anomd.timeseries.multivariate import MultivariateOptions, Variable, detect_multivariate
from anomd.timeseries.options import ChangePointOptions, DetectOptions, SeriesPoint
from anomd.timeseries.univariate import detect_entire, detect_last

LIMIT = 50_000
START = 1_767_225_600  # 2026-01-01T00:00:00Z
STEP = 300  # 5 minutes
DAY = 288  # points per day at 5 minutes


def seasonal(n: int = 7 * DAY, seed: int = 1, noise: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 5 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, noise, n)


def points(values: np.ndarray, times: np.ndarray | None = None) -> list[SeriesPoint]:
    times = START + STEP * np.arange(values.size) if times is None else times
    return [SeriesPoint(value=float(v), timestamp=float(t)) for v, t in zip(values, times, strict=True)]


def flagged(values: np.ndarray, times: np.ndarray | None = None, **options) -> np.ndarray:
    result = detect_entire(DetectOptions(series=points(values, times), **options), LIMIT)
    return np.flatnonzero(result.is_anomaly)


def test_spike_and_dip_are_found_with_their_direction() -> None:
    y = seasonal()
    y[500] += 4
    y[1200] -= 4
    result = detect_entire(DetectOptions(series=points(y)), LIMIT)
    assert result.period == DAY and result.granularity == "minutely" and result.custom_interval == 5
    assert np.flatnonzero(result.is_anomaly).tolist() == [500, 1200]
    assert result.is_positive_anomaly[500] and not result.is_negative_anomaly[500]
    assert result.is_negative_anomaly[1200] and not result.is_positive_anomaly[1200]
    severity = np.array(result.severity)
    assert ((severity >= 0) & (severity <= 1)).all() and severity[500] > 0.5
    assert (severity[[i for i in range(y.size) if i not in (500, 1200)]] == 0).all()
    # The expected value follows the daily cycle: the peak's expectation is near 25, the trough's near 15.
    assert abs(result.expected_values[DAY // 4] - 25) < 1 and abs(result.expected_values[3 * DAY // 4] - 15) < 1


def test_a_level_shift_is_flagged_where_it_starts_and_is_a_change_point() -> None:
    rng = np.random.default_rng(2)
    y = 10 + rng.normal(0, 0.5, 1000)
    y[600:] += 6
    hits = flagged(y)
    assert 600 in hits and hits.min() >= 600 and hits.max() < 640  # the onset, then the new level is learnt
    change = detect_change_points(ChangePointOptions(series=points(y)), LIMIT)
    found = np.flatnonzero(change.is_change_point)
    assert found.size == 1 and abs(int(found[0]) - 600) <= 2
    assert change.confidence_scores[int(found[0])] >= 0.99


def test_noise_alone_has_no_change_point_and_few_anomalies() -> None:
    y = np.random.default_rng(3).normal(0, 1, 3000)
    change = detect_change_points(ChangePointOptions(series=points(y)), LIMIT)
    assert not any(change.is_change_point)
    assert flagged(y).size <= 0.01 * y.size


def test_a_broken_seasonal_cycle_is_found() -> None:
    """On day 5 the afternoon peak does not come: values stay at the daily mean, well inside the
    range of the series, so only a model of the cycle can tell. The local level is a trailing
    median, so the return to normal is flagged too, for at most one level window (33 points)."""
    y = seasonal()
    broken = slice(5 * DAY + DAY // 4 - 20, 5 * DAY + DAY // 4 + 20)
    y[broken] = 20 + np.random.default_rng(4).normal(0, 0.3, 40)
    hits = flagged(y)
    inside = hits[(hits >= broken.start) & (hits < broken.stop)]
    assert inside.size >= 15 and inside.min() == broken.start
    assert hits.min() >= broken.start and hits.max() < broken.stop + 33


def test_missing_points_are_filled_for_the_model_and_results_follow_the_points_sent() -> None:
    y = seasonal()
    y[900] += 4
    keep = np.sort(np.random.default_rng(5).choice(y.size, int(0.85 * y.size), replace=False))
    keep = np.union1d(keep, [900])
    times = START + STEP * keep
    result = detect_entire(DetectOptions(series=points(y[keep], times)), LIMIT)
    assert len(result.is_anomaly) == keep.size
    assert result.imputed_points == y.size - keep.size and result.period == DAY
    assert keep[np.flatnonzero(result.is_anomaly)].tolist() == [900]
    for mode in ("previous", "linear", "notFill"):
        assert 900 in keep[flagged(y[keep], times, impute_mode=mode)], mode
    # Zeros in a series that lives around 20 are themselves far off: the spread they add hides
    # the spike. That is what 'zero' asks for (it suits counts, where a missing point means none).
    zero = detect_entire(DetectOptions(series=points(y[keep], times), impute_mode="zero"), LIMIT)
    assert len(zero.is_anomaly) == keep.size and zero.imputed_points == y.size - keep.size


def test_timestamps_without_a_regular_clock_are_taken_in_order() -> None:
    """Inferred from the typical step, a grid that would be mostly empty means no clock: the
    points are taken as evenly spaced (granularity 'none'); a granularity given is held to."""
    y = seasonal(400)
    y[300] += 4
    times = START + STEP * np.cumsum(np.random.default_rng(8).choice([1, 1, 1, 9], y.size))
    result = detect_entire(DetectOptions(series=points(y, times)), LIMIT)
    assert result.granularity == "none" and np.flatnonzero(result.is_anomaly).tolist() == [300]
    with pytest.raises(SeriesInputError, match="missing"):
        detect_entire(DetectOptions(series=points(y, times), granularity="minutely", custom_interval=5), LIMIT)


def test_irregular_timestamps_take_their_nearest_slot() -> None:
    y = seasonal()
    y[700] -= 4
    jitter = np.random.default_rng(6).uniform(-0.3, 0.3, y.size) * STEP
    times = START + STEP * np.arange(y.size) + jitter
    result = detect_entire(DetectOptions(series=points(y, times)), LIMIT)
    assert (result.granularity, result.custom_interval, result.imputed_points) == ("minutely", 5, 0)
    assert np.flatnonzero(result.is_anomaly).tolist() == [700]


def test_margins_widen_monotonically_as_sensitivity_falls() -> None:
    y = seasonal(3 * DAY)
    y[[100, 300, 500]] += [1.2, 2.0, 3.5]
    margins, counts = [], []
    for sensitivity in range(0, 100, 3):
        result = detect_entire(DetectOptions(series=points(y), sensitivity=sensitivity), LIMIT)
        margins.append(result.upper_margins[0])
        counts.append(sum(result.is_anomaly))
        assert result.upper_margins == result.lower_margins
    assert all(a > b for a, b in itertools.pairwise(margins)), margins
    assert all(a <= b for a, b in itertools.pairwise(counts)), counts
    assert counts[0] == 0 and counts[-1] >= 3


def test_max_anomaly_ratio_keeps_the_farthest_points() -> None:
    y = seasonal(3 * DAY)
    spikes = [100, 200, 300, 400]
    y[spikes] += [3, 6, 9, 12]
    hits = flagged(y, max_anomaly_ratio=2 / y.size)
    assert hits.tolist() == [300, 400]


def test_last_point_judged_on_its_history() -> None:
    y = seasonal(4 * DAY)
    calm = detect_last(DetectOptions(series=points(y)), LIMIT)
    assert not calm.is_anomaly and calm.severity == 0 and calm.period == DAY
    assert abs(calm.expected_value - y[-1]) < calm.upper_margin
    y[-1] += 4
    alarm = detect_last(DetectOptions(series=points(y)), LIMIT)
    assert alarm.is_anomaly and alarm.is_positive_anomaly and alarm.severity > 0
    assert alarm.expected_value == pytest.approx(calm.expected_value)
    assert alarm.suggested_window >= 4 * DAY


def test_last_point_after_a_gap_uses_the_cycle() -> None:
    y = seasonal(4 * DAY)
    times = START + STEP * np.arange(y.size)
    keep = np.r_[0 : y.size - 40, y.size - 1]  # the last point arrives after 39 missing ones
    result = detect_last(DetectOptions(series=points(y[keep], times[keep])), LIMIT)
    assert not result.is_anomaly and abs(result.expected_value - y[-1]) < 1.0


def test_same_input_same_output() -> None:
    y = seasonal()
    y[10] += 5
    options = DetectOptions(series=points(y))
    assert detect_entire(options, LIMIT) == detect_entire(options, LIMIT)


def test_several_series_find_a_broken_relationship_and_who_broke_it() -> None:
    rng = np.random.default_rng(7)
    n = 1000
    a = rng.normal(0, 1, n)
    b = a + rng.normal(0, 0.1, n)
    c = rng.normal(0, 1, n)
    b[600] -= 1.5  # inside b's own spread (it follows a), but not with a
    c[300] += 8
    options = MultivariateOptions(variables=[Variable(name=k, values=v.tolist()) for k, v in
                                             (("a", a), ("b", b), ("c", c))])
    result = detect_multivariate(options, LIMIT)
    hits = [p for p in result.points if p.is_anomaly]
    assert [p.index for p in hits] == [300, 600]
    with pytest.raises(SeriesInputError, match="at least one"):
        detect_multivariate(MultivariateOptions(variables=[]), LIMIT)
    assert hits[0].contributions[0].variable == "c" and hits[0].contributions[0].contribution_score > 0.9
    assert hits[1].contributions[0].variable in ("a", "b")
    assert {c.variable for c in hits[1].contributions[:2]} == {"a", "b"}
    for p in result.points:
        assert sum(c.contribution_score for c in p.contributions) == pytest.approx(1.0)


@pytest.mark.parametrize(("values", "times", "field", "words"), [
    (np.ones(11), None, "series", "at least 12"),
    (np.r_[np.ones(20), np.inf], None, "series", "finite"),
    (np.r_[np.ones(20), 1e200], None, "series", "rescale"),
    (np.ones(20), START + STEP * np.r_[0:10, 9:19], "series", "repeats"),
    (np.ones(20), START + STEP * np.r_[0:10, 20:30][::-1], "series", "earlier"),
])
def test_bad_series_are_refused_naming_the_problem(values, times, field, words) -> None:
    with pytest.raises(SeriesInputError) as caught:
        detect_entire(DetectOptions(series=points(values, times)), LIMIT)
    assert caught.value.field == field and words in caught.value.detail
    assert caught.value.status_code == 422


def test_bad_options_are_refused_naming_the_field() -> None:
    y = points(seasonal(100))
    cases = [
        ({"period": 80}, "period"),
        ({"granularity": "auto", "custom_interval": 5}, "custom_interval"),
        ({"impute_mode": "fixed"}, None),  # no gap: nothing to fill, no error
    ]
    for options, field in cases:
        if field is None:
            detect_entire(DetectOptions(series=y, **options), LIMIT)
            continue
        with pytest.raises(SeriesInputError) as caught:
            detect_entire(DetectOptions(series=y, **options), LIMIT)
        assert caught.value.field == field
    gappy = [p for i, p in enumerate(y) if i != 50]
    with pytest.raises(SeriesInputError) as caught:
        detect_entire(DetectOptions(series=gappy, impute_mode="fixed"), LIMIT)
    assert caught.value.field == "impute_fixed_value"
    with pytest.raises(SeriesInputError) as caught:
        detect_entire(DetectOptions(series=y), 50)
    assert "series_max_points" in caught.value.detail


def test_a_level_shift_under_a_daily_cycle_is_one_change_point() -> None:
    y = seasonal()
    y[1000:] += 2
    change = detect_change_points(ChangePointOptions(series=points(y), stable_trend_window=20), LIMIT)
    found = np.flatnonzero(change.is_change_point)
    assert change.period == DAY and found.size == 1 and abs(int(found[0]) - 1000) <= 3


def test_monthly_points_follow_the_calendar() -> None:
    """Months are 28 to 31 days long: the slots follow the calendar, not a fixed step."""
    from datetime import UTC, datetime

    rng = np.random.default_rng(9)
    months = 60
    y = 100 + 10 * np.cos(2 * np.pi * np.arange(months) / 12) + rng.normal(0, 0.5, months)
    y[40] += 8
    stamps = [datetime(2020 + i // 12, i % 12 + 1, 1, tzinfo=UTC).timestamp() for i in range(months)]
    result = detect_entire(DetectOptions(series=points(y, np.array(stamps))), LIMIT)
    assert (result.granularity, result.custom_interval, result.imputed_points) == ("monthly", 1, 0)
    assert result.period == 12 and np.flatnonzero(result.is_anomaly).tolist() == [40]
