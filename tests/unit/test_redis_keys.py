"""The Redis key scheme and value encoding (pure: no server needed)."""
from decimal import Decimal
from fractions import Fraction

import pytest

from kairos.backends.redis_keys import (KeyScheme, count_increment, encode_value, escape_name,
                                        glob_escape, normalize_prefix, parse_number, unescape_name)
from kairos.exceptions import InvalidValue
from kairos.intervals import parse_intervals

INTERVALS = parse_intervals({
    "minute": {"step": 60},
    "hour": {"step": 3600, "resolution": 60},
    "daily": {"step": "daily"},
    "month": {"step": "monthly", "resolution": "daily"},
})


@pytest.mark.parametrize("prefix, expected", [(None, ""), ("", ""), ("stats", "stats:"),
                                              ("stats:", "stats:"), ("a:b", "a:b:")])
def test_prefix_gets_one_colon(prefix, expected):
    assert normalize_prefix(prefix) == expected


def test_keys_are_readable():
    scheme = KeyScheme("stats", INTERVALS)
    assert scheme.key("hits.home", "minute", 29348160) == "stats:hits.home:minute:29348160"
    assert scheme.key("hits", "hour", 489136, 29348160) == "stats:hits:hour:489136:29348160"
    assert KeyScheme(None, INTERVALS).key("hits", "daily", 20260131) == "hits:daily:20260131"


@pytest.mark.parametrize("name", ["plain", "a:b", "100%", "%3A", "a%3Ab:c", "::", "é ü", "a*b?[c]"])
def test_names_escape_and_parse_back(name):
    scheme = KeyScheme("p", INTERVALS)
    assert unescape_name(escape_name(name)) == name
    assert ":" not in escape_name(name)
    assert scheme.parse(scheme.key(name, "minute", 5)) == (name, "minute", 5, None)
    assert scheme.parse(scheme.key(name, "hour", 0, 59).encode()) == (name, "hour", 0, 59)


@pytest.mark.parametrize("key", [
    "p:hits:minute",                 # too few parts
    "p:hits:minute:5:7",             # resolution part on an interval without one
    "p:hits:hour:0",                 # missing resolution part
    "p:hits:hour:0:60",              # resolution bucket outside its interval bucket
    "p:hits:week:5",                 # interval this timeseries does not have
    "p:hits:minute:05",              # not a number kairos writes
    "p:hits:minute:5.0",
    "p:hits:minute:x",
    "p:hits:daily:20260230",         # not a calendar day
    "p:hits:month:202602:20260301",  # day outside its month
    "p:a%3ab:minute:5",              # escapes are upper case
    "p:100%:minute:5",               # bare "%" is never written
    "pq:hits:minute:5",              # another prefix
    "hits:minute:5",
    "p:b:hits:minute:5",             # nested prefix "p:b:"
])
def test_foreign_keys_do_not_parse(key):
    assert KeyScheme("p", INTERVALS).parse(key) is None


def test_gregorian_keys_parse():
    scheme = KeyScheme("", INTERVALS)
    assert scheme.parse("hits:daily:20240229") == ("hits", "daily", 20240229, None)
    assert scheme.parse("hits:month:202402:20240229") == ("hits", "month", 202402, 20240229)
    assert scheme.parse(b"\xff:minute:5") is None


def test_patterns_escape_glob_characters():
    scheme = KeyScheme("p[1]", INTERVALS)
    assert scheme.all_pattern() == "p\\[1\\]:*"
    assert scheme.name_pattern("a*b?") == "p\\[1\\]:a\\*b\\?:*"
    assert glob_escape("a\\b") == "a\\\\b"


@pytest.mark.parametrize("value, stored", [
    (5, "5"), (-3, "-3"), (2.5, "2.5"), (0.1, "0.1"), (1e16, "1e+16"), (5.0, "5.0"),
    (Decimal("1.10"), "1.10"), (Fraction(1, 4), "0.25"), ("text", "text"), (b"raw", b"raw"),
])
def test_values_keep_their_precision(value, stored):
    assert encode_value(value) == stored


@pytest.mark.parametrize("value", [True, None, {"a": 1}, [1], object()])
def test_values_redis_cannot_hold_are_refused(value):
    with pytest.raises(InvalidValue):
        encode_value(value)


def test_count_increments():
    assert count_increment(7) == ("incrby", 7)
    assert count_increment(-2) == ("incrby", -2)
    assert count_increment(2.5) == ("incrbyfloat", "2.5")
    assert count_increment(Decimal("0.5")) == ("incrbyfloat", "0.5")
    # past 64 bits a count goes on as a float (INCRBY would refuse it), as Redis totals do
    assert count_increment(2 ** 63) == ("incrbyfloat", "9223372036854775808")  # exact digits
    for bad in (float("nan"), float("inf"), 10 ** 400, Decimal("NaN")):
        with pytest.raises(InvalidValue):
            count_increment(bad)


def test_counts_read_back_as_numbers():
    assert parse_number("5") == 5 and isinstance(parse_number("5"), int)
    assert parse_number(b"2.5") == 2.5
    assert parse_number("") == 0
    assert parse_number(3) == 3
