"""/series planning without reading: stat expressions, functions, macros, schema choice, sizing."""
import textwrap

import pytest

from kairos.intervals import Interval
from torus.config import Configuration
from torus.errors import ConfigError
from torus.params import ParameterError, Params, UnknownName
from torus.queries import (ReadOptions, apply_function, choose_schema, parse_stat, plan_series,
                           read_bounds)
from torus.read_cost import bucket_count, keys_read

NOW = 1710000000
CONFIG = """
def _s(type, match, intervals):
    return {'type': type, 'host': 'sqlite://', 'match': match, 'intervals': intervals}

SCHEMAS = {
    'fine': _s('count', r'^app\\.', {'minute': {'step': 60}, 'hour': {'step': 3600, 'resolution': 60}}),
    'coarse': _s('count', [r'^app\\.', r'^other\\.'],
                 {'day': {'step': 'daily'}, 'month': {'step': 'monthly'}}),
    'timers': _s('histogram', r'^timers\\.', {'minute': {'step': 60, 'steps': 30}}),
    'calendar': _s('count', r'^cal\\.', {'month': {'step': 'monthly', 'resolution': 'daily'},
                                         'week': {'step': 'weekly', 'resolution': 'monthly'},
                                         'odd': {'step': 3600, 'resolution': 700}}),
}
TRANSFORMS = {'size': lambda row: len(row), 'max': lambda row: 'mine'}
MACROS = {
    'total': {'collapse': True, 'transform': 'sum', 'steps': '5', 'start': '2013-03-01'},
    'hourly': {'interval': 'hour', 'format': 'json', 'condense': 'no'},
    'sized': {'transform': 'size'},
    'many': {'transform': ['avg', 'size']},
    'odd': {'stat': 'x'},
    'badsteps': {'steps': 0},
    'badformat': {'format': 'csv'},
    'badtransform': {'transform': 'nope'},
    'badfetch': {'fetch': 'not callable'},
}
MAX_POINTS = 500
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("queries") / "conf.py"
    path.write_text(textwrap.dedent(CONFIG))
    return Configuration([str(path)])


@pytest.mark.parametrize("text,function,names", [
    ("app.hits", None, ("app.hits",)),
    ("avg(app.hits)", "avg", ("app.hits",)),
    ("app.a,app.b", None, ("app.a", "app.b")),
    ("sum(app.a, app.b)", "sum", ("app.a", "app.b")),
    (" max_2(app.a) ", "max_2", ("app.a",)),
    ("sum( app.a , app.b )", "sum", ("app.a", "app.b")),
])
def test_parse_stat(text, function, names):
    expr = parse_stat(text)
    assert (expr.function, expr.names, expr.stat_name) == (function, names, ",".join(names))
    assert expr.target == (list(names) if len(names) > 1 else names[0])


@pytest.mark.parametrize("text", ["app.a,", ",app.a", "sum()", "avg(a,,b)"])
def test_parse_stat_rejects_empty_names(text):
    with pytest.raises(ParameterError, match="empty stat name"):
        parse_stat(text)


@pytest.mark.parametrize("text,problem", [
    ("sum(x", r"'sum\(x' has an unclosed '\(': add a '\)' at the end"),
    ("sum((x)", r"unclosed '\('"),
    ("sum(a,b))", r"'sum\(a,b\)\)' has an unexpected '\)' at character 9"),
    ("x)", r"unexpected '\)' at character 2"),
    ("sum(x)y", r"'sum\(x\)y' has text after the closing '\)': 'y'"),
    ("sum(x),avg(y)", r"text after the closing '\)'"),
    ("sum(nosuch(x))", r"functions cannot be nested \('nosuch' inside 'sum'\): one function per stat"),
    ("sum(avg(x))", r"functions cannot be nested \('avg' inside 'sum'\)"),
    ("a,sum(x)", r"functions cannot be nested|a function applies to the whole stat"),
    ("a-b(app.x)", r"'a-b' is not a function name: use letters, digits and _"),
    ("(x)", r"'\(x\)' has a '\(' without a function name before it"),
    ("sum(app.x;k)", r"'app.x;k' is not a valid tagged name: tag 'k' is not tag=value"),
])
def test_malformed_expressions_name_the_problem(text, problem):
    with pytest.raises(ParameterError, match=problem) as caught:
        parse_stat(text)
    assert caught.value.parameter == "stat"


def test_tagged_names_are_read_in_canonical_form():
    expr = parse_stat("avg(cpu;host=a;dc=x, cpu;dc=y;host=b)")
    assert expr.names == ("cpu;dc=x;host=a", "cpu;dc=y;host=b")
    assert expr.stat_name == "cpu;dc=x;host=a,cpu;dc=y;host=b"
    assert parse_stat("a;z=1;b=2").names == parse_stat("a;b=2;z=1").names == ("a;b=2;z=1",)


def test_builtin_functions_map_to_kairos_names(config):
    for name, kairos_name in [("avg", "mean"), ("mean", "mean"), ("min", "min"), ("sum", "sum"),
                              ("count", "count")]:
        options = apply_function(config, parse_stat("%s(app.a)" % name), ReadOptions(), NOW)
        assert options.transform == kairos_name


def test_transforms_entries_win_over_builtins(config):
    assert apply_function(config, parse_stat("max(app.a)"), ReadOptions(), NOW).transform([]) == "mine"


def test_macros_override_query_fields(config):
    base = ReadOptions(format="graphite", interval="minute", collapse=False, steps=2)
    options = apply_function(config, parse_stat("total(app.a)"), base, NOW)
    assert (options.collapse, options.transform, options.steps, options.start, options.interval) == (
        True, "sum", 5, 1362096000, "minute")
    hourly = apply_function(config, parse_stat("hourly(app.a)"), base, NOW)
    assert (hourly.interval, hourly.format, hourly.condense) == ("hour", "json", False)
    sized = apply_function(config, parse_stat("sized(app.a)"), base, NOW)
    assert sized.transform is config.transforms["size"]
    assert apply_function(config, parse_stat("many(app.a)"), base, NOW).transform == [
        "mean", config.transforms["size"]]


@pytest.mark.parametrize("macro,message", [
    ("odd", r"MACROS\['odd'\] has unknown field\(s\) 'stat'"),
    ("badsteps", "field 'steps' must be a positive whole number, not 0"),
    ("badformat", "field 'format' must be one of graphite, json, not 'csv'"),
    ("badtransform", "transform 'nope' is neither a TRANSFORMS entry nor one of avg"),
    ("badfetch", "field 'fetch' must be callable"),
])
def test_bad_macros_are_configuration_errors(config, macro, message):
    with pytest.raises(ConfigError, match=message):
        apply_function(config, parse_stat("%s(app.a)" % macro), ReadOptions(), NOW)


def test_unknown_function_names_the_known_ones(config):
    with pytest.raises(ParameterError, match=r"stat: unknown function 'nope' in 'nope\(app.a\)' "
                                             r"\(known: avg, badfetch, .*, total\)"):
        apply_function(config, parse_stat("nope(app.a)"), ReadOptions(), NOW)


def choice(config, stat, **options):
    schema, interval = choose_schema(config, parse_stat(stat), ReadOptions(**options))
    return (schema.name if schema else None, interval)


def test_schema_choice(config):
    assert choice(config, "app.a") == ("fine", "minute")
    assert choice(config, "app.a", interval="hour") == ("fine", "hour")
    assert choice(config, "app.a", interval="month") == ("coarse", "month")
    assert choice(config, "other.a") == ("coarse", "day")
    assert choice(config, "app.a", schema="coarse") == ("coarse", "day")
    assert choice(config, "timers.x", schema="coarse", interval="month") == ("coarse", "month")
    assert choice(config, "app.a,other.b") == ("coarse", "day")
    assert choice(config, "nothing") == (None, None)
    assert choice(config, "nothing", interval="hour") == (None, "hour")


def test_schema_choice_errors(config):
    with pytest.raises(UnknownName, match="schema: unknown schema 'nope'"):
        choice(config, "app.a", schema="nope")
    with pytest.raises(ParameterError, match="interval: 'week' is not an interval of schema 'fine', "
                                             "'coarse' for 'app.a' \\(it has: day, hour, minute, month\\)"):
        choice(config, "app.a", interval="week")
    with pytest.raises(ParameterError, match="not stored in a common schema"):
        choice(config, "app.a,timers.x")


@pytest.mark.parametrize("step,first,last,count", [
    (60, 100, 100, 1), (60, 100, 159, 60),
    ("daily", 20130227, 20130302, 4), ("weekly", 201301, 201310, 10),
    ("monthly", 201211, 201302, 4), ("yearly", 2000, 2013, 14),
])
def test_bucket_count(step, first, last, count):
    assert bucket_count(Interval("i", {"step": step}), first, last) == count


def test_keys_read():
    hour = Interval("h", {"step": 3600, "resolution": 60})
    assert keys_read(hour, 10, 10) == 60 and keys_read(hour, 10, 12) == 180
    assert keys_read(Interval("m", {"step": 60}), 10, 19) == 10
    month = Interval("mo", {"step": "monthly", "resolution": "daily"})
    assert keys_read(month, 201302, 201302) == 28 and keys_read(month, 201301, 201312) == 365
    coarse = Interval("c", {"step": 60, "resolution": 3600})  # one resolution key per bucket
    assert keys_read(coarse, 0, 119) == 120
    days = Interval("d", {"step": "daily", "resolution": 7})  # walks the day borders
    assert keys_read(days, 20130301, 20130302) == sum(len(days.resolution_buckets(b))
                                                        for b in (20130301, 20130302))
    assert keys_read(days, 20130301, 20131231, limit=100) == 306  # over the limit: a lower bound


@pytest.mark.parametrize("spec", [
    {"step": 3600, "resolution": 7}, {"step": 60, "resolution": 3600}, {"step": 90, "resolution": 60},
    {"step": "weekly", "resolution": "monthly"}, {"step": "monthly", "resolution": "weekly"},
    {"step": "daily", "resolution": 7}, {"step": 3 * 86400, "resolution": "daily"},
    {"step": 86400 * 10, "resolution": "weekly"}, {"step": "yearly", "resolution": "monthly"},
    {"step": "weekly", "resolution": 3600},
])
def test_keys_read_is_what_kairos_reads(spec):
    """The count equals the resolution keys kairos fetches, bucket by bucket."""
    interval = Interval("i", spec)
    first = interval.step.to_bucket(1362096000)
    last = interval.step.shift(first, 6)
    expected = sum(len(interval.resolution_buckets(b)) for b in interval.step.iter_buckets(first, last))
    assert keys_read(interval, first, last) == expected


def test_read_bounds_implicit_end():
    assert read_bounds(ReadOptions(), NOW) == (None, NOW, None)
    assert read_bounds(ReadOptions(start=5), NOW) == (5, NOW, None)
    assert read_bounds(ReadOptions(start=5, steps=3), NOW) == (5, None, 3)
    assert read_bounds(ReadOptions(end=9, steps=3), NOW) == (None, 9, 3)
    assert read_bounds(ReadOptions(start=5, end=9, steps=3), NOW) == (5, 9, 3)


def plan(config, query):
    return plan_series(config, Params.from_query(query), NOW)


def test_plan_sizes_every_stat_before_reading(config):
    plans = plan(config, "stat=app.a&stat=sum(app.a,app.b)&start=0&steps=100&interval=minute")
    assert [p.points for p in plans] == [100, 200]
    assert [p.points for p in plan(config, "stat=app.a&interval=hour&format=json&start=0&steps=3")] == [180]
    # condensed or not, every resolution bucket is read (a key each on Redis)
    assert [p.points for p in plan(config, "stat=app.a&interval=hour&start=0&steps=3")] == [180]
    assert [p.points for p in plan(config, "stat=sum(app.a)&interval=hour&start=0&steps=3"
                                            "&collapse=true")] == [180]
    # the default steps: the interval's retention (30), else 1
    assert [p.points for p in plan(config, "stat=timers.x&stat=app.a")] == [30, 1]
    assert [p.points for p in plan(config, "stat=unknown.stat&steps=400")] == [0]


@pytest.mark.parametrize("query,points", [
    # February and March 2013: 28 + 31 daily keys, not 2 x the first month's days
    ("stat=cal.x&interval=month&start=2013-02-01&end=2013-03-01", 59),
    ("stat=cal.x&interval=month&start=2013-02-01&end=2013-03-01&format=json", 59),
    # a month-long resolution bucket is read once per weekly bucket that overlaps it
    ("stat=cal.x&interval=week&start=2013-02-04&steps=5", 6),
    # 3600 is no multiple of 700: a resolution bucket across the hour is read by both hours
    ("stat=cal.x&interval=odd&start=0&steps=2", 6 + 6),
])
def test_plan_counts_every_key_read(config, query, points):
    assert [p.points for p in plan(config, query)] == [points]


def test_plan_counts_resolution_buckets_of_condensed_reads_against_the_limit(config):
    with pytest.raises(ParameterError, match="would read 600 buckets"):
        plan(config, "stat=app.a&interval=hour&start=0&steps=10")


def test_plan_refuses_more_than_max_points(config):
    with pytest.raises(ParameterError, match="would read 600 buckets, more than the limit of 500"):
        plan(config, "stat=app.a&stat=app.b&start=0&steps=300")
    with pytest.raises(ParameterError, match="steps: 501 is more than the limit of 500"):
        plan(config, "stat=app.a&steps=501")
    with pytest.raises(ParameterError, match="would read 600 buckets"):
        plan(config, "stat=app.a&interval=hour&format=json&start=0&steps=10")


def test_plan_turns_impossible_ranges_into_400(config):
    with pytest.raises(ParameterError, match="start/end/steps: no valid range"):
        plan(config, "stat=app.a&interval=month&start=9999-12-01&steps=400")
    with pytest.raises(ParameterError, match="end .* is before start"):
        plan(config, "stat=app.a&start=100&end=50")


def test_graphite_forces_condense(config):
    assert plan(config, "stat=app.a&condense=false")[0].options.condense is True
    assert plan(config, "stat=app.a&condense=false&format=json")[0].options.condense is False


def test_params_parsing():
    params = Params.from_query("stat=a&stat=b&flag=YES&off=0&n=3&empty=&same=1&same=1&twice=1&twice=2")
    assert params.all("stat") == ["a", "b"]
    assert (params.boolean("flag"), params.boolean("off")) == (True, False)
    assert params.boolean("missing", True) is True
    assert params.positive_int("n") == 3 and params.one("empty") is None and "empty" not in params
    assert params.one("same") == "1"
    with pytest.raises(ParameterError, match="twice: given 2 times with different values"):
        params.one("twice")
    with pytest.raises(ParameterError, match="required"):
        params.one("missing", required=True)
    with pytest.raises(ParameterError, match="is not a boolean"):
        Params.from_query("flag=on").boolean("flag")
    with pytest.raises(ParameterError, match="longer than"):
        Params.from_query("stat=" + "x" * 10001)
