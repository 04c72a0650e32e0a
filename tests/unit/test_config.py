"""Configuration modules: loading, merging, validation, routing, atomic reload."""
import textwrap

import pytest

from torus.config import ConfigHolder, Configuration
from torus.errors import ConfigError

BASE = """
SCHEMAS = {
    'counts': {
        'type': 'count', 'host': 'sqlite:///:memory:',
        'match': ['^stats_counts\\\\.'],
        'intervals': {'minute': {'step': 60}},
    },
    'timers': {
        'type': 'histogram', 'host': 'sqlite:///:memory:',
        'match': 'timers', 'write_func': lambda v: round(long_or_float(v), 1),
        'intervals': {'minute': {'step': 60}},
    },
}
AGGREGATES = [('stats_counts.all.<metric>', 'stats_counts.*.<metric>')]
TRANSFORMS = {'size': lambda row: len(row)}
MACROS = {'unique': {'transform': 'size'}}
DEBUG = 1
"""


@pytest.fixture
def write(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


def test_load_and_merge(write):
    first = write("a.py", BASE)
    second = write("b.py", """
        SCHEMAS = {'gauges': {'type': 'gauge', 'host': 'sqlite:///:memory:', 'match': 'gauges',
                              'intervals': {'hour': {'step': '1h'}}}}
        DEBUG = 2
        EXTRA = 'yes'
    """)
    config = Configuration([first, second])
    assert list(config.schemas) == ["counts", "timers", "gauges"]
    assert config.debug == 2
    assert config.transforms["size"]([1, 2]) == 2
    assert config.macros == {"unique": {"transform": "size"}}
    assert config.setting("EXTRA") == "yes"
    assert config.setting("MISSING", 7) == 7


def test_long_or_float_is_predefined(write):
    config = Configuration([write("a.py", BASE)])
    assert config.schemas["timers"].write_func("2.345") == 2.3


def test_routing_follows_aggregates_once(write):
    config = Configuration([write("a.py", BASE)])
    routes = config.route("stats_counts.web1.hits")
    assert [(r.schema.name, r.stat, len(r.via)) for r in routes] == [
        ("counts", "stats_counts.web1.hits", 0),
        ("counts", "stats_counts.all.hits", 1),
    ]
    assert config.route("nothing.here") == ()


def test_aggregate_loops_terminate(write):
    path = write("loop.py", """
        SCHEMAS = {'all': {'type': 'count', 'host': 'sqlite:///:memory:', 'match': '.',
                           'intervals': {'m': {'step': 60}}}}
        AGGREGATES = [('a.<x>', 'b.<x>'), ('b.<x>', 'a.<x>')]
    """)
    routes = Configuration([path]).route("a.1")
    assert sorted(r.stat for r in routes) == ["a.1", "b.1"]


@pytest.mark.parametrize("schema, message", [
    ("{'type': 'count', 'host': 'sqlite://', 'match': '(', 'intervals': {'m': {'step': 60}}}",
     "key 'match' has an invalid regular expression"),
    ("{'type': 'count', 'host': 'sqlite://', 'intervals': {'m': {'step': 60}}}", "key 'match' is required"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 'often'}}}",
     "step 'often' is not understood"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}, 'bogus': 1}",
     "bogus"),
    ("{'type': 'bag', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}}", "bag"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}, 'rolling': 'x'}",
     "key 'rolling'"),
    ("{'type': 'count', 'host': 'nosuch://x', 'match': 'x', 'intervals': {'m': {'step': 60}}}", "nosuch"),
])
def test_bad_schema_names_schema_and_key(write, schema, message):
    path = write("bad.py", "SCHEMAS = {'broken': %s}" % schema)
    with pytest.raises(ConfigError) as caught:
        Configuration([path])
    assert "bad.py" in str(caught.value)
    assert "'broken'" in str(caught.value)
    assert message in str(caught.value)


def test_syntax_error_and_missing_file(write, tmp_path):
    with pytest.raises(ConfigError, match="SyntaxError"):
        Configuration([write("bad.py", "SCHEMAS = {")])
    with pytest.raises(ConfigError, match="does not exist"):
        Configuration([str(tmp_path / "missing.py")])


def test_reload_swaps_atomically_and_keeps_old_on_failure(write, tmp_path):
    marker = tmp_path / "calls.txt"
    path = write("live.py", BASE + """
def on_load():
    open(%r, 'a').write('load\\n')
def on_reload():
    open(%r, 'a').write('reload\\n')
""" % (str(marker), str(marker)))
    holder = ConfigHolder([path])
    first = holder.current
    assert holder.reload() is True
    assert holder.current is not first
    assert marker.read_text().split() == ["load", "reload"]
    good = holder.current
    with open(path, "a") as handle:
        handle.write("\nSCHEMAS['x'] = {'type': 'count'}\n")
    assert holder.reload() is False
    assert holder.current is good
    assert list(holder.current.schemas) == ["counts", "timers"]


def test_a_missing_driver_is_a_configuration_error(monkeypatch):
    """An engine whose driver is not installed fails the load with the schema's name, not a
    traceback (the CLIs print ConfigError as one line)."""
    import sys

    from torus.schema import Schema
    monkeypatch.setitem(sys.modules, "pymongo", None)  # ``import pymongo`` raises ImportError
    with pytest.raises(ConfigError, match="schema 'm' .*needs pymongo"):
        Schema("m", {"type": "count", "host": "mongodb://localhost/x", "match": "x",
                     "intervals": {"m": {"step": 60}}})
