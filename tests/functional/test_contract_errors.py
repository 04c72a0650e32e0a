"""Backend contract, bad calls: each raises a KairosError naming the problem."""
import pytest

from kairos import Timeseries
from kairos.exceptions import ConfigError, KairosError, UnknownBackend, UnsupportedType

MINUTE = {"minute": {"step": 60}}


def test_unknown_type_is_not_implemented(make_timeseries):
    with pytest.raises(NotImplementedError, match="'tally'") as info:
        make_timeseries("tally", MINUTE)
    assert isinstance(info.value, UnsupportedType)


@pytest.mark.parametrize("intervals, fragment", [
    ({"minute": {"step": "60s"}}, "'60s' is not understood"),
    ({"minute": {"step": "fortnightly"}}, "'fortnightly' is not understood"),
    ({"minute": {"step": 60, "resolution": "1q"}}, "'1q' is not understood"),
    ({"minute": {"steps": 5}}, "needs a 'step'"),
    ({}, "intervals must be a non-empty dict"),
])
def test_bad_interval_configuration(make_timeseries, intervals, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_timeseries("count", intervals)


def test_missing_type(make_timeseries):
    with pytest.raises(ConfigError, match="needs a type"):
        make_timeseries(None, MINUTE)


def test_unknown_engine_option(make_timeseries):
    with pytest.raises(ConfigError, match="no_such_option"):
        make_timeseries("count", MINUTE, no_such_option=1)


def test_count_of_a_non_number(make_timeseries):
    ts = make_timeseries("count", MINUTE, read_func=float)
    with pytest.raises(ValueError, match="'abc'") as info:
        ts.insert("a", "abc", timestamp=0)
    assert isinstance(info.value, KairosError)
    assert ts.list() == []


@pytest.mark.parametrize("url", ["foo://bar", "ftp://example.com/x", "not a url", "http://x"])
def test_unknown_url_scheme_is_a_value_error(url):
    with pytest.raises(ValueError) as info:
        Timeseries(url, type="count", intervals=MINUTE)
    assert isinstance(info.value, UnknownBackend)
    assert url.split("://")[0] in str(info.value)


def test_unknown_client_object():
    with pytest.raises(UnknownBackend, match="object"):
        Timeseries(object(), type="count", intervals=MINUTE)
