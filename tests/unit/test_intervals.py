"""Interval arithmetic without a database: step parsing, both calendars, ISO weeks, leap days.

Expected timestamps come from ``calendar.timegm`` (the standard library, not kairos) or
are written out by hand with the arithmetic in a comment.
"""
import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.exceptions import ConfigError, InvalidValue
from kairos.intervals import (DAY, GregorianCalendar, Interval, RelativeCalendar, make_calendar,
                              parse_intervals, parse_step)


def utc(*fields):
    return calendar.timegm(tuple(fields) + (0,) * (6 - len(fields)) + (0, 0, 0))


# -- parse_step -------------------------------------------------------------
@pytest.mark.parametrize("spec, seconds", [
    (60, 60), (60.0, 60), ("60", 60), (" 60 ", 60), ("60.0", 60),
    ("1h", 3600), ("1H", 3600), (" 2 h ", 7200),
    ("30d", 30 * 86400), ("2w", 14 * 86400),
    ("1m", 30 * 86400),          # "m" is a 30-day month, not a minute
    ("1y", 365 * 86400), ("3y", 3 * 365 * 86400),
])
def test_parse_step_seconds_and_simple_forms(spec, seconds):
    assert parse_step(spec) == seconds


@pytest.mark.parametrize("spec", ["daily", "weekly", "monthly", "yearly", "DAILY", " Weekly "])
def test_parse_step_gregorian_names(spec):
    assert parse_step(spec) == spec.strip().lower()


