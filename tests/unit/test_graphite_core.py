"""The render core: grammar, evaluation, argument checks, series consolidation, time forms."""
import datetime as dt

import pytest

from torus.graphite.errors import InputError
from torus.graphite.grammar import Call, Path, TargetError, parse
from torus.graphite.series import Series
from torus.graphite.timeforms import parse_at_time, parse_offset, parse_tz
from tests.unit.graphite_memory import MemorySource, evaluate

NOW = 1700000000  # 2023-11-14 22:13:20 UTC


def utc(*fields):
    return int(dt.datetime(*fields, tzinfo=dt.timezone.utc).timestamp())


@pytest.mark.parametrize("text, expected", [
    ("a.b.*", Path("a.b.*")),
    ("a.{x,y}.c", Path("a.{x,y}.c")),
    ("a.b\\(1\\)", Path("a.b(1)")),
    ("a;b=1", Path("a;b=1")),
])
def test_paths(text, expected):
    assert parse(text) == expected


def test_calls_literals_and_keywords():
    node = parse("f(a.*, 2, -1.5, 1e3, 'x,y', \"z\", true, None, inf, k=0.5)")
    assert isinstance(node, Call) and node.name == "f"
    assert node.args == [Path("a.*"), 2, -1.5, 1000.0, "x,y", "z", True, None, float("inf")]
    assert node.kwargs == {"k": 0.5}


def test_pipes_make_the_left_side_the_first_argument():
    node = parse("a.b | scale(2) | alias('x')")
    assert node.name == "alias" and node.args[1] == "x"
    assert node.args[0].name == "scale" and node.args[0].args == [Path("a.b"), 2]


def test_number_like_path_is_a_path():
    assert parse("f(1abc)").args == [Path("1abc")]
    assert parse("f(true.x)").args == [Path("true.x")]


@pytest.mark.parametrize("text", ["sum(a", "f(a))", "a..b", ".a", "f(x=1, 2)", "", "a.{b", "f('x)",
                                  "a|b", "f(" * 60 + "a" + ")" * 60])
def test_malformed_targets(text):
    with pytest.raises(TargetError):
        parse(text)


def test_consolidation_average_and_x_files_factor():
    series = Series("a", 0, 60, 10, [1, None, 3, 4, None, None])
    series.consolidate(2)
    assert list(series) == [1, 3.5, None]
    series.x_files_factor = 1.0
    assert list(series) == [None, 3.5, None]
    series.consolidation = "sum"
    series.x_files_factor = 0
    assert list(series) == [1, 7, None]
    assert series.datapoints() == [[1, 0], [7, 20], [None, 40]]


def test_name_tags():
    assert Series("cpu;host=a;dc=x", 0, 10, 10, [1]).tags == {"name": "cpu", "host": "a", "dc": "x"}
    assert Series("a.b", 0, 10, 10, [1]).tags == {"name": "a.b"}
    assert Series("sum(a;b=1)", 0, 10, 10, [1]).tags == {"name": "sum(a;b=1)"}


def test_memory_source_window_starts_after_from():
    source = MemorySource({"a.b": (0, 60, list(range(100)))})
    [series] = evaluate(source, "a.b", 130, 300)
    assert (series.start, series.end, series.step) == (180, 360, 60)
    assert list(series) == [3, 4, 5]


def test_unknown_function_and_bad_arguments_are_input_errors():
    source = MemorySource({"a.b": (0, 60, [1])})
    with pytest.raises(InputError, match="unknown function 'nope'"):
        evaluate(source, "nope(a.b)", 0, 60)
    with pytest.raises(InputError, match="alias: parameter 'newName' is required"):
        evaluate(source, "alias(a.b)", 0, 60)
    with pytest.raises(InputError, match="alias: parameter 'newName' got the number 3"):
        evaluate(source, "alias(a.b, 3)", 0, 60)
    with pytest.raises(InputError, match="alias takes at most 2 arguments"):
        evaluate(source, "alias(a.b, 'x', 'y')", 0, 60)
    with pytest.raises(InputError, match="alias has no parameter 'colour'"):
        evaluate(source, "alias(a.b, 'x', colour=1)", 0, 60)


