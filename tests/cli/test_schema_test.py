"""schema_test: generators pushed through the processing path, data stored, a summary printed."""
import re

import pytest

from tests.cli.tool_runner import one_line_error, tool, write_config
from tests.conftest import require
from torus.config import Configuration

CONFIG = r"""
import itertools
import random
_hosts = itertools.cycle(['web1', 'web2', 'web3'])
SCHEMAS = {
    'hits': {
        'type': 'count', 'host': %(host)r, %(where)s
        'match': r'^bench\.',
        'intervals': {'minute': {'step': 60}, 'day': {'step': 'daily', 'resolution': 3600}},
        'generator': lambda: ('bench.%%s.hits' %% next(_hosts), 1),
    },
    'latency': {
        'type': 'histogram', 'host': %(host)r, %(where2)s
        'match': r'^lat\.',
        'write_func': lambda v: round(v, 1),
        'intervals': {'minute': {'step': 60}},
        'generator': lambda: ('lat.api', random.uniform(0, 2)),
    },
}
AGGREGATES = [('bench.all.<metric>', 'bench.*.<metric>')]
"""


def sqlite_options(tmp_path):
    url = "sqlite:///%s" % (tmp_path / "bench.db")
    return {"host": url, "where": "", "where2": ""}


def redis_options(unique_name):
    url = require("redis")
    return {"host": url, "where": "'prefix': %r," % (unique_name + "h"),
            "where2": "'prefix': %r," % (unique_name + "l")}


def summary_rows(stdout):
    """{schema: (generated, stored, aggregates, errors)} from the summary table."""
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"^(\w+)\s+(count|histogram|gauge|set|series|)\s+(\d+)\s+(\d+)\s+(\d+)"
                         r"\s+\d+\s+(\d+)$", line)
        if match:
            rows[match.group(1)] = tuple(int(match.group(i)) for i in (3, 4, 5, 6))
    return rows


@pytest.mark.parametrize("engine", ["sqlite", "redis"])
def test_points_are_stored_and_summarised(engine, tmp_path, unique_name):
    options = sqlite_options(tmp_path) if engine == "sqlite" else redis_options(unique_name)
    path = write_config(tmp_path / "bench.py", CONFIG % options)
    config = Configuration([path])
    hits = config.schemas["hits"].timeseries
    latency = config.schemas["latency"].timeseries
    hits.insert("bench.old.hits", 5)  # --clear must remove it
    try:
        result = tool("schema_test", "--config", path, "--clear", "--duration", "2")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # not a terminal: no live progress
        assert result.stdout.startswith("cleared every stat of schemas hits, latency\n")
        assert re.search(r"^schema_test: 2\.\d s, \d+ points generated, \d+ points/s", result.stdout, re.M)
        rows = summary_rows(result.stdout)
        generated, stored, aggregates, errors = rows["hits"]
        assert generated > 0 and errors == 0
        assert stored == 2 * generated and aggregates == generated  # each point + its rollup
        assert rows["total"][0] == generated + rows["latency"][0]

        stats = hits.list()
        assert stats == ["schema_test.bench.all.hits", "schema_test.bench.web1.hits",
                         "schema_test.bench.web2.hits", "schema_test.bench.web3.hits"]
        per_stat = {stat: sum(hits.series(stat, "day", steps=2, condense=True).values()) for stat in stats}
        assert per_stat["schema_test.bench.all.hits"] == generated
        assert sum(per_stat.values()) == stored
        assert sum(sum(hits.series(s, "minute", steps=5).values()) for s in stats) == stored
        histogram = latency.series("schema_test.lat.api", "minute", steps=5, collapse=True)
        counts = list(histogram.values())[0]
        assert sum(counts.values()) == rows["latency"][1] == rows["latency"][0]
        assert all(round(value, 1) == value and 0 <= value <= 2 for value in counts)
    finally:
        hits.delete_all()
        latency.delete_all()