@pytest.mark.parametrize("spec, fragment", [
    ("abc", "'abc' is not understood"),
    ("1x", "'1x' is not understood"),
    ("d", "'d' is not understood"),
    ("fortnightly", "'fortnightly' is not understood"),
    ("0", "positive whole number"),
    (0, "positive whole number"),
    ("-5", "positive whole number"),
    ("1.5", "positive whole number"),
    (1.5, "positive whole number"),
    (True, "not a boolean"),
    (None, "not NoneType"),
    ([60], "not list"),
])
def test_parse_step_rejects_bad_specs_naming_them(spec, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        parse_step(spec, "interval 'minute' step")
    assert "interval 'minute' step" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_make_calendar_picks_the_calendar():
    assert make_calendar("1h") == RelativeCalendar(3600)
    assert make_calendar("monthly") == GregorianCalendar("monthly")
    with pytest.raises(ConfigError):
        GregorianCalendar("hourly")


# -- relative calendar ------------------------------------------------------
def test_relative_buckets_count_whole_steps_from_the_epoch():
    minute = RelativeCalendar(60)
    assert minute.to_bucket(0) == 0
    assert minute.to_bucket(59.999) == 0
    assert minute.to_bucket(60) == 1
    assert minute.to_bucket(125) == 2
    assert minute.to_bucket(125, 3) == 5
    assert minute.to_bucket(125, -3) == -1
    assert minute.to_bucket(-1) == -1            # floor, not truncation toward zero
    assert minute.from_bucket(2) == 120
    assert minute.from_bucket(-1) == -60
    assert minute.normalize(125) == 120
    assert minute.normalize(125, 1) == 180
    assert minute.duration(7) == 60
    assert minute.shift(2, -5) == -3
    assert minute.buckets(59, 185) == [0, 1, 2, 3]
    assert minute.count_between(2, 5) == 4
    assert minute.count_between(5, 2) == 0


# -- Gregorian keys -----------------------------------------------------------
def test_daily_keys_are_yyyymmdd_in_utc():
    daily = GregorianCalendar("daily")
    # 1999-12-31 is 10956 days after the epoch: 10956 * 86400 = 946598400
    assert daily.from_bucket(19991231) == 946598400
    assert daily.to_bucket(946598400) == 19991231
    assert daily.to_bucket(946598400 + 86399) == 19991231
    assert daily.to_bucket(946598400 + 86400) == 20000101
    assert daily.to_bucket(-1) == 19691231
    assert daily.shift(19991231, 1) == 20000101
    assert daily.shift(20000101, -1) == 19991231
    assert daily.duration(19991231) == DAY


def test_daily_leap_days():
    daily = GregorianCalendar("daily")
    assert daily.to_bucket(utc(2024, 2, 29, 12)) == 20240229
    assert daily.shift(20240228, 1) == 20240229
    assert daily.shift(20240229, 1) == 20240301
    assert daily.shift(21000228, 1) == 21000301      # 2100 is not a leap year
    assert daily.shift(20000228, 1) == 20000229      # 2000 is (divisible by 400)
    assert daily.buckets(utc(2024, 2, 27), utc(2024, 3, 1, 5)) == [
        20240227, 20240228, 20240229, 20240301]
    with pytest.raises(ConfigError, match="21000229"):
        daily.from_bucket(21000229)


def test_weekly_keys_are_iso_year_and_week():
    weekly = GregorianCalendar("weekly")
    # 2021-01-01 is 1609459200; the Monday before it, 2020-12-28, is 4 days earlier
    week53 = 1609459200 - 4 * DAY
    assert weekly.from_bucket(202053) == week53 == utc(2020, 12, 28)
    assert weekly.to_bucket(utc(2020, 12, 31)) == 202053
    assert weekly.to_bucket(utc(2021, 1, 3, 23, 59, 59)) == 202053   # Sunday: still week 53
    assert weekly.to_bucket(utc(2021, 1, 4)) == 202101
    assert weekly.shift(202053, 1) == 202101
    assert weekly.duration(202053) == 7 * DAY
    # week 1 of 2020 starts on Monday 2019-12-30 (2020-01-01, 1577836800, was a Wednesday)
    assert weekly.from_bucket(202001) == 1577836800 - 2 * DAY == utc(2019, 12, 30)
    assert weekly.to_bucket(utc(2019, 12, 31)) == 202001
    assert weekly.to_bucket(utc(2019, 12, 29, 23, 59, 59)) == 201952
    assert weekly.shift(202001, -1) == 201952
    assert weekly.shift(202152, 1) == 202201           # 2021 has only 52 ISO weeks
    for bad in (202054, 202153, 202000):
        with pytest.raises(ConfigError, match=str(bad)):
            weekly.from_bucket(bad)


def test_monthly_keys_and_lengths():
    monthly = GregorianCalendar("monthly")
    assert monthly.to_bucket(utc(2024, 2, 29, 23, 59, 59)) == 202402
    assert monthly.to_bucket(utc(2024, 3, 1)) == 202403
    assert monthly.from_bucket(202402) == utc(2024, 2, 1)
    assert monthly.duration(202402) == 29 * DAY
    assert monthly.duration(210002) == 28 * DAY
    assert monthly.duration(202401) == 31 * DAY
    assert monthly.shift(202412, 1) == 202501
    assert monthly.shift(202401, -1) == 202312
    assert monthly.shift(202401, 25) == 202602
    assert monthly.to_bucket(utc(2024, 1, 15), 2) == 202403
    with pytest.raises(ConfigError, match="202413"):
        monthly.from_bucket(202413)


def test_yearly_keys_and_lengths():
    yearly = GregorianCalendar("yearly")
    assert yearly.to_bucket(utc(1999, 12, 31, 23, 59, 59)) == 1999
    assert yearly.to_bucket(utc(2000, 1, 1)) == 2000
    assert yearly.from_bucket(2000) == 946684800
    assert yearly.duration(2024) == 366 * DAY
    assert yearly.duration(2100) == 365 * DAY
    assert yearly.duration(2000) == 366 * DAY
    assert yearly.shift(2024, -25) == 1999


def test_gregorian_timestamps_outside_the_calendar_raise_invalid_value():
    with pytest.raises(InvalidValue, match="outside the years"):
        GregorianCalendar("daily").to_bucket(1e13)


# -- properties over every calendar ------------------------------------------
CALENDARS = [RelativeCalendar(60), RelativeCalendar(3600), RelativeCalendar(86400 * 30),
             GregorianCalendar("daily"), GregorianCalendar("weekly"),
             GregorianCalendar("monthly"), GregorianCalendar("yearly")]
TIMESTAMPS = st.integers(min_value=utc(1900, 1, 1), max_value=utc(2200, 1, 1))


@pytest.mark.parametrize("cal", CALENDARS, ids=repr)
@given(ts=TIMESTAMPS, fraction=st.floats(min_value=0, max_value=0.999))
def test_timestamp_lies_in_its_bucket(cal, ts, fraction):
    ts = ts + fraction
    bucket = cal.to_bucket(ts)
    assert cal.from_bucket(bucket) <= ts < cal.from_bucket(cal.shift(bucket, 1))
    assert cal.from_bucket(cal.shift(bucket, 1)) - cal.from_bucket(bucket) == cal.duration(bucket)
    assert cal.duration(bucket) % DAY == 0 or not cal.gregorian


@pytest.mark.parametrize("cal", CALENDARS, ids=repr)
@given(ts=TIMESTAMPS)
def test_bucket_of_from_bucket_is_the_bucket(cal, ts):
    bucket = cal.to_bucket(ts)
    assert cal.to_bucket(cal.from_bucket(bucket)) == bucket
    assert cal.to_bucket(cal.from_bucket(bucket) - 1) == cal.shift(bucket, -1)


@pytest.mark.parametrize("cal", CALENDARS, ids=repr)
@given(ts=TIMESTAMPS, count=st.integers(min_value=-60, max_value=60))
def test_shifts_are_consistent(cal, ts, count):
    bucket = cal.to_bucket(ts)
    moved = cal.shift(bucket, count)
    assert cal.to_bucket(ts, count) == moved
    assert cal.shift(moved, -count) == bucket
    assert (moved > bucket) == (count > 0) and (moved == bucket) == (count == 0)
    if count >= 0:
        assert cal.count_between(bucket, moved) == count + 1


@given(year=st.integers(min_value=1900, max_value=2200), week=st.integers(min_value=1, max_value=53))
def test_iso_week_keys_round_trip(year, week):
    weekly = GregorianCalendar("weekly")
    key = year * 100 + week
    try:
        start = weekly.from_bucket(key)
    except ConfigError:          # a year without a 53rd week
        assert week == 53
        return
    assert calendar.weekday(*_ymd(start)) == 0        # weeks start on Monday
    assert weekly.to_bucket(start) == key
    assert weekly.to_bucket(start + 7 * DAY - 1) == key


def _ymd(ts):
    import time
    parts = time.gmtime(ts)
    return parts.tm_year, parts.tm_mon, parts.tm_mday


# -- Interval -----------------------------------------------------------------
def test_interval_defaults_resolution_to_step():
    minute = Interval("minute", {"step": 60})
    assert minute.resolution == minute.step == RelativeCalendar(60)
    assert not minute.has_resolution
    assert minute.resolution_bucket(125) is None
    assert minute.steps is None
    same = Interval("same", {"step": "1h", "resolution": 3600})
    assert not same.has_resolution


def test_interval_mixed_gregorian_and_seconds():
    daily_hours = Interval("day", {"step": "daily", "resolution": "1h"})
    assert daily_hours.has_resolution
    ts = utc(2024, 2, 29, 5, 30)
    assert daily_hours.step.to_bucket(ts) == 20240229
    assert daily_hours.resolution_bucket(ts) == ts // 3600
    hours = daily_hours.resolution_buckets(20240229)
    assert len(hours) == 24 and hours[0] == utc(2024, 2, 29) // 3600
    feb = Interval("month", {"step": "monthly", "resolution": "daily"})
    assert feb.resolution_buckets(202402)[-1] == 20240229
    assert len(feb.resolution_buckets(202402)) == 29
    assert len(feb.resolution_buckets(210002)) == 28
    rel_days = Interval("30d", {"step": "30d", "resolution": "daily"})
    assert rel_days.resolution_bucket(946598400) == 19991231


def test_copy_timestamp_keeps_the_offset_inside_the_bucket():
    minute = Interval("minute", {"step": 60})
    assert minute.copy_timestamp(125, 2) == 245
    assert minute.copy_timestamp(125, -1) == 65
    monthly = Interval("month", {"step": "monthly"})
    # Jan 31 10:00 copied a month on: February 2024 has 29 days, so its last second
    assert monthly.copy_timestamp(utc(2024, 1, 31, 10), 1) == utc(2024, 2, 29, 23, 59, 59)
    assert monthly.copy_timestamp(utc(2100, 3, 31, 10), -1) == utc(2100, 2, 28, 23, 59, 59)
    assert monthly.copy_timestamp(utc(2024, 1, 15, 10), 2) == utc(2024, 3, 15, 10)
    yearly = Interval("year", {"step": "yearly"})
    # 2024-02-29 12:00 is 59.5 days into 2024; 59.5 days into 2025 is March 1st 12:00
    assert yearly.copy_timestamp(utc(2024, 2, 29, 12), 1) == utc(2025, 3, 1, 12)


def test_retention_from_steps():
    minute = Interval("minute", {"step": 60, "steps": 3})
    assert minute.oldest_bucket(250) == 2          # buckets 2, 3 and 4 (the current one)
    assert minute.expires_at(2) == 300
    assert Interval("x", {"step": 60}).oldest_bucket(250) is None
    assert Interval("x", {"step": 60}).expires_at(2) is None
    daily = Interval("day", {"step": "daily", "steps": "2"})
    assert daily.steps == 2
    assert daily.oldest_bucket(utc(2024, 3, 1, 8)) == 20240229
    assert daily.expires_at(20240228) == utc(2024, 3, 1)


@pytest.mark.parametrize("config, fragment", [
    ({}, "needs a 'step'"),
    ([60], "must be a dict"),
    ({"step": 60, "stepz": 3}, "unknown keys: stepz"),
    ({"step": 60, "steps": 0}, "steps must be a positive"),
    ({"step": 60, "steps": 2.5}, "steps must be a positive"),
    ({"step": 60, "steps": "many"}, "steps must be a whole number"),
    ({"step": "60s"}, "'60s' is not understood"),
    ({"step": 60, "resolution": "hourly"}, "resolution 'hourly' is not understood"),
])
def test_interval_config_errors_name_the_problem(config, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        Interval("minute", config)
    assert "minute" in str(info.value)


@pytest.mark.parametrize("intervals", [None, {}, [("minute", {"step": 60})],
                                       {"a:b": {"step": 60}}, {"": {"step": 60}}])
def test_parse_intervals_rejects_bad_shapes(intervals):
    with pytest.raises(ConfigError):
        parse_intervals(intervals)


def test_parse_intervals_keeps_order():
    parsed = parse_intervals({"minute": {"step": 60}, "hour": {"step": "1h"}})
    assert list(parsed) == ["minute", "hour"]
    assert parsed["hour"].step == RelativeCalendar(3600)


STEPS = [60, "1h", "30d", "daily", "weekly", "monthly", "yearly"]


@pytest.mark.parametrize("step", STEPS)
@given(ts=TIMESTAMPS, count=st.integers(min_value=-30, max_value=30))
def test_copies_land_in_the_shifted_bucket(step, ts, count):
    interval = Interval("i", {"step": step})
    copy = interval.copy_timestamp(ts, count)
    bucket = interval.step.to_bucket(ts)
    assert interval.step.to_bucket(copy) == interval.step.shift(bucket, count)
    offset = ts - interval.step.from_bucket(bucket)
    copy_offset = copy - interval.step.from_bucket(interval.step.to_bucket(copy))
    assert copy_offset == min(offset, interval.step.duration(interval.step.shift(bucket, count)) - 1)
