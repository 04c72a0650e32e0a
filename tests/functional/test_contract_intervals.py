"""Backend contract, intervals: seconds, simple forms, Gregorian calendars, ISO weeks, leap days.

Bucket timestamps are UTC; the expected ones come from ``calendar.timegm`` or from
arithmetic written next to them.
"""
import calendar

import pytest

NUM = {"read_func": float}
DAY = 86400


def utc(*fields):
    return calendar.timegm(tuple(fields) + (0,) * (6 - len(fields)) + (0, 0, 0))


@pytest.mark.parametrize("step", [60, "60", 60.0])
def test_seconds_as_int_float_or_string(make_timeseries, step):
    ts = make_timeseries("count", {"minute": {"step": step}}, **NUM)
    ts.insert("a", 1, timestamp=119)
    ts.insert("a", 1, timestamp=120)
    assert ts.series("a", "minute", start=60, end=120) == {60: 1, 120: 1}


@pytest.mark.parametrize("step, width", [
    ("1h", 3600), ("30d", 30 * DAY), ("2w", 14 * DAY), ("1m", 30 * DAY), ("1y", 365 * DAY),
])
def test_simple_forms(make_timeseries, step, width):
    ts = make_timeseries("count", {"i": {"step": step}}, **NUM)
    # one second before and at the start of bucket 1000
    ts.insert("a", 1, timestamp=1000 * width - 1)
    ts.insert("a", 2, timestamp=1000 * width)
    ts.insert("a", 4, timestamp=1001 * width - 1)
    assert ts.series("a", "i", start=999 * width, end=1000 * width) == {
        999 * width: 1, 1000 * width: 6}