@pytest.mark.parametrize("text, expected", [
    ("now", NOW), ("-1h", NOW - 3600), ("-10min", NOW - 600), ("-2d", NOW - 2 * 86400),
    ("-1w", NOW - 7 * 86400), ("-1mon", NOW - 30 * 86400), ("-1y", NOW - 365 * 86400),
    ("now-1h", NOW - 3600), ("1690000000", 1690000000),
    ("16:00_20231201", utc(2023, 12, 1, 16)), ("20231201", utc(2023, 12, 1)),
    ("midnight", utc(2023, 11, 14)), ("noon", utc(2023, 11, 14, 12)),
    ("today", utc(2023, 11, 14)), ("yesterday", utc(2023, 11, 13)),
    ("tomorrow", utc(2023, 11, 15)), ("noon yesterday", utc(2023, 11, 13, 12)),
    ("midnight+1h", utc(2023, 11, 14, 1)), ("3pm", utc(2023, 11, 14, 15)),
    ("12/25/2022", utc(2022, 12, 25)), ("jan5", utc(2023, 1, 5)), ("monday", utc(2023, 11, 13)),
])
def test_time_forms(text, expected):
    assert parse_at_time(text, NOW) == expected


def test_time_forms_in_a_time_zone():
    paris = parse_tz("Europe/Paris")
    assert parse_at_time("midnight", NOW, paris) == utc(2023, 11, 14) - 3600
    assert parse_at_time("-1h", NOW, paris) == NOW - 3600


@pytest.mark.parametrize("text", ["soon", "-1x", "-h", "20230230", "2023-13-01", "jan", "x" * 101])
def test_bad_time_forms(text):
    with pytest.raises(ValueError):
        parse_at_time(text, NOW)


def test_offsets_and_zones():
    assert parse_offset("-5min") == -300
    assert parse_offset("1d12h") == 129600
    with pytest.raises(ValueError):
        parse_tz("Mars/Olympus")


def test_a_target_must_end_as_a_series_list():
    source = MemorySource({"a.b": (0, 60, [1])})
    with pytest.raises(InputError, match="is a value"):
        evaluate(source, "5", 0, 60)
    with pytest.raises(InputError, match="lists of series"):
        evaluate(source, "mapSeries(a.b, 0)", 0, 60)


def test_functions_look_outside_the_window_through_their_first_argument():
    """movingAverage/timeShift evaluate their first argument again (graphite's args[0]), so an
    inner timeShift or alias survives the look-back."""
    source = MemorySource({"a.b": (0, 60, list(range(100)))})
    [shifted] = evaluate(source, "movingAverage(timeShift(a.b, '3min'), 2)", 1200, 1500)
    [plain] = evaluate(source, "timeShift(a.b, '3min')", 1200, 1500)
    # each point is the mean of the two before it, all of them shifted 3 minutes back
    assert shifted.raw[2:] == [(a + b) / 2 for a, b in zip(plain.raw, plain.raw[1:])][:-1]
    [once] = evaluate(source, "movingAverage(alias(a.b, 'x'), 2)", 1200, 1500)
    assert once.name == "movingAverage(x,2)"


def test_whole_numbers_given_to_float_parameters_become_floats():
    from torus.graphite import registry
    registry.load()
    spec = registry.FUNCTIONS["nPercentile"]
    assert registry.convert_arguments(spec, [[], 95], {}) == ([[], 95.0], {})
    assert registry.convert_arguments(spec, [[]], {"n": 5}) == ([[]], {"n": 5.0})
    spec = registry.FUNCTIONS["sumSeries"]  # no float parameter: untouched
    assert registry.convert_arguments(spec, [[], []], {}) == ([[], []], {})