def test_failing_generator_and_values_are_counted(tmp_path):
    path = write_config(tmp_path / "bad.py", r"""
        import itertools
        _n = itertools.count()
        def _flaky():
            n = next(_n)
            if n % 2:
                raise RuntimeError('generator broke')
            return ('ok.%d' % (n % 4), 'oops' if n % 4 == 2 else 1)
        SCHEMAS = {'ok': {'type': 'count', 'host': 'sqlite:///DB', 'match': r'^ok\.',
                          'intervals': {'m': {'step': 60}}, 'generator': _flaky}}
    """.replace("DB", str(tmp_path / "bad.db")))
    result = tool("schema_test", "--config", path, "--duration", "0.5")
    assert result.returncode == 1
    rows = summary_rows(result.stdout)
    generated, stored, _, errors = rows["ok"]
    rejected = int(re.search(r"^(\d+) values rejected by a transform or write_func",
                             result.stdout, re.M).group(1))
    assert generated > 0 and stored > 0 and rejected > 0
    assert stored + rejected == generated and abs(stored - rejected) <= 1
    assert errors == generated  # as many failed calls as successful ones
    assert rows["total"][3] == errors + rejected
    assert "generator of schema ok: RuntimeError: generator broke" in result.stdout
    assert "could not convert string to float: 'oops'" in result.stdout
    config = Configuration([path])
    assert config.schemas["ok"].timeseries.list() == ["schema_test.ok.0"]


def test_help():
    result = tool("schema_test", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(
        "usage: schema_test [-h] [--config CONFIG] [--clear] [--duration DURATION]\n"
        "                   [--prefix PREFIX] [--clean]")
    text = " ".join(result.stdout.split())
    for fragment in ("Tool for performance testing of schemas", "--clear If true, clear all data",
                     "--duration DURATION Duration of the test in seconds. Defaults to 60 seconds.",
                     "--prefix PREFIX Store every generated stat (and its aggregates) under "
                     "this prefix, so the test never writes into real stats. Defaults to "
                     "'schema_test.'",
                     "--clean After the test, delete every stat whose name starts with the prefix"):
        assert fragment in text


SEPARATE = r"""
SCHEMAS = {
    'hits': {'type': 'count', 'host': %(host)r, %(where)s 'match': r'^bench\.',
             'intervals': {'minute': {'step': 60}},
             'generator': lambda: ('bench.web1.hits;z=1;b=2', 1)},
}
AGGREGATES = [('bench.all.<metric>', 'bench.*.<metric>')]
"""


@pytest.mark.parametrize("engine", ["sqlite", "redis"])
def test_generated_stats_never_touch_real_ones(engine, tmp_path, unique_name):
    """By default the points go under 'schema_test.' (tagged names canonical, as karbon stores
    them) and --clean removes them; the real stat of the same name is left alone."""
    options = sqlite_options(tmp_path) if engine == "sqlite" else redis_options(unique_name)
    path = write_config(tmp_path / "separate.py", SEPARATE % options)
    hits = Configuration([path]).schemas["hits"].timeseries
    hits.insert("bench.web1.hits;b=2;z=1", 5, timestamp=1700000000)  # real data
    try:
        result = tool("schema_test", "--config", path, "--duration", "0.3")
        assert result.returncode == 0, result.stdout + result.stderr
        assert hits.list() == ["bench.web1.hits;b=2;z=1", "schema_test.bench.all.hits;b=2;z=1",
                               "schema_test.bench.web1.hits;b=2;z=1"]
        assert sum(hits.series("bench.web1.hits;b=2;z=1", "minute", start=1700000000,
                               end=1700000000).values()) == 5
        result = tool("schema_test", "--config", path, "--duration", "0.3", "--clean")
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"^removed 2 stats under 'schema_test\.' from schema hits$",
                         result.stdout, re.M), result.stdout
        assert hits.list() == ["bench.web1.hits;b=2;z=1"]
        result = tool("schema_test", "--config", path, "--duration", "0.3", "--prefix", "")
        assert result.returncode == 0, result.stdout + result.stderr
        assert hits.list() == ["bench.all.hits;b=2;z=1", "bench.web1.hits;b=2;z=1"]
    finally:
        hits.delete_all()


def test_clean_needs_a_prefix(tmp_path):
    path = write_config(tmp_path / "separate.py", SEPARATE % sqlite_options(tmp_path))
    one_line_error(tool("schema_test", "--config", path, "--clean", "--prefix", ""), 2,
                   "--clean needs a --prefix: it would delete real stats")


