"""Backend contract, writing: the five types, insert and bulk_insert, write_func/read_func, copies.

Every test runs on every backend (see ``make_timeseries``). Values are read with
``read_func=float`` because some engines (Redis) return strings without one;
``1.0 == 1`` so expectations are written with plain numbers.
"""
import calendar
import time
from collections import OrderedDict
from types import MappingProxyType

import pytest

from kairos.exceptions import InvalidValue

MINUTE = {"minute": {"step": 60}}
NUM = {"read_func": float}


def utc(*fields):
    return calendar.timegm(tuple(fields) + (0,) * (6 - len(fields)) + (0, 0, 0))


def test_series_keeps_every_value_in_arrival_order(make_timeseries):
    ts = make_timeseries("series", MINUTE, **NUM)
    ts.insert("a", 3, timestamp=120)
    ts.insert("a", 1, timestamp=150)
    ts.insert("a", 3, timestamp=179)
    ts.insert("a", 8, timestamp=180)
    assert ts.get("a", "minute", timestamp=130) == {120: [3, 1, 3]}
    assert ts.get("a", "minute", timestamp=180) == {180: [8]}


def test_histogram_counts_occurrences(make_timeseries):
    ts = make_timeseries("histogram", MINUTE, **NUM)
    for value in (1, 3, 1, 2.5, 1):
        ts.insert("a", value, timestamp=61)
    assert ts.get("a", "minute", timestamp=61) == {60: {1: 3, 3: 1, 2.5: 1}}


