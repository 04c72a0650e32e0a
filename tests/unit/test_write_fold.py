"""The write path's fold of gauges and counts (``Timeseries._aggregate``) must give exactly
what the general path, ``kind.aggregate(_bucket_writes(...))``, gives: same buckets, same
values, same refusals."""
import pytest

from kairos import InvalidValue, Timeseries

INTERVALS = {"10s": {"step": 10, "steps": 6}, "1m": {"step": 60, "resolution": 10}}
NOW = 1_700_000_400


def make(type_):
    return Timeseries("sqlite:///:memory:", type=type_, intervals=INTERVALS)


@pytest.mark.parametrize("type_", ["gauge", "count"])
@pytest.mark.parametrize("copies", [0, 2, -1])
def test_fold_matches_the_general_path(type_, copies):
    ts = make(type_)
    inserts = {NOW - 30: {"a": [1, 2.5, 3], "b": [4.0]}, NOW: {"a": [5], "c": [7]},
               None: {"b": [6.25]}}
    folded = ts._aggregate(inserts, copies, NOW)
    general = ts.kind.aggregate(ts._bucket_writes(inserts, copies, NOW))
    assert folded == general
    assert [type(v) for v in folded.values()] == [type(v) for v in general.values()]


def test_counts_refuse_what_is_not_a_number():
    ts = make("count")
    ts._check_value = None  # the fold's own check, as on an engine coercing nothing
    with pytest.raises(InvalidValue, match="count increment"):
        ts._aggregate({NOW: {"a": ["x"]}}, 0, NOW)


def test_float_column_skips_the_coercion_of_floats_only():
    ts = make("gauge")
    assert ts._unchecked_types == (float,)
    with pytest.raises(InvalidValue, match="boolean"):  # an int subclass still goes through it
        ts._aggregate({NOW: {"a": [True]}}, 0, NOW)
    assert set(ts._aggregate({NOW: {"a": [3]}}, 0, NOW).values()) == {3.0}