def test_errors(tmp_path):
    one_line_error(tool("schema_test", "--duration", "1"), 2, "no configuration file given")
    one_line_error(tool("schema_test", "--config", "x.py", "--duration", "soon"), 2,
                   "schema_test: error: argument --duration: 'soon' is not a positive number of seconds")
    one_line_error(tool("schema_test", "--config", "x.py", "--duration", "-1"), 2, "positive")
    one_line_error(tool("schema_test", "--config", str(tmp_path / "x.py")), 2, "x.py does not exist")
    quiet = write_config(tmp_path / "quiet.py", """
        SCHEMAS = {'q': {'type': 'count', 'host': 'sqlite:///:memory:', 'match': 'q',
                         'intervals': {'m': {'step': 60}}}}
    """)
    one_line_error(tool("schema_test", "--config", quiet, "--duration", "1"), 2,
                   "defines a generator: nothing to test")


def test_unreachable_storage_counts_errors_and_goes_on(tmp_path):
    pytest.importorskip("kairos.backends.redis_store", reason="the Redis engine is not built yet")
    path = write_config(tmp_path / "down.py", r"""
        SCHEMAS = {
            'up': {'type': 'count', 'host': 'sqlite:///DB', 'match': r'^up\.',
                   'intervals': {'m': {'step': 60}}, 'generator': lambda: ('up.x', 1)},
            'down': {'type': 'count', 'host': 'redis://127.0.0.1:1/0', 'match': r'^down\.',
                     'intervals': {'m': {'step': 60}}, 'generator': lambda: ('down.x', 1)},
        }
    """.replace("DB", str(tmp_path / "up.db")))
    result = tool("schema_test", "--config", path, "--duration", "0.5")
    assert result.returncode == 1
    rows = summary_rows(result.stdout)
    assert rows["up"][1] == rows["up"][0] > 0 and rows["up"][3] == 0
    assert rows["down"][1] == 0 and rows["down"][3] == rows["down"][0] > 0
    assert re.search(r"^  schema down: .*127\.0\.0\.1:1", result.stdout, re.M)


def test_live_progress_on_a_terminal(tmp_path):
    """With stderr on a terminal a progress line is redrawn; the summary still follows."""
    pty = pytest.importorskip("pty")
    import fcntl
    import os
    import struct
    import sys
    import termios
    from tests.conftest import ROOT

    path = write_config(tmp_path / "tty.py", r"""
        SCHEMAS = {'t': {'type': 'count', 'host': 'sqlite:///DB', 'match': r'^t\.',
                         'intervals': {'m': {'step': 60}}, 'generator': lambda: ('t.x', 1)}}
    """.replace("DB", str(tmp_path / "tty.db")))
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal 100 columns wide
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execv(sys.executable, [sys.executable, os.path.join(ROOT, "bin", "schema_test"),
                                  "--config", path, "--duration", "1.5"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    progress, _, summary = text.partition("schema_test: ")
    assert "\r" in progress and re.search(r"\d+ points, \d+/s \| t \d+", progress)
    assert re.search(r"^t\s+count\s+\d+", summary, re.M)


@pytest.mark.parametrize("example", ["statsd.py", "redis.py"])
def test_example_configurations(example, tmp_path, unique_name, monkeypatch):
    """The quick-start configurations: every generator works and every schema gets data."""
    import os
    from tests.conftest import ROOT

    env = {"TORUS_STORAGE_DIR": str(tmp_path)}
    if example == "redis.py":
        pytest.importorskip("kairos.backends.redis_store", reason="the Redis engine is not built yet")
        env.update(TORUS_REDIS_URL=require("redis"), TORUS_REDIS_PREFIX=unique_name)
    path = os.path.join(ROOT, "examples", example)
    for key, value in env.items():  # the configuration reads them when this process loads it too
        monkeypatch.setenv(key, value)
    try:
        config = Configuration([path])
        result = tool("schema_test", "--config", path, "--duration", "1", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        rows = summary_rows(result.stdout)
        assert set(rows) == set(config.schemas) | {"total"}
        for name, schema in config.schemas.items():
            generated, stored, aggregates, errors = rows[name]
            assert generated > 0 and stored >= generated and errors == 0, name
            stats = schema.timeseries.list()
            assert stats and all(".bench." in stat for stat in stats), stats
            if aggregates:
                assert any(".all_hosts." in stat for stat in stats), name
    finally:
        for schema in Configuration([path]).schemas.values():
            schema.timeseries.delete_all()