def test_count_defaults_to_one_and_takes_negative_and_float_increments(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", timestamp=0)
    ts.insert("a", timestamp=10)
    ts.insert("a", 5, timestamp=20)
    ts.insert("a", -3, timestamp=30)
    assert ts.get("a", "minute", timestamp=0) == {0: 4}
    if make_timeseries.backend == "cassandra":  # counter columns hold whole numbers only
        with pytest.raises(InvalidValue, match="0.25"):
            ts.insert("b", 0.25, timestamp=0)
        return
    ts.insert("b", 0.25, timestamp=0)
    ts.insert("b", 2.5, timestamp=59)
    assert ts.get("b", "minute", timestamp=0) == {0: 2.75}


def test_gauge_keeps_the_last_value_written(make_timeseries):
    ts = make_timeseries("gauge", MINUTE, **NUM)
    ts.insert("a", 5, timestamp=60)
    ts.insert("a", 7, timestamp=70)
    ts.insert("a", 2, timestamp=119)
    ts.insert("a", 9, timestamp=120)
    assert ts.get("a", "minute", timestamp=100) == {60: 2}
    ts.bulk_insert(OrderedDict([(61, {"a": [4, 6]}), (62, {"a": [3]})]))
    assert ts.get("a", "minute", timestamp=100) == {60: 3}


def test_a_gauge_batch_is_written_in_time_order_whatever_order_its_timestamps_come_in(
        make_timeseries):
    """A batch groups values by timestamp: another stat's point may put a later timestamp
    first. The bucket keeps the value of the latest timestamp; at one timestamp, the last
    value given."""
    ts = make_timeseries("gauge", MINUTE, **NUM)
    ts.bulk_insert(OrderedDict([(110, {"b": 1, "a": [2, 8]}), (100, {"a": 1}),
                                (105, {"a": [7, 3]})]))
    assert ts.get("a", "minute", timestamp=100) == {60: 8}
    assert ts.get("b", "minute", timestamp=100) == {60: 1}
    ts.bulk_insert(OrderedDict([(None, {"a": 4}), (90, {"a": 5})]), now=95)
    assert ts.get("a", "minute", timestamp=100) == {60: 4}  # None: ``now``, the latest


def test_set_keeps_unique_values(make_timeseries):
    ts = make_timeseries("set", MINUTE, **NUM)
    for value in (3, 1, 3, 2, 1):
        ts.insert("a", value, timestamp=0)
    ts.insert("a", 3, timestamp=59)
    result = ts.get("a", "minute", timestamp=0)
    assert result == {0: {1, 2, 3}} and isinstance(result[0], set)


@pytest.mark.parametrize("type_, empty, one", [
    ("series", [], [1]), ("histogram", {}, {1: 1}), ("count", 0, 1), ("gauge", None, 1),
    ("set", set(), {1}),
])
def test_empty_buckets_read_as_the_type_empty_form(make_timeseries, type_, empty, one):
    ts = make_timeseries(type_, MINUTE, **NUM)
    ts.insert("a", 1, timestamp=60)
    assert ts.get("a", "minute", timestamp=0) == {0: empty}
    assert ts.get("never", "minute", timestamp=0) == {0: empty}
    result = ts.series("a", "minute", start=0, end=120)
    assert result == OrderedDict([(0, empty), (60, one), (120, empty)])
    assert list(result) == [0, 60, 120]
    assert type(result[0]) is type(empty) and type(result[120]) is type(empty)


@pytest.mark.parametrize("value", [[1, 2, 2], (1, 2, 2), {1, 2}])
def test_insert_of_a_list_tuple_or_set_inserts_each_value(make_timeseries, value):
    ts = make_timeseries("histogram", MINUTE, **NUM)
    ts.insert("a", value, timestamp=0)
    expected = {1: 1, 2: 2} if not isinstance(value, set) else {1: 1, 2: 1}
    assert ts.get("a", "minute", timestamp=0) == {0: expected}


def test_insert_of_a_list_of_counts_adds_them(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", [1, 2, 3], timestamp=0)
    assert ts.get("a", "minute", timestamp=0) == {0: 6}


def test_bulk_insert_many_timestamps_and_names(make_timeseries):
    ts = make_timeseries("series", {"minute": {"step": 60}, "hour": {"step": 3600}}, **NUM)
    ts.bulk_insert(OrderedDict([
        (0, {"a": [1, 2], "b": [10]}),
        (59, {"a": [3]}),
        (3599, {"b": [20, 30], "c": 7}),          # a bare value is one value
        (3600, {"a": [4]}),
    ]))
    assert ts.series("a", "minute", start=0, end=120) == {0: [1, 2, 3], 60: [], 120: []}
    assert ts.series("a", "hour", start=0, end=3600) == {0: [1, 2, 3], 3600: [4]}
    assert ts.get("b", "hour", timestamp=0) == {0: [10, 20, 30]}
    assert ts.get("b", "minute", timestamp=3599) == {3540: [20, 30]}
    assert ts.get("c", "minute", timestamp=3599) == {3540: [7]}
    assert ts.list() == ["a", "b", "c"]


def test_bulk_insert_none_timestamp_means_now(make_timeseries):
    # buckets of 10**9 s: now (2001-09-09 .. 2033-05-18) is in bucket 1, starting at 10**9
    ts = make_timeseries("count", {"era": {"step": 10 ** 9}}, **NUM)
    ts.bulk_insert({None: {"a": [2, 3]}, 0: {"a": [100]}})
    ts.insert("a", 4)
    assert ts.get("a", "era") == {1000000000: 9}
    assert ts.get("a", "era", timestamp=5) == {0: 100}


def test_timestamp_defaults_to_now_for_every_read_and_write(make_timeseries):
    ts = make_timeseries("series", {"minute": {"step": 60}}, **NUM)
    before = time.time()
    ts.insert("a", 1)
    found = ts.get("a", "minute")
    after = time.time()
    (key, values), = found.items()
    if values:   # the minute did not turn between the write and the read
        assert key == int(before // 60) * 60 or key == int(after // 60) * 60
        assert values == [1]
    else:
        assert key == int(after // 60) * 60 != int(before // 60) * 60


def test_write_func_runs_on_write_and_read_func_on_read(make_timeseries):
    written = []

    def write(value):
        written.append(value)
        return value * 10

    ts = make_timeseries("series", MINUTE, write_func=write, read_func=lambda v: float(v) / 4)
    ts.insert("a", 1, timestamp=0)
    ts.insert("a", [2, 3], timestamp=0)
    assert written == [1, 2, 3]
    assert ts.get("a", "minute", timestamp=0) == {0: [2.5, 5.0, 7.5]}


@pytest.mark.parametrize("type_name", ["count", "gauge"])
def test_write_func_runs_on_a_lone_number_of_bulk_insert_too(make_timeseries, type_name):
    # a stat's only value may be given bare (as karbon's plan gives it), not in a list
    ts = make_timeseries(type_name, MINUTE, write_func=lambda v: v * 10, **NUM)
    ts.bulk_insert({0: {"a": 2, "b": 1.5}, 60: {"a": [3]}})
    assert ts.series("a", "minute", start=0, end=60) == {0: 20, 60: 30}
    assert ts.get("b", "minute", timestamp=0) == {0: 15}
    with pytest.raises(InvalidValue):
        ts.bulk_insert({0: {"": 2}})  # a bare value's name is checked as any other


def test_write_func_result_is_what_histograms_count(make_timeseries):
    ts = make_timeseries("histogram", MINUTE, write_func=lambda v: round(v), **NUM)
    ts.insert("a", [1.2, 0.9, 2.6, 3.4], timestamp=0)
    assert ts.get("a", "minute", timestamp=0) == {0: {1: 2, 3: 2}}


def test_intervals_copies_into_later_buckets(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", 2, timestamp=125, intervals=3)
    assert ts.series("a", "minute", start=60, end=360) == {
        60: 0, 120: 2, 180: 2, 240: 2, 300: 2, 360: 0}


def test_intervals_copies_into_earlier_buckets(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert({125: {"a": [1, 1]}}, intervals=-2)
    assert ts.series("a", "minute", start=0, end=180) == {0: 2, 60: 2, 120: 2, 180: 0}


def test_copies_keep_the_offset_inside_the_bucket(make_timeseries):
    ts = make_timeseries("series", {"hour": {"step": 3600, "resolution": 60}}, **NUM)
    ts.insert("a", 5, timestamp=3600 + 125, intervals=2)
    assert ts.get("a", "hour", timestamp=3600) == {3720: [5]}
    assert ts.get("a", "hour", timestamp=7200) == {7320: [5]}
    assert ts.get("a", "hour", timestamp=10800) == {10920: [5]}
    assert ts.get("a", "hour", timestamp=14400) == {}


def test_gregorian_copy_is_clamped_to_a_shorter_month(make_timeseries):
    ts = make_timeseries("count", {"month": {"step": "monthly", "resolution": "daily"}}, **NUM)
    ts.insert("a", 1, timestamp=utc(2024, 1, 31, 10), intervals=2)
    assert ts.get("a", "month", timestamp=utc(2024, 1, 1)) == {utc(2024, 1, 31): 1}
    assert ts.get("a", "month", timestamp=utc(2024, 2, 1)) == {utc(2024, 2, 29): 1}
    assert ts.get("a", "month", timestamp=utc(2024, 3, 1)) == {utc(2024, 3, 31): 1}


@pytest.mark.parametrize("type_", ["series", "histogram", "gauge", "set"])
def test_value_is_required_except_for_counts(make_timeseries, type_):
    ts = make_timeseries(type_, MINUTE, **NUM)
    with pytest.raises(InvalidValue, match="needs a value"):
        ts.insert("a", timestamp=0)


def test_a_bad_value_rejects_the_whole_batch(make_timeseries):
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.insert("a", 1, timestamp=0)
    with pytest.raises(InvalidValue, match="'abc'"):
        ts.bulk_insert(OrderedDict([(0, {"a": [5]}), (60, {"b": [1, "abc", 2]})]))
    assert ts.get("a", "minute", timestamp=0) == {0: 1}
    assert ts.list() == ["a"]


def test_bulk_insert_takes_any_mapping(make_timeseries):
    """bulk_insert only reads its argument: a read-only mapping is taken as a dict is."""
    ts = make_timeseries("count", MINUTE, **NUM)
    ts.bulk_insert(MappingProxyType({0: MappingProxyType({"a": [2, 3]})}))
    assert ts.get("a", "minute", timestamp=0) == {0: 5}


@pytest.mark.parametrize("call, fragment", [
    (lambda ts: ts.insert("a", 1, timestamp="yesterday"), "timestamp must be a number"),
    (lambda ts: ts.insert("a", 1, timestamp=float("nan")), "outside the years 1 to 9999"),
    (lambda ts: ts.insert("a", 1, timestamp=1e30), "outside the years 1 to 9999"),
    (lambda ts: ts.insert("a", 1, timestamp=1700000000 * 10 ** 9), "outside the years 1 to 9999"),
    (lambda ts: ts.insert("a", 1, timestamp=253402300799 + 1), "outside the years 1 to 9999"),
    (lambda ts: ts.insert("", 1, timestamp=0), "stat name must be a non-empty string"),
    (lambda ts: ts.insert(None, 1, timestamp=0), "stat name must be a non-empty string"),
    (lambda ts: ts.bulk_insert([(0, {"a": [1]})]), "bulk_insert takes"),
    (lambda ts: ts.bulk_insert({0: [1]}), "bulk_insert takes"),
    (lambda ts: ts.insert("a", 1, timestamp=0, intervals=1.5), "intervals must be a whole number"),
])
def test_bad_writes_raise_naming_the_problem(make_timeseries, call, fragment):
    ts = make_timeseries("count", MINUTE, **NUM)
    with pytest.raises(InvalidValue, match=fragment):
        call(ts)
    assert ts.list() == []


def test_bulk_insert_histogram_writes_counted_values_into_histograms_only(make_timeseries):
    counted = make_timeseries("histogram", MINUTE, **NUM)
    counted.bulk_insert_histogram({0: {"a": {1: 3, 2: 1, 5: 0}}, 59: {"a": {1: 1}}})
    repeated = make_timeseries("histogram", MINUTE, **NUM)
    repeated.bulk_insert({0: {"a": [1, 1, 1, 2]}, 59: {"a": [1]}})
    assert counted.get("a", "minute", timestamp=0) == repeated.get("a", "minute", timestamp=0) == {
        0: {1: 4, 2: 1}}
    for type_ in ("series", "count", "gauge", "set"):
        other = make_timeseries(type_, MINUTE, **NUM)
        with pytest.raises(InvalidValue, match="needs a histogram, not a %s" % type_):
            other.bulk_insert_histogram({0: {"a": {1: 1}}})
        assert other.list() == []
