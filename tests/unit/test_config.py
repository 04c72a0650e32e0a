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
        MAX_POINTS = 5000
    """)
    config = Configuration([first, second])
    assert list(config.schemas) == ["counts", "timers", "gauges"]
    assert config.debug == 2
    assert config.transforms["size"]([1, 2]) == 2
    assert config.macros == {"unique": {"transform": "size"}}
    assert config.setting("MAX_POINTS") == 5000
    assert config.setting("CORS_ORIGIN", 7) == 7


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
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}, 'reduce': 'avg'}",
     "key 'reduce' must be one of mean, count, min, max, sum or a callable"),
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


# -- typos are visible: unknown settings and keys fail the load, with the close match ---------
@pytest.mark.parametrize("line,message", [
    ("SCHEMA = {}", "unknown setting 'SCHEMA' (did you mean 'SCHEMAS'?)"),
    ("MAX_POINT = 5", "unknown setting 'MAX_POINT' (did you mean 'MAX_POINTS'?)"),
    ("CORS_ORIGN = None", "unknown setting 'CORS_ORIGN' (did you mean 'CORS_ORIGIN'?)"),
    ("AGGREGATE = []", "unknown setting 'AGGREGATE' (did you mean 'AGGREGATES'?)"),
    ("STORAGE_DIR = '/tmp'", "unknown setting 'STORAGE_DIR'"),
])
def test_unknown_settings_fail_the_load(write, line, message):
    path = write("typo.py", BASE + line + "\n")
    with pytest.raises(ConfigError) as caught:
        Configuration([path])
    text = str(caught.value)
    assert "typo.py" in text and message in text
    assert "lower case or with a leading underscore" in text


def test_several_unknown_settings_are_all_named(write):
    with pytest.raises(ConfigError, match="unknown settings 'MACRO' \\(did you mean 'MACROS'\\?\\), "
                                          "'TRANSFORM' \\(did you mean 'TRANSFORMS'\\?\\)"):
        Configuration([write("typos.py", BASE + "TRANSFORM = {}\nMACRO = {}\n")])


def test_lower_case_and_private_names_are_free(write):
    path = write("mine.py", BASE + "storage_dir = '/tmp'\n_INTERVALS = {}\n_Helper = 1\n"
                 "import os\nfrom collections import OrderedDict\n")
    assert list(Configuration([path]).schemas) == ["counts", "timers"]


@pytest.mark.parametrize("schema,message", [
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervalls': {'m': {'step': 60}}}",
     "schema 'broken' has an unknown key 'intervalls' (did you mean 'intervals'?)"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}, "
     "'roling': 2}", "unknown key 'roling' (did you mean 'rolling'?)"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60}}, "
     "'tabel_name': 't'}", "unknown key 'tabel_name' (did you mean 'table_name'?)"),
    ("{'type': 'count', 'host': 'redis://localhost/0', 'match': 'x', "
     "'intervals': {'m': {'step': 60}}, 'prefx': 'p'}", "unknown key 'prefx' (did you mean 'prefix'?)"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'stpe': 60}}}",
     "interval 'm' has an unknown key 'stpe' (did you mean 'step'?)"),
    ("{'type': 'count', 'host': 'sqlite://', 'match': 'x', 'intervals': {'m': {'step': 60, "
     "'resolutoin': 1}}}", "unknown key 'resolutoin' (did you mean 'resolution'?)"),
])
def test_misspelt_schema_keys_suggest_the_close_match(write, schema, message):
    path = write("bad.py", "SCHEMAS = {'broken': %s}" % schema)
    with pytest.raises(ConfigError) as caught:
        Configuration([path])
    assert "bad.py" in str(caught.value) and message in str(caught.value)


def test_every_setting_read_is_registered_and_documented():
    """Every ``setting("NAME"`` in the code is a known setting, documented in docs/configuration.rst."""
    import os
    import re

    from tests.conftest import ROOT
    from torus.settings import SETTINGS
    used = set()
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "torus")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    used.update(re.findall(r"""setting\(\s*["']([A-Z_0-9]+)["']""", handle.read()))
                    handle.seek(0)
                    used.update(re.findall(r"""_SETTING, \w+ = ["']([A-Z_0-9]+)["']""", handle.read()))
    assert used and used <= set(SETTINGS), used - set(SETTINGS)
    with open(os.path.join(ROOT, "docs", "configuration.rst"), encoding="utf-8") as handle:
        reference = handle.read()
    for name in SETTINGS:
        assert "``%s``" % name in reference, name


@pytest.mark.parametrize("line", ["MAX_POINTS = 'abc'", "MAX_POINTS = -1", "MAX_POINTS = 0",
                                  "MAX_POINTS = True", "MAX_STATS = 2.5", "MAX_STATS = None"])
def test_count_settings_must_be_positive_whole_numbers_at_load(write, line):
    with pytest.raises(ConfigError, match="must be a positive whole number"):
        Configuration([write("counts.py", BASE + line + "\n")])


def test_a_reload_closes_the_replaced_configuration_after_its_last_lease(write):
    from torus.config import ConfigHolder
    holder = ConfigHolder([write("a.py", BASE)])
    with holder.lease() as old:
        assert holder.reload()
        assert holder.current is not old
        series = [schema.timeseries for schema in old.schemas.values()]
        assert not any(ts.closed for ts in series)  # still in use
    assert all(ts.closed for ts in series)
    assert not any(schema.timeseries.closed for schema in holder.current.schemas.values())
    with holder.lease() as config:  # a lease always gets an open configuration
        assert config is holder.current and not config.leases.closed
    holder.close()
    assert all(schema.timeseries.closed for schema in holder.current.schemas.values())


def test_a_redis_cluster_schema_takes_every_redis_option():
    """The keys a schema accepts come from the engine's ``_setup`` signature: the cluster
    engine's named only ``shards``, so ``batch_ttl`` was refused as an unknown key."""
    from torus.schema import engine_options
    assert set(engine_options("redis+cluster://127.0.0.1:7000")) >= {
        "prefix", "client_config", "batch_ttl", "shards"}
