"""AGGREGATES rules: wildcards, captures, validation."""
import pytest

from torus.aggregates import Aggregate, parse_aggregates, rollups
from torus.errors import ConfigError


def test_wildcard_component():
    rule = Aggregate("application.response_time", "application.*.response_time")
    assert rule.apply("application.web1.response_time") == "application.response_time"
    assert rule.apply("application.web1.db.response_time") is None
    assert rule.apply("application.response_time") is None


def test_capture_is_substituted():
    rule = Aggregate("application.<status_code>", "application.*.status.<status_code>")
    assert rule.apply("application.web1.status.404") == "application.404"
    assert rule.apply("application.web1.status") is None


def test_partial_wildcard_and_literal_dots():
    rule = Aggregate("hosts.all", "hosts.web*.load")
    assert rule.apply("hosts.web12.load") == "hosts.all"
    assert rule.apply("hosts.db1.load") is None
    assert rule.apply("hostsXweb1.load") is None  # a literal dot, not "any character"


def test_capture_names_with_dashes():
    rule = Aggregate("x.<a-b>", "y.<a-b>")
    assert rule.apply("y.z") == "x.z"


def test_rollup_using_unknown_capture_fails():
    with pytest.raises(ConfigError, match="<code>"):
        Aggregate("a.<code>", "a.*")


def test_parse_rejects_non_pairs():
    with pytest.raises(ConfigError, match="conf.py"):
        parse_aggregates([("only-one",)], "conf.py")
    with pytest.raises(ConfigError):
        parse_aggregates("a.b", "conf.py")


def test_rollups_skip_identity():
    rules = parse_aggregates([("a.b", "a.*"), ("a.total", "a.*")], "c")
    assert rollups("a.b", rules) == [("a.total", rules[1])]
