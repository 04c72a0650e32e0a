"""Backend contract: where this kairos once differed from the original library (issue 14).

The original (agoragames/kairos, Python 2) was ported and run against this one; each
case below is a difference found that way, now behaving as the original did (or as
close as the README's kairos section says). Every test runs on every backend.
"""
from collections import OrderedDict

import pytest

NUM = {"read_func": float}
MINUTE = {"minute": {"step": 60}}
HOUR_BY_MINUTE = {"hour": {"step": 3600, "resolution": 60}}
#: hour 0: a=1 at 60, b=2 at 120, a=3 at 180; hour 1: b=5 at 3600, a=6 at 3660
INTERLEAVED = OrderedDict([(60, {"a": [1]}), (120, {"b": [2]}), (180, {"a": [3]}),
                           (3600, {"b": [5]}), (3660, {"a": [6]})])


# -- joined names with condense / collapse: per resolution bucket first, then time order --
def test_joined_condensed_gauge_is_the_last_value_written_in_time(make_timeseries):
    ts = make_timeseries("gauge", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert(INTERLEAVED)
    assert ts.get(["a", "b"], "hour", timestamp=0, condense=True) == {0: 3}
    assert ts.series(["a", "b"], "hour", start=0, end=3600, condense=True) == {0: 3, 3600: 6}
    assert ts.series(["b", "a"], "hour", start=0, end=3600, condense=True) == {0: 3, 3600: 6}
    assert ts.series(["a", "b"], "hour", start=0, end=3600, collapse=True) == {0: 6}
    assert list(ts.iterate(["a", "b"], "hour", condense=True)) == [(0, 3), (3600, 6)]


def test_joined_condensed_series_keeps_time_order(make_timeseries):
    ts = make_timeseries("series", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert(INTERLEAVED)
    assert ts.get(["a", "b"], "hour", timestamp=0, condense=True) == {0: [1, 2, 3]}
    assert ts.series(["a", "b"], "hour", start=0, end=3600, condense=True) == {
        0: [1, 2, 3], 3600: [5, 6]}
    assert ts.series(["a", "b"], "hour", start=0, end=3600, collapse=True) == {0: [1, 2, 3, 5, 6]}


def test_joined_names_reach_a_condense_callable_merged_per_resolution_bucket(make_timeseries):
    ts = make_timeseries("gauge", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert(INTERLEAVED)
    assert ts.get(["a", "b"], "hour", timestamp=0, condense=dict) == {0: {60: 1, 120: 2, 180: 3}}


def test_join_rows_gets_the_rows_of_each_resolution_bucket_before_condensing(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [5], "b": [2]}, 120: {"b": [1]}})
    seen = []

    def largest(rows):
        seen.append(list(rows))
        return max(rows)
    assert ts.get(["a", "b"], "hour", timestamp=0, join_rows=largest) == {60: 5, 120: 1}
    assert seen == [[5, 2], [1]]  # the names holding each resolution bucket
    assert ts.get(["a", "b"], "hour", timestamp=0, join_rows=largest, condense=True) == {0: 6}


# -- the rate transform ------------------------------------------------------------------
@pytest.mark.parametrize("type_, rate, empty", [
    ("series", 4 / 60, 0),                                  # values per second
    ("histogram", {1: 2 / 60, 3: 1 / 60, 6: 1 / 60}, {}),   # occurrences of each per second
    ("count", 11 / 60, 0),                                  # the total per second
    ("gauge", 6, None),                                     # a gauge's value, unchanged
    ("set", 3 / 60, 0),                                     # members per second
])
def test_rate_transform_divides_a_bucket_by_its_duration(make_timeseries, type_, rate, empty):
    ts = make_timeseries(type_, MINUTE, **NUM)
    ts.bulk_insert(OrderedDict((i, {"a": [v]}) for i, v in enumerate([1, 1, 3, 6])))
    assert ts.get("a", "minute", timestamp=0, transform="rate") == {0: rate}
    assert ts.series("a", "minute", start=0, end=60, transform="rate") == {0: rate, 60: empty}
    assert ts.get("a", "minute", timestamp=0, transform=["rate", "count"])[0]["rate"] == rate


def test_rate_uses_the_duration_of_what_it_is_given(make_timeseries):
    ts = make_timeseries("count", HOUR_BY_MINUTE, **NUM)
    ts.bulk_insert({60: {"a": [60]}, 3600: {"a": [36]}})
    assert ts.get("a", "hour", timestamp=0, transform="rate") == {60: 1.0}
    assert ts.get("a", "hour", timestamp=0, transform="rate", condense=True) == {0: 60 / 3600}
    assert ts.series("a", "hour", start=0, end=3600, transform="rate", collapse=True) == {
        0: 96 / 7200}


# -- an empty gauge bucket and read_func -------------------------------------------------
def _zero_for_nothing(value):
    """The original's gauge tests' read_func: no data (``''``) reads as 0."""
    return int(float(value or 0))


def test_an_empty_gauge_bucket_reads_as_read_func_of_the_empty_string(make_timeseries):
    ts = make_timeseries("gauge", MINUTE, read_func=_zero_for_nothing)
    ts.insert("a", 5, timestamp=60)
    assert ts.get("a", "minute", timestamp=0) == {0: 0}
    assert ts.get("never", "minute", timestamp=0) == {0: 0}
    assert ts.series("a", "minute", start=0, end=120) == {0: 0, 60: 5, 120: 0}
    assert list(ts.iterate("a", "minute", start=0, end=120)) == [(60, 5)]  # data from 60 on
    assert ts.series_many(["a", "never"], "minute", start=60, end=120) == [
        {60: 5, 120: 0}, {60: 0, 120: 0}]


def test_an_empty_gauge_bucket_is_still_nothing_to_merge(make_timeseries):
    """Merging skips empty buckets whatever they read as: the original's joins and
    condensing kept the last value *written*."""
    ts = make_timeseries("gauge", MINUTE, read_func=_zero_for_nothing)
    ts.insert("a", 5, timestamp=60)
    assert ts.series("a", "minute", start=0, end=120, collapse=True) == {0: 5}
    assert ts.get(["a", "never"], "minute", timestamp=60) == {60: 5}
    assert ts.get(["a", "never"], "minute", timestamp=0) == {0: None}


def test_an_empty_gauge_bucket_is_none_when_read_func_cannot_read_the_empty_string(
        make_timeseries):
    ts = make_timeseries("gauge", MINUTE, read_func=float)     # float('') raises
    assert ts.get("a", "minute", timestamp=0) == {0: None}
    custom = make_timeseries("gauge", MINUTE, read_func=_zero_for_nothing)
    # a custom process_row replaces read_func: empty buckets keep the type's empty form
    assert custom.get("a", "minute", timestamp=0, process_row=_zero_for_nothing) == {0: None}


def test_an_empty_gauge_resolution_bucket_is_absent_and_condenses_to_none(make_timeseries):
    ts = make_timeseries("gauge", HOUR_BY_MINUTE, read_func=_zero_for_nothing)
    assert ts.get("a", "hour", timestamp=0) == {}
    assert ts.get("a", "hour", timestamp=0, condense=True) == {0: None}


# -- prefix= ---------------------------------------------------------------------------
def test_prefix_keeps_timeseries_sharing_a_database_apart(make_timeseries):
    if make_timeseries.backend in ("mongo", "cassandra"):
        pytest.skip("prefix is an option of the SQL and Redis engines")
    token = make_timeseries.token
    shared = {"table_name": token + "_count"} if make_timeseries.is_sql else {}
    one = make_timeseries("count", MINUTE, prefix=token + "one", **shared, **NUM)
    two = make_timeseries("count", MINUTE, prefix=token + "two:", **shared, **NUM)
    one.insert("x", 1, timestamp=0)
    two.insert("x", 5, timestamp=0)
    two.insert("y", 1, timestamp=0)
    assert one.get("x", "minute", timestamp=0) == {0: 1}
    assert two.get("x", "minute", timestamp=0) == {0: 5}
    assert (one.list(), two.list()) == (["x"], ["x", "y"])
    one.delete_all()
    assert (one.list(), two.list()) == ([], ["x", "y"])
    if make_timeseries.is_sql:  # the prefix names the table, a trailing ':' left out
        assert (one.table.name, two.table.name) == (
            "%sone_%s_count" % (token, token), "%stwo_%s_count" % (token, token))
