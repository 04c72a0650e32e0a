"""Render functions that combine series or change their values: expected numbers by hand.

Window: from=0 until=300 over 60 s series stored from 60, so every target sees the
five points at 60, 120, 180, 240 and 300; ``a.d`` has a 120 s step (points at 120, 240).
"""
import math

import pytest

from torus.graphite.errors import InputError
from tests.unit.graphite_memory import MemorySource, evaluate

A = [1, 2, None, 4, 6]
C = [10, None, 30, 40, 50]
STORED = {
    "a.b": (60, 60, A),
    "a.c": (60, 60, C),
    "a.d": (120, 120, [3, 5]),
    "a.z": (60, 60, [0, 0, 0, 0, 0]),
    "x.n": (60, 60, [None] * 5),
    "c.cnt": (60, 60, [100, 110, 130, 5, 20]),
    "k.v": (60, 60, [1, None, None, 4, None]),
    "k.w": (60, 60, [None, 3, 3, 4, None]),
    "ch.x": (60, 60, [1, 1, None, 2, 2]),
    "h1.used": (60, 60, [1, 2, 3, 4, 5]),
    "h1.total": (60, 60, [10, 10, 10, 10, 10]),
    "h2.used": (60, 60, [5, 5, 5, 5, 5]),
    "h2.total": (60, 60, [20, 20, 20, 20, 20]),
    "cpu;host=a;dc=x": (60, 60, [1, 2, 3, 4, 5]),
    "cpu;host=b;dc=x": (60, 60, [10, 20, 30, 40, 50]),
}


def run(target, start=0, end=300):
    return evaluate(MemorySource(dict(STORED)), target, start, end)


def one(target, **kw):
    [series] = run(target, **kw)
    return series


def approx(values):
    return [None if v is None else pytest.approx(v) for v in values]


# -- combine ----------------------------------------------------------------------------
@pytest.mark.parametrize("target, name, values", [
    ("sumSeries(a.b, a.c)", "sumSeries(a.b,a.c)", [11, 2, 30, 44, 56]),
    ("sum(a.{b,c})", "sumSeries(a.{b,c})", [11, 2, 30, 44, 56]),
    ("averageSeries(a.b, a.c)", "averageSeries(a.b,a.c)", [5.5, 2, 30, 22, 28]),
    ("avg(a.b, a.c)", "averageSeries(a.b,a.c)", [5.5, 2, 30, 22, 28]),
    ("maxSeries(a.b, a.c)", "maxSeries(a.b,a.c)", [10, 2, 30, 40, 50]),
    ("minSeries(a.b, a.c)", "minSeries(a.b,a.c)", [1, 2, 30, 4, 6]),
    ("diffSeries(a.b, a.c)", "diffSeries(a.b,a.c)", [-9, 2, 30, -36, -44]),
    ("multiplySeries(a.b, a.c)", "multiplySeries(a.b,a.c)", [10, None, None, 160, 300]),
    ("stddevSeries(a.b, a.c)", "stddevSeries(a.b,a.c)", [4.5, 0, 0, 18, 22]),
    ("rangeOfSeries(a.b, a.c)", "rangeOfSeries(a.b,a.c)", [9, 0, 0, 36, 44]),
    ("countSeries(a.b, a.c)", "countSeries(a.b,a.c)", [2, 2, 2, 2, 2]),
    ("aggregate(a.{b,c}, 'median')", "medianSeries(a.{b,c})", [5.5, 2, 30, 22, 28]),
    ("aggregate(a.{b,c}, 'sum', 1)", "sumSeries(a.{b,c})", [11, None, None, 44, 56]),
    ("aggregate(a.{b,c}, 'avg_zero')", "avg_zeroSeries(a.{b,c})", [5.5, 1, 15, 22, 28]),
    ("aggregate(a.{b,c}, 'last')", "lastSeries(a.{b,c})", [10, 2, 30, 40, 50]),
    ("sumSeries(x.n)", "sumSeries(x.n)", [None] * 5),
])
def test_combine(target, name, values):
    series = one(target)
    assert series.name == name and series.path_expression == name
    assert (series.start, series.step) == (60, 60)
    assert list(series) == approx(values)


def test_combine_mismatched_steps_uses_the_coarser_step():
    series = one("sumSeries(a.b, a.d)")
    # a.b averaged by two: (1+2)/2, 4 (null skipped), 6 alone; a.d: 3, 5
    assert (series.start, series.end, series.step) == (60, 300, 120)
    assert list(series) == [4.5, 9, 6]


