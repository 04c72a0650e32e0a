"""migrate: a known data set copied between engines and intervals, checked on both sides."""
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.cli.tool_runner import one_line_error, tool, write_config
from tests.conftest import ROOT, require
from torus.config import Configuration

T0 = 1709251200  # 2024-03-01T00:00:00Z
DAY = 86400
STATS = ["app.a", "app.b", "other.c"]
TYPES = ["histogram", "count", "gauge", "set", "series"]

CONFIG = r"""
_SRC, _DST, _BACK, _REDIS, _PREFIX = %(src)r, %(dst)r, %(back)r, %(redis)r, %(prefix)r
_SRC_INTERVALS = {'hour': {'step': 3600, 'resolution': 60}, 'day': {'step': 'daily'}}
_DST_INTERVALS = {'ten': {'step': 'daily', 'resolution': 600}, 'month': {'step': 'monthly'}}
SCHEMAS = {}
for kind in %(types)r:
    SCHEMAS['src_' + kind] = {'type': kind, 'host': _SRC, 'match': '^never$',
                              'intervals': _SRC_INTERVALS}
    SCHEMAS['dst_' + kind] = {'type': kind, 'host': _DST, 'match': '^never$',
                              'intervals': _DST_INTERVALS}
    SCHEMAS['back_' + kind] = {'type': kind, 'host': _BACK, 'match': '^never$',
                               'intervals': _DST_INTERVALS}
    if _REDIS:
        SCHEMAS['redis_' + kind] = {'type': kind, 'host': _REDIS, 'prefix': _PREFIX + kind,
                                    'match': '^never$', 'intervals': _DST_INTERVALS}
"""