def test_a_month_is_thirty_days(make_timeseries):
    ts = make_timeseries("count", {"m": {"step": "1m"}, "d30": {"step": "30d"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2024, 3, 1))
    # 2024-03-01 is day 19783 since the epoch; 19783 // 30 = 659; 659 * 30 = day 19770
    assert ts.get("a", "m", timestamp=utc(2024, 3, 1)) == {19770 * DAY: 1}
    assert ts.get("a", "d30", timestamp=utc(2024, 3, 1)) == {19770 * DAY: 1}


def test_daily_buckets_are_utc_days(make_timeseries):
    ts = make_timeseries("series", {"day": {"step": "daily"}}, **NUM)
    ts.insert("a", 1, timestamp=946598400 + 86399)    # 1999-12-31 23:59:59 UTC
    ts.insert("a", 2, timestamp=946684800)            # 2000-01-01 00:00:00 UTC
    assert ts.series("a", "day", start=946598400, end=946684800) == {
        946598400: [1], 946684800: [2]}


def test_daily_leap_days(make_timeseries):
    ts = make_timeseries("count", {"day": {"step": "daily"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2024, 2, 29, 12))
    ts.insert("a", 2, timestamp=utc(2100, 2, 28, 23, 59, 59))
    ts.insert("a", 4, timestamp=utc(2100, 3, 1))
    assert ts.series("a", "day", start=utc(2024, 2, 28), end=utc(2024, 3, 1, 1)) == {
        utc(2024, 2, 28): 0, utc(2024, 2, 29): 1, utc(2024, 3, 1): 0}
    # 2100 is not a leap year: February 28th is followed by March 1st
    assert ts.series("a", "day", start=utc(2100, 2, 28), steps=2) == {
        utc(2100, 2, 28): 2, utc(2100, 3, 1): 4}


def test_weekly_buckets_are_iso_weeks(make_timeseries):
    ts = make_timeseries("count", {"week": {"step": "weekly"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2020, 12, 31))              # Thursday of week 53 of 2020
    ts.insert("a", 2, timestamp=utc(2021, 1, 3, 23, 59, 59))    # its Sunday
    ts.insert("a", 4, timestamp=utc(2021, 1, 4))                # week 1 of 2021
    ts.insert("a", 8, timestamp=utc(2019, 12, 31))              # week 1 of 2020 ...
    week53 = 1609459200 - 4 * DAY                               # Monday 2020-12-28
    assert ts.series("a", "week", start=utc(2020, 12, 28), end=utc(2021, 1, 10)) == {
        week53: 3, week53 + 7 * DAY: 4}
    # ... which starts on Monday 2019-12-30 (2020-01-01, 1577836800, was a Wednesday)
    assert ts.get("a", "week", timestamp=utc(2020, 1, 5)) == {1577836800 - 2 * DAY: 8}


def test_weekly_transform_duration_is_seven_days(make_timeseries):
    ts = make_timeseries("count", {"week": {"step": "weekly"}}, **NUM)
    ts.insert("a", 7, timestamp=utc(2020, 12, 31))
    assert ts.get("a", "week", timestamp=utc(2020, 12, 31), transform=lambda d, s: s) == {
        utc(2020, 12, 28): 7 * DAY}


def test_monthly_buckets_and_leap_february(make_timeseries):
    ts = make_timeseries("count", {"month": {"step": "monthly"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2024, 1, 31, 23, 59, 59))
    ts.insert("a", 2, timestamp=utc(2024, 2, 29, 23, 59, 59))
    ts.insert("a", 4, timestamp=utc(2024, 3, 1))
    ts.insert("a", 8, timestamp=utc(2024, 12, 31, 12))
    ts.insert("a", 16, timestamp=utc(2025, 1, 1))
    duration = lambda data, seconds: seconds  # noqa: E731
    assert ts.series("a", "month", start=utc(2024, 1, 15), end=utc(2024, 3, 15)) == {
        utc(2024, 1, 1): 1, utc(2024, 2, 1): 2, utc(2024, 3, 1): 4}
    assert ts.series("a", "month", start=utc(2024, 12, 1), steps=2) == {
        utc(2024, 12, 1): 8, utc(2025, 1, 1): 16}
    assert ts.get("a", "month", timestamp=utc(2024, 2, 10), transform=duration) == {
        utc(2024, 2, 1): 29 * DAY}
    assert ts.get("a", "month", timestamp=utc(2100, 2, 10), transform=duration) == {
        utc(2100, 2, 1): 28 * DAY}


def test_yearly_buckets(make_timeseries):
    ts = make_timeseries("count", {"year": {"step": "yearly"}}, **NUM)
    ts.insert("a", 1, timestamp=946684800 - 1)     # 1999-12-31 23:59:59
    ts.insert("a", 2, timestamp=946684800)         # 2000-01-01
    assert ts.series("a", "year", start=utc(1999, 6, 1), steps=2) == {
        utc(1999, 1, 1): 1, 946684800: 2}
    duration = lambda data, seconds: seconds  # noqa: E731
    assert ts.get("a", "year", timestamp=utc(2024, 5, 5), transform=duration) == {
        utc(2024, 1, 1): 366 * DAY}
    assert ts.get("a", "year", timestamp=utc(2100, 5, 5), transform=duration) == {
        utc(2100, 1, 1): 365 * DAY}


def test_daily_in_one_hour_resolution(make_timeseries):
    ts = make_timeseries("count", {"day": {"step": "daily", "resolution": "1h"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(1999, 12, 31, 5, 30))
    ts.insert("a", 2, timestamp=utc(1999, 12, 31, 5, 59, 59))
    ts.insert("a", 4, timestamp=utc(1999, 12, 31, 23))
    ts.insert("a", 8, timestamp=utc(2000, 1, 1))
    assert ts.get("a", "day", timestamp=utc(1999, 12, 31, 12)) == {
        utc(1999, 12, 31, 5): 3, utc(1999, 12, 31, 23): 4}
    assert ts.get("a", "day", timestamp=utc(1999, 12, 31), condense=True) == {946598400: 7}
    assert ts.series("a", "day", start=utc(1999, 12, 31), steps=2, condense=True) == {
        946598400: 7, 946684800: 8}


def test_weekly_in_daily_resolution(make_timeseries):
    ts = make_timeseries("series", {"week": {"step": "weekly", "resolution": "daily"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2020, 12, 31, 10))
    ts.insert("a", 2, timestamp=utc(2021, 1, 1, 10))
    ts.insert("a", 3, timestamp=utc(2021, 1, 1, 11))
    assert ts.get("a", "week", timestamp=utc(2021, 1, 2)) == {
        utc(2020, 12, 31): [1], utc(2021, 1, 1): [2, 3]}
    # per-resolution transforms get the resolution's duration
    assert ts.get("a", "week", timestamp=utc(2021, 1, 2), transform=lambda d, s: s) == {
        utc(2020, 12, 31): DAY, utc(2021, 1, 1): DAY}


def test_monthly_in_daily_resolution_and_relative_step_in_gregorian_resolution(make_timeseries):
    ts = make_timeseries("count", {"month": {"step": "monthly", "resolution": "daily"},
                                   "d30": {"step": "30d", "resolution": "daily"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2024, 2, 29, 10))
    ts.insert("a", 2, timestamp=utc(2024, 2, 3))
    assert ts.get("a", "month", timestamp=utc(2024, 2, 1)) == {
        utc(2024, 2, 3): 2, utc(2024, 2, 29): 1}
    # 30-day buckets: 2024-02-03 is day 19756 since the epoch (19723 + 31 + 2), in bucket
    # 19756 // 30 = 658 (days 19740..19769); 2024-02-29 is day 19782, in bucket 659
    assert ts.get("a", "d30", timestamp=utc(2024, 2, 3)) == {utc(2024, 2, 3): 2}
    assert ts.get("a", "d30", timestamp=utc(2024, 2, 29)) == {utc(2024, 2, 29): 1}
    assert ts.series("a", "d30", start=utc(2024, 2, 3), steps=2, condense=True) == {
        19740 * DAY: 2, 19770 * DAY: 1}


def test_series_steps_default_to_the_interval_steps(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60, "steps": 3}, "hour": {"step": 3600}},
                         **NUM)
    assert list(ts.series("a", "minute", end=600)) == [480, 540, 600]
    assert list(ts.series("a", "hour", end=7200)) == [7200]


def test_several_intervals_get_every_write(make_timeseries):
    ts = make_timeseries("count", {"minute": {"step": 60}, "hour": {"step": "1h"},
                                   "day": {"step": "daily", "resolution": 3600}}, **NUM)
    ts.bulk_insert({100: {"a": [1, 2]}, 3700: {"a": [4]}})
    assert ts.series("a", "minute", start=60, end=120) == {60: 3, 120: 0}
    assert ts.series("a", "hour", start=0, end=3600) == {0: 3, 3600: 4}
    assert ts.get("a", "day", timestamp=0) == {0: 3, 3600: 4}