def test_aggregate_tags_keep_what_all_series_share():
    series = one("sumSeries(seriesByTag('name=cpu'))")
    assert series.name == "sumSeries(seriesByTag('name=cpu'))"
    assert series.tags == {"name": "cpu", "dc": "x", "aggregatedBy": "sum"}
    assert list(series) == [11, 22, 33, 44, 55]
    assert one("sumSeries(a.b)").tags == {"name": "a.b", "aggregatedBy": "sum"}


def test_multiply_of_one_series_is_that_series():
    series = one("multiplySeries(a.b)")
    assert series.name == "a.b" and list(series) == A


@pytest.mark.parametrize("target", [
    "sumSeries(none.*)", "averageSeries(none.*)", "maxSeries(none.*)", "minSeries(none.*)",
    "multiplySeries(none.*)", "diffSeries(none.*)", "stddevSeries(none.*)",
    "countSeries(none.*)", "aggregate(none.*, 'sum')", "divideSeries(none.*, a.c)",
    "divideSeriesLists(none.*, none.*)", "asPercent(none.*)", "pct(none.*, 10)",
])
def test_combine_nothing(target):
    assert run(target) == []


def test_count_series_without_argument_is_a_zero_line():
    series = one("countSeries()")
    assert (series.name, series.path_expression) == ("0", "countSeries()")
    assert list(series) == [0, 0, 0] and (series.start, series.end, series.step) == (0, 300, 150)


def test_divide_series():
    series = one("divideSeries(a.b, a.c)")
    assert series.name == "divideSeries(a.b,a.c)"
    assert list(series) == approx([0.1, None, None, 0.1, 0.12])
    assert list(one("divideSeries(a.b, a.z)")) == [None] * 5
    mixed = one("divideSeries(a.b, a.d)")
    assert mixed.step == 120 and list(mixed) == approx([0.5, 0.8, None])


def test_divide_series_without_divisor_is_missing():
    series = one("divideSeries(a.b, none.*)")
    assert series.name == series.path_expression == "divideSeries(a.b,MISSING)"
    assert list(series) == [None] * 5


def test_divide_series_lists_pairs_by_position():
    first, second = run("divideSeriesLists(a.{b,c}, h1.{total,used})")
    assert first.name == "divideSeries(a.b,h1.total)"
    assert list(first) == approx([0.1, 0.2, None, 0.4, 0.6])
    assert second.name == "divideSeries(a.c,h1.used)"
    assert list(second) == approx([10, None, 10, 10, 10])


@pytest.mark.parametrize("target", ["divideSeries(a.b, a.*)", "divideSeriesLists(a.*, a.b)"])
def test_divide_bad_divisors(target):
    with pytest.raises(InputError):
        run(target)


def test_as_percent_of_the_sum():
    first, second = run("asPercent(a.{b,c})")
    assert first.name == "asPercent(a.b,sumSeries(a.{b,c}))"
    assert list(first) == approx([100 / 11, 100, None, 400 / 44, 600 / 56])
    assert list(second) == approx([1000 / 11, None, 100, 4000 / 44, 5000 / 56])
    assert [s.name for s in run("pct(a.{b,c})")] == [first.name, second.name]


def test_as_percent_of_a_number_a_series_and_paired_series():
    number = one("asPercent(a.b, 4)")
    assert number.name == "asPercent(a.b,4)"
    assert list(number) == [25, 50, None, 100, 150]
    series = one("asPercent(a.b, a.c)")
    assert series.name == "asPercent(a.b,a.c)" and list(series) == approx([10, None, None, 10, 12])
    assert list(one("asPercent(a.b, a.z)")) == [None] * 5
    paired = run("asPercent(h*.used, h*.total)")
    assert [s.name for s in paired] == ["asPercent(h1.used,h1.total)",
                                        "asPercent(h2.used,h2.total)"]
    assert [list(s) for s in paired] == [[10, 20, 30, 40, 50], [25] * 5]


def test_as_percent_mismatched_steps():
    series = one("asPercent(a.b, a.d)")
    assert series.step == 120 and list(series) == approx([50, 80, None])