def raw_points(stat):
    """Two days of points every 7 minutes, values 0..10, a different phase per stat."""
    index = STATS.index(stat)
    return [(T0 + k * 420 + index * 13, (k * 7 + index * 3) % 11) for k in range(2 * DAY // 420)]


def expected_buckets(kind, points, size=600):
    """What a destination bucketed by ``size`` seconds must hold for ``points``."""
    out = {}
    for ts, value in sorted(points):
        key = ts - ts % size
        if kind == "histogram":
            out.setdefault(key, Counter())[value] += 1
        elif kind == "count":
            out[key] = out.get(key, 0) + value
        elif kind == "gauge":
            out[key] = value
        elif kind == "set":
            out.setdefault(key, set()).add(value)
        else:
            out.setdefault(key, []).append(value)
    if kind == "count":
        out = {key: total for key, total in out.items() if total}
    return {key: dict(data) if kind == "histogram" else data for key, data in out.items()}


def utc(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def stored_buckets(series, stat, start=T0, end=T0 + 2 * DAY - 1):
    """{resolution timestamp: data} read back from a destination's 'ten' interval."""
    out = {}
    for row in series.series(stat, "ten", start=start, end=end).values():
        out.update(row)
    return out


class DataSet:
    def __init__(self, tmp_path, redis_url, prefix):
        self.path = write_config(tmp_path / "migrate.py", CONFIG % {
            "src": "sqlite:///%s" % (tmp_path / "src.db"), "dst": "sqlite:///%s" % (tmp_path / "dst.db"),
            "back": "sqlite:///%s" % (tmp_path / "back.db"), "redis": redis_url, "prefix": prefix,
            "types": TYPES})
        self.config = Configuration([self.path])

    def series(self, name):
        return self.config.schemas[name].timeseries

    def load(self, kind, stats=STATS):
        source = self.series("src_" + kind)
        inserts = {}
        for stat in stats:
            for ts, value in raw_points(stat):
                inserts.setdefault(ts, {})[stat] = [value]
        source.bulk_insert(inserts)

    def migrate(self, *args, **kwargs):
        return tool("migrate", "--config", self.path, *args, **kwargs)

    def cleanup(self):
        for name, schema in self.config.schemas.items():
            if name.startswith("redis_"):
                schema.timeseries.delete_all()


@pytest.fixture
def data(tmp_path, unique_name):
    made = DataSet(tmp_path, "", unique_name)
    yield made
    made.cleanup()


@pytest.fixture
def redis_data(tmp_path, unique_name):
    pytest.importorskip("kairos.backends.redis_store", reason="the Redis engine is not built yet")
    made = DataSet(tmp_path, require("redis"), unique_name)
    yield made
    made.cleanup()


@pytest.mark.parametrize("kind", TYPES)
def test_sqlite_to_sqlite_with_other_intervals(data, kind):
    data.load(kind)
    result = data.migrate("--source", "src_" + kind, "--destination", "dst_" + kind, "--interval", "hour")
    assert result.returncode == 0, result.stderr
    target = data.series("dst_" + kind)
    assert target.list() == sorted(STATS)
    for stat in STATS:
        points = raw_points(stat)
        assert stored_buckets(target, stat) == expected_buckets(kind, points)
        month = list(target.series(stat, "month", start=T0, end=T0, condense=True).values())[0]
        assert month == list(expected_buckets(kind, points, size=100 * DAY).values())[0]
    # every point has a source minute bucket of its own; a count of 0 is nothing to copy
    buckets = sum(1 for stat in STATS for _, value in raw_points(stat) if value or kind != "count")
    assert result.stdout.splitlines()[-1].startswith(
        "copied 3 of 3 stats, %d buckets, %d points from src_%s to dst_%s in "
        % (buckets, buckets, kind, kind))
    additive = kind in ("count", "histogram", "series")
    assert ("running the same migration twice doubles the data" in result.stderr) == additive


def test_gauges_and_sets_are_idempotent_counts_double(data):
    for kind in ("gauge", "set", "count"):
        data.load(kind, ["app.a"])
        for _ in range(2):
            result = data.migrate("--source", "src_" + kind, "--destination", "dst_" + kind,
                                  "--interval", "day")
            assert result.returncode == 0, result.stderr
    day_points = [p for p in raw_points("app.a")]
    # from the 'day' interval (no resolution) every value lands at the day's start
    at_midnight = [(ts - ts % DAY, value) for ts, value in day_points]
    gauge = stored_buckets(data.series("dst_gauge"), "app.a")
    assert gauge == {T0: [v for ts, v in day_points if ts < T0 + DAY][-1],
                     T0 + DAY: day_points[-1][1]}
    sets = stored_buckets(data.series("dst_set"), "app.a")
    assert sets == expected_buckets("set", at_midnight)
    counts = stored_buckets(data.series("dst_count"), "app.a")
    assert counts == {key: 2 * total for key, total in expected_buckets("count", at_midnight).items()}


def test_filters_stat_match_start_end(data):
    data.load("histogram")
    result = data.migrate("--source", "src_histogram", "--destination", "dst_histogram",
                          "--interval", "hour", "--stat", "app.a", "--stat", "other.c", "--stat", "app.a",
                          "--start", "2024-03-01T03:00:00Z", "--end", "2024-03-02T05:30:20Z", "--verbose")
    assert result.returncode == 0, result.stderr
    target = data.series("dst_histogram")
    assert target.list() == ["app.a", "other.c"]
    start, end = T0 + 3 * 3600, T0 + DAY + 5 * 3600 + 1800
    for stat in ("app.a", "other.c"):
        inside = [(ts, v) for ts, v in raw_points(stat) if start <= ts - ts % 60 <= end]
        assert inside and len(inside) < len(raw_points(stat))
        assert stored_buckets(target, stat) == expected_buckets("histogram", inside)
        assert re.search(r"^copied %s: %d buckets, %d points, 2024-03-01T03:0\d:00Z .. "
                         r"2024-03-02T05:\d\d:00Z$" % (re.escape(stat), len(inside), len(inside)),
                         result.stdout, re.M)
    assert "2024-03-01T03:00:00Z .. 2024-03-02T05:30:20Z" in result.stdout.splitlines()[0]

    result = data.migrate("--source", "src_histogram", "--destination", "back_histogram",
                          "--interval", "hour", "--match", r"^app\.", "--end", str(T0 + 3600 - 1))
    assert result.returncode == 0, result.stderr
    back = data.series("back_histogram")
    assert back.list() == ["app.a", "app.b"]
    for stat in ("app.a", "app.b"):
        first_hour = [(ts, v) for ts, v in raw_points(stat) if ts < T0 + 3600]
        assert stored_buckets(back, stat) == expected_buckets("histogram", first_hour)


def test_dry_run_writes_nothing_and_says_what_it_would_copy(data):
    data.load("count")
    result = data.migrate("--source", "src_count", "--destination", "dst_count", "--interval", "hour",
                          "--match", "^other", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("dry run: reading 1 stats of schema src_count (count, sqlite:///")
    nonzero = [ts for ts, value in raw_points("other.c") if value]  # a count of 0 is nothing
    total = len(nonzero)
    assert lines[1] == "would copy other.c: %d buckets, %d points, %s .. %s" % (
        total, total, utc(nonzero[0] - nonzero[0] % 60), utc(nonzero[-1] - nonzero[-1] % 60))
    assert lines[2].startswith("dry run: would copy 1 of 1 stats, %d buckets, %d points" % (total, total))
    assert "doubles" not in result.stderr
    assert data.series("dst_count").list() == []


def test_sqlite_to_redis_and_back(redis_data):
    for kind in TYPES:
        redis_data.load(kind)
        there = redis_data.migrate("--source", "src_" + kind, "--destination", "redis_" + kind,
                                   "--interval", "hour", "--concurrency", "3")
        assert there.returncode == 0, there.stderr
        back = redis_data.migrate("--source", "redis_" + kind, "--destination", "back_" + kind,
                                  "--interval", "ten", "--stat", "app.b", "--start", str(T0 + DAY))
        assert back.returncode == 0, back.stderr
        on_redis = redis_data.series("redis_" + kind)
        assert on_redis.list() == sorted(STATS)
        for stat in STATS:
            assert stored_buckets(on_redis, stat) == expected_buckets(kind, raw_points(stat)), kind
        second_day = [(ts, v) for ts, v in raw_points("app.b") if ts >= T0 + DAY]
        returned = redis_data.series("back_" + kind)
        assert returned.list() == ["app.b"]
        assert stored_buckets(returned, "app.b") == expected_buckets(kind, second_day), kind


def test_histogram_into_a_series_writes_raw_points(data):
    data.load("histogram", ["app.a"])
    result = data.migrate("--source", "src_histogram", "--destination", "dst_series", "--interval", "day")
    assert result.returncode == 0, result.stderr
    assert "the source is a histogram and the destination a series" in result.stderr
    stored = stored_buckets(data.series("dst_series"), "app.a")
    by_day = {}
    for ts, value in raw_points("app.a"):
        by_day.setdefault(ts - ts % DAY, []).append(value)
    assert {key: sorted(values) for key, values in stored.items()} == \
        {key: sorted(values) for key, values in by_day.items()}


def test_a_value_the_destination_refuses_fails_that_stat_only(tmp_path):
    path = write_config(tmp_path / "words.py", r"""
        SCHEMAS = {
            'words': {'type': 'set', 'host': 'sqlite:///%(db)s', 'match': 'x', 'value_type': str,
                      'read_func': str, 'table_name': 'words', 'intervals': {'d': {'step': 'daily'}}},
            'numbers': {'type': 'count', 'host': 'sqlite:///%(db)s', 'match': 'x',
                        'intervals': {'d': {'step': 'daily'}}},
        }
    """ % {"db": tmp_path / "words.db"})
    config = Configuration([path])
    config.schemas["words"].timeseries.bulk_insert({T0: {"digits": ["1", "2"], "letters": ["a"]}})
    result = tool("migrate", "--config", path, "--source", "words", "--destination", "numbers",
                  "--interval", "d")
    assert result.returncode == 1
    assert re.search(r"^failed letters after 0 points: InvalidValue: .*'a'", result.stdout, re.M)
    assert "copied 1 of 2 stats" in result.stdout.splitlines()[-1]
    assert "1 stats failed" in result.stdout.splitlines()[-1]
    assert config.schemas["numbers"].timeseries.list() == ["digits"]


def test_interrupted_migration_reports_how_far_it_got(tmp_path):
    path = write_config(tmp_path / "slow.py", r"""
        import time
        SCHEMAS = {
            'slow': {'type': 'gauge', 'host': 'sqlite:///%(db)s', 'match': 'x',
                     'read_func': lambda v: (time.sleep(0.02), long_or_float(v))[1],
                     'intervals': {'d': {'step': 'daily', 'resolution': 60}}},
            'fast': {'type': 'gauge', 'host': 'sqlite:///%(db)s', 'match': 'x', 'table_name': 'fast',
                     'intervals': {'d': {'step': 'daily'}}},
        }
    """ % {"db": tmp_path / "slow.db"})
    config = Configuration([path])
    config.schemas["slow"].timeseries.bulk_insert(
        {T0 + minute * 60: {"s%02d" % n: [n] for n in range(30)} for minute in range(20)})
    process = subprocess.Popen(
        [sys.executable, "%s/bin/migrate" % ROOT, "--config", path, "--source", "slow",
         "--destination", "fast", "--interval", "d", "--concurrency", "1", "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("copying 30 stats of schema slow")
        assert process.stdout.readline().startswith("copied s00: 20 buckets, 20 points")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    match = re.search(r"^migrate: interrupted after (\d+) of 30 stats \((\d+) points written\)$", err, re.M)
    assert match, err
    done = int(match.group(1))
    assert 1 <= done < 30
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert len(config.schemas["fast"].timeseries.list()) in (done, done + 1)


def test_help():
    result = tool("migrate", "--help")
    assert result.returncode == 0
    usage = " ".join(result.stdout.split("\n\n")[0].split())
    assert usage == ("usage: migrate [-h] --config CONFIG --source SOURCE --destination DESTINATION "
                     "--interval INTERVAL [--start START] [--end END] [--concurrency CONCURRENCY] "
                     "[--stat STAT] [--match MATCH] [--dry-run] [--verbose]")
    text = " ".join(result.stdout.split())
    for fragment in ("A tool to migrate data from one schema to another",
                     "--source SOURCE The name of the source schema [required]",
                     "--interval INTERVAL The name of the interval from which to read data [required]",
                     "Same format as web parameter.", "Defaults to 10.",
                     "--dry-run Print out status but do not save results in the destination schema."):
        assert fragment in text


def test_errors_are_one_line_exit_2(data, tmp_path):
    base = ("--source", "src_count", "--destination", "dst_count", "--interval", "hour")
    one_line_error(tool("migrate", "--source", "a"), 2,
                   "migrate: error: the following arguments are required: --config, --destination, "
                   "--interval")
    one_line_error(data.migrate("--source", "nope", "--destination", "dst_count", "--interval", "hour"),
                   2, "error: unknown source schema 'nope'")
    one_line_error(data.migrate("--source", "src_count", "--destination", "nope", "--interval", "hour"),
                   2, "error: unknown destination schema 'nope'")
    one_line_error(data.migrate("--source", "src_count", "--destination", "dst_count", "--interval", "ten"),
                   2, "schema 'src_count' has no interval 'ten' (it has hour, day)")
    one_line_error(data.migrate("--source", "src_count", "--destination", "src_count", "--interval", "hour"),
                   2, "source and destination are both schema 'src_count'")
    one_line_error(data.migrate(*base, "--match", "(unclosed"), 2, "argument --match",
                   "not a regular expression")
    one_line_error(data.migrate(*base, "--start", "whenever"), 2, "argument --start", "is not a time")
    one_line_error(data.migrate(*base, "--concurrency", "0"), 2, "argument --concurrency")
    one_line_error(data.migrate(*base, "--start", "1000", "--end", "10"), 2, "--end", "is before --start")
    one_line_error(tool("migrate", "--config", str(tmp_path / "none.py"), *base), 2, "does not exist")
    assert data.series("dst_count").list() == []


def test_unreachable_backend_is_one_line(tmp_path):
    pytest.importorskip("kairos.backends.redis_store", reason="the Redis engine is not built yet")
    path = write_config(tmp_path / "down.py", r"""
        SCHEMAS = {
            'down': {'type': 'count', 'host': 'redis://127.0.0.1:1/0', 'match': 'x',
                     'intervals': {'d': {'step': 'daily'}}},
            'up': {'type': 'count', 'host': 'sqlite:///%s', 'match': 'x',
                   'intervals': {'d': {'step': 'daily'}}},
        }
    """ % (tmp_path / "up.db"))
    line = one_line_error(tool("migrate", "--config", path, "--source", "down", "--destination", "up",
                               "--interval", "d"), 2, "error:")
    assert "127.0.0.1:1" in line
    config = Configuration([path])
    config.schemas["up"].timeseries.insert("x", 1, timestamp=T0)
    result = tool("migrate", "--config", path, "--source", "up", "--destination", "down", "--interval", "d")
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert errors[-2] == "migrate: stopped after 0 of 1 stats (0 points written)"
    assert errors[-1].startswith("error: ") and "127.0.0.1:1" in errors[-1]


def test_stat_option_takes_tagged_names_in_any_tag_order(tmp_path):
    """--stat 'cpu;host=a;dc=x' copies the stat karbon stored as 'cpu;dc=x;host=a'."""
    path = write_config(tmp_path / "tags.py", """
        _INTERVALS = {'minute': {'step': 60}}
        SCHEMAS = {
            'src': {'type': 'count', 'host': 'sqlite:///%s', 'match': '^never$', 'intervals': _INTERVALS},
            'dst': {'type': 'count', 'host': 'sqlite:///%s', 'match': '^never$', 'intervals': _INTERVALS},
        }
    """ % (tmp_path / "src.db", tmp_path / "dst.db"))
    config = Configuration([path])
    config.schemas["src"].timeseries.insert("cpu;dc=x;host=a", 5, timestamp=T0)
    result = tool("migrate", "--config", path, "--source", "src", "--destination", "dst",
                  "--interval", "minute", "--stat", "cpu;host=a;dc=x", "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "copied cpu;dc=x;host=a: 1 buckets, 1 points" in result.stdout
    dst = Configuration([path]).schemas["dst"].timeseries
    assert dst.list() == ["cpu;dc=x;host=a"]
    one_line_error(tool("migrate", "--config", path, "--source", "src", "--destination", "dst",
                        "--interval", "minute", "--stat", "cpu;host"), 2,
                   "--stat: 'cpu;host' is not a valid tagged name: tag 'host' is not tag=value")


# -- in-process: every type into every type, through Timeseries.iterate -------------------
def _schema(kind, intervals, **options):
    from torus.schema import Schema
    return Schema(kind, dict({"type": kind, "host": "sqlite://", "match": "x",
                              "intervals": intervals}, **options))


HOUR_BY_MINUTE = {"hour": {"step": 3600, "resolution": 60}}
MINUTE = {"minute": {"step": 60}}


def _points_of(kind, values):
    """What the original migrate wrote for one source bucket holding ``values`` (in order)."""
    if kind == "series":
        return list(values)
    if kind == "histogram":
        return sorted(values)
    if kind == "count":
        return [sum(values)] if sum(values) else []
    if kind == "gauge":
        return [values[-1]]
    return sorted(set(values))


def _by_minute(points):
    out = {}
    for ts, value in points:
        out.setdefault(ts - ts % 60, []).append(value)
    return out


@pytest.mark.parametrize("source_kind", TYPES)
def test_every_type_into_every_type_from_a_resolution_interval(source_kind):
    from torus import migrate
    points = [(T0 + k * 25, (k * 7) % 5) for k in range(300)]  # 2 or 3 points a minute
    source = _schema(source_kind, HOUR_BY_MINUTE)
    source.timeseries.bulk_insert({ts: {"app.a": [value]} for ts, value in points})
    wanted = {minute: _points_of(source_kind, values)
              for minute, values in _by_minute(points).items()}
    wanted = {minute: values for minute, values in wanted.items() if values}
    end = points[-1][0]
    for target_kind in TYPES:
        target = _schema(target_kind, MINUTE)
        result = migrate.copy_stat(migrate.Job(source, target, "hour"), "app.a")
        assert result.error is None, result.error
        assert (result.buckets, result.points) == (
            len(wanted), sum(len(values) for values in wanted.values())), target_kind
        assert (result.first, result.last) == (min(wanted), max(wanted))
        oracle = _schema(target_kind, MINUTE).timeseries
        oracle.bulk_insert({minute: {"app.a": values} for minute, values in wanted.items()})
        got = target.timeseries.series("app.a", "minute", start=T0, end=end)
        expected = oracle.series("app.a", "minute", start=T0, end=end)
        if target_kind == "series":  # a histogram's or set's values come in no set order
            got, expected = ({ts: sorted(row) for ts, row in rows.items()} for rows in (got, expected))
        assert got == expected, (source_kind, target_kind)


def test_a_resolution_interval_is_read_through_iterate_in_write_chunks(monkeypatch):
    from torus import migrate
    source = _schema("series", HOUR_BY_MINUTE)
    source.timeseries.bulk_insert({T0 + k * 30: {"app.a": [k]} for k in range(240)})
    monkeypatch.setattr(migrate, "WRITE_CHUNK", 7)
    job = migrate.Job(source, _schema("series", MINUTE), "hour", start=T0 + 130, end=T0 + 3700)
    chunks = list(migrate.read_buckets(job, "app.a"))
    assert {len(chunk) for chunk in chunks[:-1]} == {7}
    flat = [bucket for chunk in chunks for bucket in chunk]
    assert flat == list(source.timeseries.iterate("app.a", "hour", start=T0 + 130, end=T0 + 3700))
    # resolution buckets overlapping [start, end]: from the one holding start (T0 + 120)
    assert (flat[0], flat[-1]) == ((T0 + 120, [4, 5]), (T0 + 3660, [122, 123]))


def test_gauge_buckets_never_written_are_not_copied_whatever_read_func_makes_of_them():
    from torus import migrate
    source = _schema("gauge", MINUTE, read_func=lambda v: int(float(v or 0)))
    source.timeseries.bulk_insert({T0: {"g": [5]}, T0 + 180: {"g": [7]}})
    assert source.timeseries.get("g", "minute", timestamp=T0 + 60) == {T0 + 60: 0}  # read_func('')
    target = _schema("gauge", MINUTE)
    result = migrate.copy_stat(migrate.Job(source, target, "minute"), "g")
    assert (result.buckets, result.points) == (2, 2)
    assert target.timeseries.series("g", "minute", start=T0, end=T0 + 180) == {
        T0: 5, T0 + 60: None, T0 + 120: None, T0 + 180: 7}
