"""Timestamps in every form clients send them, and clear errors for the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from anomd.errors import InvalidInput
from anomd.timeseries.timestamps import iso, parse, parse_many, sorted_order

NOON = 1709294400.0  # 2024-03-01T12:00:00Z


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T12:00:00Z", "2024-03-01T12:00:00+00:00", "2024-03-01 12:00:00",
        "2024-03-01T13:30:00+01:30", "2024-03-01T07:00:00-05:00", " 2024-03-01T12:00:00.000Z ",
        1709294400, 1709294400.0, 1709294400000, np.int64(1709294400), np.float64(1709294400000.0),
        datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2024, 3, 1, 12),
        datetime(2024, 3, 1, 14, tzinfo=timezone(timedelta(hours=2))),
        np.datetime64("2024-03-01T12:00:00"), np.datetime64("2024-03-01T12:00:00.000000000"),
    ],
)
def test_every_accepted_form_means_the_same_instant(value) -> None:
    assert parse(value) == NOON


def test_dates_naive_times_and_fractions() -> None:
    assert parse("2024-03-01") == parse(date(2024, 3, 1)) == NOON - 12 * 3600
    assert parse("2024-03-01T12:00:00.250Z") == NOON + 0.25
    assert parse(0) == 0.0 and parse(-86400) == -86400.0  # seconds, before 1970 too
    assert parse(99_999_999_999) == 99_999_999_999.0  # just below the millisecond range
    assert parse(100_000_000_000) == 100_000_000.0  # from there on, milliseconds
    assert iso(NOON) == "2024-03-01T12:00:00Z" and iso(NOON + 0.5) == "2024-03-01T12:00:00.500Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "is not an ISO 8601 timestamp"),
        ("1709294400", "a number in quotes"),
        ("2024-13-01", "is not an ISO 8601 timestamp"),
        (True, "got a boolean"),
        (None, "got NoneType"),
        ([2024, 3, 1], "got list"),
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        (1.7e18, "too large for epoch seconds or milliseconds"),
        (np.datetime64("NaT"), "missing"),
    ],
)
def test_bad_timestamps_are_named(value, message) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(value, "point 7: 'timestamp'")
    assert err.value.detail.startswith("point 7: 'timestamp'") and message in err.value.detail


def test_columns_in_every_form() -> None:
    strings = ["2024-03-01T12:00:00Z", "2024-03-01T12:05:00Z", "2024-03-01T12:10:00Z"]
    expected = np.array([NOON, NOON + 300, NOON + 600])
    forms = [
        strings,
        [NOON, NOON + 300, NOON + 600],
        np.array([NOON * 1000, (NOON + 300) * 1000, (NOON + 600) * 1000]),
        np.array(["2024-03-01T12:00", "2024-03-01T12:05", "2024-03-01T12:10"], dtype="datetime64[m]"),
        pl.Series(strings).str.to_datetime(time_zone="UTC"),
        pl.Series(strings).str.to_datetime(time_zone="UTC").dt.convert_time_zone("Asia/Tokyo"),
        pl.Series(strings).str.strptime(pl.Datetime("ns"), "%Y-%m-%dT%H:%M:%SZ"),
    ]
    for form in forms:
        np.testing.assert_array_equal(parse_many(form), expected)


def test_pandas_columns_naive_and_aware() -> None:
    pd = pytest.importorskip("pandas")
    naive = pd.Series(pd.to_datetime(["2024-03-01 12:00", "2024-03-01 12:05"]))
    aware = naive.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    np.testing.assert_array_equal(parse_many(naive), [NOON, NOON + 300])
    np.testing.assert_array_equal(parse_many(aware), [NOON, NOON + 300])


def test_a_bad_value_in_a_column_names_its_row() -> None:
    with pytest.raises(InvalidInput, match=r"row 2, 'ts': 'soon' is not an ISO 8601"):
        parse_many(["2024-03-01T12:00:00Z", 1709294400, "soon"], "ts")
    with pytest.raises(InvalidInput, match=r"row 1, 'timestamp': the timestamp is missing"):
        parse_many(np.array(["2024-03-01", "NaT"], dtype="datetime64[D]"))


def test_time_order_is_stable() -> None:
    order = sorted_order([30.0, 10.0, 20.0, 10.0])
    assert order.tolist() == [1, 3, 2, 0]
