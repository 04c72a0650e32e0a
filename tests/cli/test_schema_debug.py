"""schema_debug: the tree of schemas and aggregates printed for stat names and Carbon lines."""
import itertools
import os
import re

import pytest

from tests.cli.tool_runner import one_line_error, tool, write_config
from tests.conftest import ROOT

CONFIG = r"""
SCHEMAS = {
    'counts': {
        'type': 'count', 'host': 'sqlite:///%(db)s', 'match': r'^app\.',
        'intervals': {'minute': {'step': 60}, 'hour': {'step': '1h', 'resolution': 60, 'steps': 24}},
    },
    'firsts': {
        'type': 'gauge', 'host': 'postgresql://torus:hunter2@127.0.0.1:5432/test',
        'match': [r'^nomatch', r'^app\.web1\.'], 'table_name': 'firsts',
        'transform': lambda s, v: (s.replace('web1', 'first'), v * 10),
        'intervals': {'minute': {'step': 60}},
    },
    'totals': {
        'type': 'count', 'host': 'sqlite:///%(db)s', 'match': r'^total\.', 'rolling': -2,
        'transform': lambda s, v: (None, None) if v < 0 else (s, v),
        'intervals': {'day': {'step': 'daily'}},
    },
}
AGGREGATES = [('app.all.<metric>', 'app.*.<metric>'), ('total.<metric>', 'app.all.<metric>')]
"""

TREE = """\
app.web1.hits, value 5, at 1700000000 (2023-11-14 22:13:20 UTC)
  schema counts (count) matched by '^app\\.'
    storage: sqlite:///DB
    intervals: minute (step 60), hour (step 1h, resolution 60, steps 24)
    stores app.web1.hits = 5
  schema firsts (gauge) matched by '^app\\.web1\\.'
    storage: postgresql://torus:***@127.0.0.1:5432/test (table_name firsts)
    intervals: minute (step 60)
    stores app.first.hits = 50
  aggregate app.all.hits from rule ('app.all.<metric>', 'app.*.<metric>')
    schema counts (count) matched by '^app\\.'
      storage: sqlite:///DB
      intervals: minute (step 60), hour (step 1h, resolution 60, steps 24)
      stores app.all.hits = 5
    aggregate total.hits from rule ('total.<metric>', 'app.all.<metric>')
      schema totals (count) matched by '^total\\.'
        storage: sqlite:///DB
        intervals: day (step daily); rolling -2
        stores total.hits = 5
"""


@pytest.fixture
def config(tmp_path):
    db = str(tmp_path / "debug.db")
    path = write_config(tmp_path / "debug.py", CONFIG % {"db": db})
    return path, db