def test_as_percent_by_nodes():
    out = run("asPercent(h*.*, None, 0)")
    assert [s.name for s in out] == [
        # the total of a group is named after the path expressions of its series
        "asPercent(h1.total,sumSeries(h*.*))", "asPercent(h1.used,sumSeries(h*.*))",
        "asPercent(h2.total,sumSeries(h*.*))", "asPercent(h2.used,sumSeries(h*.*))"]
    assert list(out[1]) == approx([100 / 11, 200 / 12, 300 / 13, 400 / 14, 500 / 15])
    out = run("asPercent(h*.used, h1.total, 0)")
    assert [s.name for s in out] == ["asPercent(h1.used,h1.total)", "asPercent(h2.used,MISSING)"]
    assert list(out[0]) == [10, 20, 30, 40, 50] and list(out[1]) == [None] * 5


@pytest.mark.parametrize("target", ["asPercent(a.*, a.{b,c})", "asPercent(a.b, 'x')",
                                    "asPercent(a.b, 5, 0)", "aggregate(a.b, 'nope')"])
def test_as_percent_and_aggregate_bad_arguments(target):
    with pytest.raises(InputError):
        run(target)


# -- per-value transforms ------------------------------------------------------------------
@pytest.mark.parametrize("target, name, values", [
    ("scale(a.b, 2)", "scale(a.b,2)", [2, 4, None, 8, 12]),
    ("scale(a.b, 0.5)", "scale(a.b,0.5)", [0.5, 1, None, 2, 3]),
    ("scaleToSeconds(a.b, 30)", "scaleToSeconds(a.b,30)", [0.5, 1, None, 2, 3]),
    ("offset(a.b, -3)", "offset(a.b,-3)", [-2, -1, None, 1, 3]),
    ("absolute(offset(a.b, -3))", "absolute(offset(a.b,-3))", [2, 1, None, 1, 3]),
    ("invert(a.b)", "invert(a.b)", [1, 0.5, None, 0.25, 1 / 6]),
    ("invert(a.z)", "invert(a.z)", [None] * 5),
    ("pow(a.b, 2)", "pow(a.b,2)", [1, 4, None, 16, 36]),
    ("pow(offset(a.b, -3), 0.5)", "pow(offset(a.b,-3),0.5)",
     [None, None, None, 1, math.sqrt(3)]),
    ("squareRoot(a.b)", "squareRoot(a.b)", [1, math.sqrt(2), None, 2, math.sqrt(6)]),
    ("squareRoot(offset(a.b, -3))", "squareRoot(offset(a.b,-3))",
     [None, None, None, 1, math.sqrt(3)]),
    ("log(a.b)", "log(a.b, 10)", [0, math.log10(2), None, math.log10(4), math.log10(6)]),
    ("log(offset(a.b, -1), 2)", "log(offset(a.b,-1), 2)", [None, 0, None, math.log2(3),
                                                            math.log2(5)]),
    ("transformNull(a.b)", "transformNull(a.b,0)", [1, 2, 0, 4, 6]),
    ("transformNull(a.b, -1.5)", "transformNull(a.b,-1.5)", [1, 2, -1.5, 4, 6]),
    ("transformNull(a.c, 7, a.b)", "transformNull(a.c,7,referenceSeries)", [10, 7, 30, 40, 50]),
    ("transformNull(a.b, 7, x.n)", "transformNull(a.b,7,referenceSeries)", A),
    ("isNonNull(a.b)", "isNonNull(a.b)", [1, 1, 0, 1, 1]),
    ("keepLastValue(k.v)", "keepLastValue(k.v)", [1, 1, 1, 4, 4]),
    ("keepLastValue(k.v, 1)", "keepLastValue(k.v)", [1, None, None, 4, 4]),
    ("keepLastValue(k.w)", "keepLastValue(k.w)", [None, 3, 3, 4, 4]),
    ("changed(ch.x)", "changed(ch.x)", [0, 0, 0, 1, 0]),
    ("changed(k.w)", "changed(k.w)", [0, 0, 0, 1, 0]),
    ("derivative(a.b)", "derivative(a.b)", [None, 1, None, None, 2]),
    ("derivative(c.cnt)", "derivative(c.cnt)", [None, 10, 20, -125, 15]),
    ("nonNegativeDerivative(c.cnt)", "nonNegativeDerivative(c.cnt)", [None, 10, 20, None, 15]),
    ("nonNegativeDerivative(c.cnt, 140)", "nonNegativeDerivative(c.cnt)",
     [None, 10, 20, 16, 15]),
    ("nonNegativeDerivative(c.cnt, 140, 2)", "nonNegativeDerivative(c.cnt)",
     [None, 10, 20, 14, 15]),
    ("nonNegativeDerivative(c.cnt, minValue=2)", "nonNegativeDerivative(c.cnt)",
     [None, 10, 20, 3, 15]),
    ("nonNegativeDerivative(c.cnt, 120)", "nonNegativeDerivative(c.cnt)",
     [None, 10, None, None, 15]),
    ("nonNegativeDerivative(a.b, 5)", "nonNegativeDerivative(a.b)", [None, 1, None, None, None]),
    ("perSecond(c.cnt)", "perSecond(c.cnt)", [None, 0.166667, 0.333333, None, 0.25]),
    ("integral(a.b)", "integral(a.b)", [1, 3, None, 7, 13]),
    ("delay(a.b, 2)", "delay(a.b,2)", [None, None, 1, 2, None]),
    ("delay(a.b, -2)", "delay(a.b,-2)", [None, 4, 6, None, None]),
    ("delay(a.b, 9)", "delay(a.b,9)", [None] * 5),
])
def test_transforms(target, name, values):
    series = one(target)
    assert series.name == name and series.path_expression == name
    assert (series.start, series.end, series.step) == (60, 360, 60)
    assert list(series) == approx(values)


