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