def test_help():
    result = tool("schema_debug", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: schema_debug [-h] [--config CONFIG] strings [strings ...]")
    text = " ".join(result.stdout.split())
    assert "Debugging tool for schemas" in text
    assert "One or more input strings to test against the schemas" in text
    assert "--config CONFIG Configuration file to load. Can be called multiple times" in text


def test_carbon_line_through_schemas_and_chained_aggregates(config):
    path, db = config
    result = tool("schema_debug", "--config", path, "app.web1.hits 5 1700000000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.replace(db, "DB") == TREE
    assert "hunter2" not in result.stdout
    assert result.stderr == ""
    assert not os.path.exists(db)  # nothing written, no storage contacted


def test_transform_skip_failure_and_bare_names(config):
    path, _ = config
    result = tool("schema_debug", "--config", path, "app.web1.hits -3", "app.web1.hits", "app.web2.x 1.5")
    assert result.returncode == 0, result.stderr
    first, bare, other = result.stdout.split("\n\n")
    assert "stores app.first.hits = -30" in first
    assert "        stores total.hits" not in first
    assert "        transform skips it: not stored" in first
    assert bare.splitlines()[0] == "app.web1.hits"
    assert "    stores app.web1.hits\n" in bare
    assert re.search(r"    transform needs a value to run \(give 'name value'\): TypeError", bare)
    assert "firsts" not in other  # web2 is not matched by the firsts patterns
    assert "    stores app.web2.x = 1.5" in other
    assert "      stores total.x = 1.5" in other


def test_text_value_rejected_by_write_func(config):
    path, _ = config
    result = tool("schema_debug", "--config", path, "app.web2.x lots")
    assert result.returncode == 0
    assert ("    write_func rejects 'lots', point dropped: ValueError: could not convert string "
            "to float: 'lots'") in result.stdout


def test_no_match_and_looping_aggregates(tmp_path):
    path = write_config(tmp_path / "loop.py", r"""
        SCHEMAS = {'bs': {'type': 'count', 'host': 'sqlite:///:memory:', 'match': r'^b\.',
                          'intervals': {'m': {'step': 60}}}}
        AGGREGATES = [('a.<x>', 'b.<x>'), ('b.<x>', 'a.<x>')]
    """)
    result = tool("schema_debug", "--config", path, "nothing.here 1", "b.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "nothing.here, value 1\n"
        "  no schema matches\n"
        "\n"
        "b.1\n"
        "  schema bs (count) matched by '^b\\.'\n"
        "    storage: sqlite:///:memory:\n"
        "    intervals: m (step 60)\n"
        "    stores b.1\n"
        "  aggregate a.1 from rule ('a.<x>', 'b.<x>')\n"
        "    no schema matches\n"
        "    aggregate b.1 from rule ('b.<x>', 'a.<x>')\n"
        "      already shown above (rules loop back to it)\n")


def test_statsd_example_routes_each_namespace_to_one_schema(tmp_path):
    """examples/statsd.py: legacy and new statsd names each land in exactly one schema."""
    expected = {
        "stats_counts.api.hits": "counts",                     # legacy counter count
        "stats.api.hits": "rates",                             # legacy counter rate
        "stats.counters.api.hits.count": "counts",             # new namespace
        "stats.counters.api.hits.rate": "rates",
        "stats.timers.api.latency.mean_90": "timers",
        "stats.timers.api.latency.count_ps": "timers",
        "stats.timers.api.latency.count": "counts",
        "stats.timers.api.latency.sum_squares_99_9": "counts",
        "stats.timers.api.latency.histogram.bin_0_5": "counts",
        "stats.gauges.api.queue": "gauges",
        "stats.sets.api.users.count": "sets",
        "statsd.numStats": "statsd",                           # legacy statsd metadata
        "stats.statsd.numStats": "statsd",                     # new namespace metadata
        "stats.statsd.graphiteStats.last_flush": "statsd",
        "stats_counts.statsd.packets_received": "counts",
    }
    example = os.path.join(ROOT, "examples", "statsd.py")
    result = tool("schema_debug", "--config", example, *("%s 1" % stat for stat in expected),
                  env={"TORUS_STORAGE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    trees = result.stdout.split("\n\n")
    assert len(trees) == len(expected)
    for tree, (stat, schema) in zip(trees, expected.items()):
        assert tree.splitlines()[0] == "%s, value 1" % stat
        matched = re.findall(r"^  schema (\S+) ", tree, re.M)
        assert matched == [schema], tree
        assert "storage: sqlite:///%s/%s.db" % (tmp_path, schema) in tree


def test_bad_input_is_reported_and_the_rest_still_shown(config):
    path, _ = config
    result = tool("schema_debug", "--config", path, "a b c d", "app.x 1 then", "app.web2.x 1")
    assert result.returncode == 1
    assert result.stdout.startswith("app.web2.x, value 1\n")
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert "neither a stat name nor a Carbon line" in errors[0]
    assert "timestamp 'then' is not a number" in errors[1]


def test_configuration_that_fails_to_load_exits_1(tmp_path):
    broken = write_config(tmp_path / "broken.py", "SCHEMAS = {'x': {'type': 'count'}}\n")
    one_line_error(tool("schema_debug", "--config", broken, "a"), 1, "error:", "'x'")
    one_line_error(tool("schema_debug", "--config", str(tmp_path / "none.py"), "a"), 1,
                   "none.py does not exist")
    crash = write_config(tmp_path / "crash.py", "raise RuntimeError('boom')\n")
    one_line_error(tool("schema_debug", "--config", crash, "a"), 1, "RuntimeError: boom")


def test_bad_arguments_exit_2(config):
    path, _ = config
    one_line_error(tool("schema_debug", "--config", path), 2,
                   "schema_debug: error: the following arguments are required: strings")
    one_line_error(tool("schema_debug", "a.b"), 2, "no configuration file given")
    one_line_error(tool("schema_debug", "--bogus", "a"), 2, "unrecognized arguments: --bogus")


def test_tagged_names_shown_as_karbon_stores_them(config):
    """A tagged stat is shown (and matched) in canonical form, whatever the order of its tags."""
    path, _db = config
    trees = [tool("schema_debug", "--config", path, spelling).stdout
             for spelling in ("app.web1.hits;z=1;b=2", "app.web1.hits;b=2;z=1")]
    assert trees[0] == trees[1]
    assert trees[0].splitlines()[0] == "app.web1.hits;b=2;z=1"
    assert "stores app.web1.hits;b=2;z=1" in trees[0]


ROUTING = r"""
_M = {'m': {'step': 60}}
SCHEMAS = {
    'apps': {'type': 'count', 'host': 'sqlite://', 'match': r'^app\.', 'intervals': _M},
    'web1': {'type': 'gauge', 'host': 'sqlite://', 'match': [r'^nomatch', r'^app\.web1\.'],
             'intervals': _M},
    'totals': {'type': 'count', 'host': 'sqlite://', 'match': r'^total\.', 'intervals': _M},
    'hits': {'type': 'count', 'host': 'sqlite://', 'match': r'\.hits$', 'intervals': _M},
    'bs': {'type': 'count', 'host': 'sqlite://', 'match': r'^b\.', 'intervals': _M},
}
AGGREGATES = [
    ('app.all.<m>', 'app.*.<m>'), ('total.<m>', 'app.all.<m>'), ('app.all.<m>', 'total.<m>'),
    ('a.<x>', 'b.<x>'), ('b.<x>', 'a.<x>'), ('total.<x>.<y>', 'a.<x>.<y>'),
    ('app.<h>.sum', 'app.<h>.<m>'),
]
"""


def _printed_routes(tree):
    """``[(schema, stored name)]`` read back from one tree schema_debug printed."""
    lines = tree.splitlines()
    names = {1: lines[0].split(",")[0]}
    out = []
    for line in lines[1:]:
        depth = (len(line) - len(line.lstrip(" "))) // 2
        text = line.strip()
        aggregate = re.match(r"aggregate (\S+) from rule", text)
        if aggregate:
            names[depth + 1] = aggregate.group(1)
        schema = re.match(r"schema (\S+) \(", text)
        if schema:
            out.append((schema.group(1), names[depth]))
    return out


def test_schema_debug_shows_exactly_where_karbon_routes(tmp_path):
    """For many names (overlapping schemas, chained and looping aggregates, names nothing
    matches) the tree printed names the same (schema, name) pairs, in the same order, as
    karbon's routing, and the same set as the batches karbon's planner makes."""
    from torus.config import Configuration
    from torus.processing import plan

    path = write_config(tmp_path / "routing.py", ROUTING)
    names = [".".join(part for part in parts if part) for parts in itertools.product(
        ["app", "total", "a", "b", "x"], ["web1", "web2", "all", "1"], ["hits", "", "cpu.hits"])]
    names += ["nothing.here", "hits", "app", "a.1.hits.sum"]
    result = tool("schema_debug", "--config", path, *names)
    assert result.returncode == 0, result.stderr
    trees = result.stdout.split("\n\n")
    assert len(trees) == len(names)
    config = Configuration([path])
    routed = 0
    for name, tree in zip(names, trees):
        karbon = [(route.schema.name, route.stat) for route in config.route(name)]
        assert _printed_routes(tree) == karbon, (name, tree)
        batches, stats = plan(config, [(name, 1, 60)])
        planned = {(schema, stat) for schema, batch in batches.items() for stat in batch.inserts[60]}
        assert planned == set(karbon)
        assert stats.unmatched == (0 if karbon else 1)
        routed += bool(karbon)
    assert 0 < routed < len(names)  # both kinds of names were tried
    assert any("already shown above" in tree for tree in trees)