def test_transform_tags_are_text_as_graphite_stores_them():
    assert one("scale(a.b, 2)").tags == {"name": "a.b", "scale": "2.0"}
    assert one("transformNull(a.b)").tags["transformNull"] == "0"
    assert one("log(a.b)").tags["log"] == "10"
    assert one("perSecond(a.b)").tags["perSecond"] == "1"
    assert one("delay(a.b, -2)").tags["delay"] == "-2"


@pytest.mark.parametrize("target", [
    "scale(a.d, 2)", "offset(a.d, 1)", "derivative(a.d)", "integral(a.d)", "perSecond(a.d)",
    "delay(a.d, 1)", "keepLastValue(a.d)", "isNonNull(a.d)", "transformNull(a.d)", "log(a.d)",
])
def test_transforms_keep_a_coarser_step(target):
    series = one(target)
    assert (series.start, series.end, series.step) == (120, 360, 120)


def test_per_second_uses_the_step():
    assert list(one("perSecond(a.d)")) == [None, pytest.approx(2 / 120, abs=1e-6)]


@pytest.mark.parametrize("function", [
    "scale(none.*, 2)", "scaleToSeconds(none.*, 1)", "offset(none.*, 1)", "absolute(none.*)",
    "invert(none.*)", "pow(none.*, 2)", "squareRoot(none.*)", "log(none.*)",
    "derivative(none.*)", "nonNegativeDerivative(none.*)", "perSecond(none.*)",
    "integral(none.*)", "delay(none.*, 1)", "transformNull(none.*)", "isNonNull(none.*)",
    "keepLastValue(none.*)", "changed(none.*)", "consolidateBy(none.*, 'max')",
])
def test_transforms_of_nothing(function):
    assert run(function) == []


@pytest.mark.parametrize("target", [
    "scale(a.b, 'x')", "offset(a.b)", "log(a.b, 1)", "log(a.b, 0)", "delay(a.b, 1.5)",
    "keepLastValue(a.b, -1)", "consolidateBy(a.b, 'median')", "transformNull(a.b, 'x')",
    "pow(a.b)", "nonNegativeDerivative(a.b, 'x')",
])
def test_transform_bad_arguments(target):
    with pytest.raises(InputError):
        run(target)


# -- special ----------------------------------------------------------------------------------
def test_consolidate_by_and_cumulative():
    series = one("consolidateBy(a.b, 'max')")
    assert series.name == series.path_expression == 'consolidateBy(a.b,"max")'
    assert series.tags["consolidateBy"] == "max"
    series.consolidate(2)
    assert list(series) == [2, 4, 6]
    series = one("cumulative(a.b)")
    assert series.name == 'consolidateBy(a.b,"sum")'
    series.consolidate(2)
    assert list(series) == [3, 4, 6]


def test_constant_line_and_threshold():
    line = one("constantLine(5)", start=0, end=600)
    assert (line.name, line.path_expression) == ("5.0", "constantLine(5.0)")
    assert (line.start, line.end, line.step) == (0, 600, 300)
    assert list(line) == [5.0, 5.0, 5.0]
    labelled = one("threshold(2.5, 'limit', 'red')")
    assert labelled.name == "limit" and list(labelled) == [2.5] * 3
    assert one("threshold(2.5)").name == "2.5"
    with pytest.raises(InputError):
        run("constantLine('x')")
