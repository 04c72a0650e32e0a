"""Render functions that group and combine series (group, groupBy*, *WithWildcards,
nPercentile, percentileOfSeries, mapSeries, reduceSeries, applyByNode) and the
seriesByTag declaration, on an in-memory source.

Expected names, tags, values and orders follow graphite-web 1.1.8's rules, worked out by hand.
"""
import random

import pytest

from torus.graphite import aggregations, combine, registry
from torus.graphite.errors import InputError
from torus.graphite.evaluator import Context
from torus.graphite.registry import Param, function
from torus.graphite.series import Series
from tests.unit.graphite_memory import MemorySource, evaluate

DATA = {
    "a.x.c": [1, None, 3, 4],
    "a.y.c": [2, 2, None, None],
    "b.x.c": [5, 5, 5, 0],
    "b.y.d": [None, None, None, None],
}
TAGGED = {
    "cpu;dc=x;host=a": [1, None, 3, 4],
    "cpu;dc=x;host=b": [2, 2, None, 1],
    "mem;dc=y;host=b": [7, 7, 7, 7],
}
#: a.x.c every 10 s (0..30), b.x.c every 20 s (0, 20)
MIXED = {"a.x.c": (0, 10, [1, None, 3, 4]), "b.x.c": (0, 20, [5, 6]),
         "a.y.c": (0, 10, [1, 2, 3, 4])}


def run(target, data=DATA, step=10):
    stored = {name: (0, step, values) for name, values in data.items()}
    points = max(len(values) for values in data.values())
    return evaluate(MemorySource(stored), target, -step, step * (points - 1))


def run_mixed(target):
    return evaluate(MemorySource(MIXED), target, -10, 30)


def table(result):
    return [(s.name, list(s)) for s in result]


# -- group ------------------------------------------------------------------------------
def test_group_concatenates_in_order():
    result = run("group(b.*.*, a.x.c, nothing.*)")
    assert [s.name for s in result] == ["b.x.c", "b.y.d", "a.x.c"]
    assert run("group()") == [] and run("group(nothing.*)") == []


# -- groupByNode(s) ---------------------------------------------------------------------
def test_group_by_node_average_by_default():
    result = run("groupByNode(*.*.*, 1)")
    # x: a.x.c and b.x.c; y: a.y.c and b.y.d; groups in order of first member
    assert table(result) == [("x", [3.0, 5.0, 4.0, 2.0]), ("y", [2.0, 2.0, None, None])]
    assert result[0].path_expression == "averageSeries(*.*.*)"
    assert result[0].tags == {"name": "averageSeries(*.*.*)", "aggregatedBy": "average"}
    assert (result[0].start, result[0].end, result[0].step) == (0, 40, 10)


@pytest.mark.parametrize("callback, expected", [
    ("sum", [("a", [3, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("sumSeries", [("a", [3, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("max", [("a", [2, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("minSeries", [("a", [1, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("diff", [("a", [-1, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("rangeOfSeries", [("a", [1.0, 0.0, 0.0, 0.0]), ("b", [0.0, 0.0, 0.0, 0.0])]),
    ("multiply", [("a", [2.0, None, None, None]), ("b", [None, None, None, None])]),
    ("count", [("a", [2, 1, 1, 1]), ("b", [1, 1, 1, 1])]),
    ("countSeries", [("a", [2, 2, 2, 2]), ("b", [2, 2, 2, 2])]),
    ("avg_zero", [("a", [1.5, 1.0, 1.5, 2.0]), ("b", [2.5, 2.5, 2.5, 0.0])]),
    ("last", [("a", [2, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
    ("median", [("a", [1.5, 2, 3, 4]), ("b", [5, 5, 5, 0])]),
])
def test_group_by_node_callbacks(callback, expected):
    assert table(run("groupByNode(*.*.*, 0, '%s')" % callback)) == expected


def test_group_by_node_callback_naming_and_tags():
    [a, b] = run("groupByNode(*.*.*, 0, 'avg')")
    # avg is graphite's short name of averageSeries
    assert a.tags == {"name": "averageSeries(*.*.*)", "aggregatedBy": "average"}
    [x, y] = run("groupByNode(*.*.c, 1, 'total')")
    assert x.path_expression == "totalSeries(*.*.c)"
    assert x.tags == {"name": "totalSeries(*.*.c)", "aggregatedBy": "total"}
    # a group of one keeps that series' name tag
    assert y.tags == {"name": "a.y.c", "aggregatedBy": "total"}
    [count, _] = run("groupByNode(*.*.*, 0, 'countSeries')")
    assert count.tags == {"name": "countSeries(*.*.*)"}
    assert count.path_expression == "countSeries(*.*.*)"


def test_group_by_node_common_tags_survive():
    [x, y] = run("groupByNode(seriesByTag('host=b'), 'dc', 'sum')", TAGGED)
    assert (x.name, y.name) == ("x", "y")
    assert x.tags == {"dc": "x", "host": "b", "name": "cpu", "aggregatedBy": "sum"}
    [both] = run("groupByNode(seriesByTag('dc=x'), 'dc', 'sum')", TAGGED)
    assert both.tags == {"dc": "x", "name": "cpu", "aggregatedBy": "sum"}
    assert list(both) == [3, 2, 3, 5]


def test_group_by_node_mismatched_steps():
    [x] = run_mixed("groupByNode(*.x.c, 1, 'sum')")
    # a.x.c consolidated to 20 s: [avg(1, None), avg(3, 4)] = [1, 3.5]
    assert (x.name, list(x), x.step, x.start, x.end) == ("x", [6, 9.5], 20, 0, 40)


def test_group_by_nodes():
    assert table(run("groupByNodes(*.*.*, 'sum', 0, 2)")) == [
        ("a.c", [3, 2, 3, 4]), ("b.c", [5, 5, 5, 0]), ("b.d", [None] * 4)]
    # no nodes: one group named ''
    assert table(run("groupByNodes(a.*.c, 'max')")) == [("", [2, 2, 3, 4])]
    result = run("groupByNodes(seriesByTag('name=cpu'), 'sum', 'host', 0)", TAGGED)
    assert [s.name for s in result] == ["a.cpu", "b.cpu"]
    # a function-made name groups by its first path's nodes
    assert [s.name for s in run("groupByNodes(removeAboveValue(*.*.*, 9), 'sum', 1)")] == [
        "x", "y"]


def test_group_by_node_empty_and_bad_callbacks():
    assert run("groupByNode(nothing.*, 1)") == []
    assert run("groupByNodes(nothing.*, 'sum', 1)") == []
    with pytest.raises(InputError, match="unsupported aggregation function 'nope'"):
        run("groupByNode(*.*.*, 1, 'nope')")
    with pytest.raises(InputError, match="unsupported aggregation function 'highestMax'"):
        run("groupByNodes(nothing.*, 'highestMax', 1)")
    with pytest.raises(InputError, match="parameter 'nodeNum' is required"):
        run("groupByNode(*.*.*)")


# -- groupByTags --------------------------------------------------------------------------
def test_group_by_tags_common_name():
    result = run("groupByTags(seriesByTag('dc=x'), 'sum', 'dc')", TAGGED)
    assert table(result) == [("cpu;dc=x", [3, 2, 3, 5])]
    assert result[0].tags == {"dc": "x", "name": "cpu"}
    assert result[0].path_expression == "cpu;dc=x"


def test_group_by_tags_names_differ_or_name_is_a_tag():
    everything = "group(seriesByTag('name=cpu'), seriesByTag('name=mem'))"
    result = run("groupByTags(%s, 'sum', 'dc')" % everything, TAGGED)
    assert table(result) == [("sum;dc=x", [3, 2, 3, 5]), ("sum;dc=y", [7, 7, 7, 7])]
    assert result[1].tags == {"dc": "y", "name": "sum"}
    result = run("groupByTags(%s, 'average', 'name', 'host')" % everything, TAGGED)
    assert [s.name for s in result] == ["cpu;host=a", "cpu;host=b", "mem;host=b"]
    # tags sorted in the name whatever their order in the call
    result = run("groupByTags(%s, 'max', 'host', 'dc')" % everything, TAGGED)
    assert [s.name for s in result] == ["max;dc=x;host=a", "max;dc=x;host=b", "max;dc=y;host=b"]
    assert result[0].tags == {"dc": "x", "host": "a", "name": "max"}


def test_group_by_tags_empty_and_bad():
    assert run("groupByTags(nothing.*, 'sum', 'dc')") == []
    with pytest.raises(InputError, match="parameter 'tags' is required"):
        run("groupByTags(seriesByTag('dc=x'), 'sum')", TAGGED)
    with pytest.raises(InputError, match="unsupported aggregation function 'nope'"):
        run("groupByTags(seriesByTag('dc=x'), 'nope', 'dc')", TAGGED)


# -- *WithWildcards -----------------------------------------------------------------------
def test_aggregate_with_wildcards():
    result = run("aggregateWithWildcards(*.*.*, 'sum', 1)")
    assert table(result) == [("a.c", [3, 2, 3, 4]), ("b.c", [5, 5, 5, 0]), ("b.d", [None] * 4)]
    assert result[0].path_expression == "sumSeries(*.*.*)"
    assert result[0].tags == {"name": "sumSeries(*.*.*)", "aggregatedBy": "sum"}
    assert table(run("aggregateWithWildcards(*.*.c, 'max', 0, 1)")) == [("c", [5, 5, 5, 4])]
    # a position past the end or none at all: every series alone
    assert [s.name for s in run("aggregateWithWildcards(a.*.c, 'avg', 5)")] == ["a.x.c", "a.y.c"]
    [avg, _] = run("aggregateWithWildcards(a.*.c, 'avg')")
    assert avg.path_expression == "avgSeries(a.*.c)"
    assert avg.tags == {"name": "a.x.c", "aggregatedBy": "avg"}


def test_sum_and_average_series_with_wildcards():
    assert table(run("sumSeriesWithWildcards(*.*.c, 0)")) == [
        ("x.c", [6, 5, 8, 4]), ("y.c", [2, 2, None, None])]
    assert table(run("averageSeriesWithWildcards(*.*.c, 0)")) == [
        ("x.c", [3.0, 5.0, 4.0, 2.0]), ("y.c", [2.0, 2.0, None, None])]
    [x] = run_mixed("sumSeriesWithWildcards(*.x.c, 0)")
    assert (x.name, list(x), x.step) == ("x.c", [6, 9.5], 20)


def test_with_wildcards_empty_and_bad():
    assert run("sumSeriesWithWildcards(nothing.*, 1)") == []
    assert run("aggregateWithWildcards(nothing.*, 'sum', 1)") == []
    with pytest.raises(InputError, match="unsupported aggregation function 'nope'"):
        run("aggregateWithWildcards(*.*.*, 'nope', 1)")
    with pytest.raises(InputError, match="parameter 'position' got the string"):
        run("sumSeriesWithWildcards(*.*.*, 'x')")


# -- percentiles -------------------------------------------------------------------------
def test_n_percentile():
    result = run("nPercentile(*.*.*, 50)")
    # a.x.c: 1 3 4 -> rank ceil(2) = 2 -> 3; a.y.c: 2 2 -> rank ceil(1.5) = 2 -> 2;
    # b.x.c: 0 5 5 5 -> rank ceil(2.5) = 3 -> 5; b.y.d has no values and is left out
    assert table(result) == [("nPercentile(a.x.c, 50)", [3] * 4),
                             ("nPercentile(a.y.c, 50)", [2] * 4),
                             ("nPercentile(b.x.c, 50)", [5] * 4)]
    assert result[0].tags == {"name": "a.x.c", "nPercentile": "50.0"}  # a float parameter, as graphite-web tags it
    assert result[0].path_expression == "nPercentile(a.x.c, 50)"
    # 99.5: rank past the last -> the largest; 1: rank 0 -> the smallest
    assert table(run("nPercentile(a.x.c, 99.5)")) == [("nPercentile(a.x.c, 99.5)", [4] * 4)]
    assert table(run("nPercentile(b.x.c, 1)")) == [("nPercentile(b.x.c, 1)", [0] * 4)]
    assert run("nPercentile(nothing.*, 50)") == []


def test_percentile_of_series():
    result = run("percentileOfSeries(*.*.*, 50)")
    # rows: (1,2,5,-) (-,2,5,-) (3,-,5,-) (4,-,0,-)
    assert table(result) == [("percentileOfSeries(*.*.*,50)", [2, 5, 5, 4])]
    assert result[0].tags == {"name": "percentileOfSeries(*.*.*,50)"}
    interpolated = run("percentileOfSeries(*.*.*, 50, true)")
    # row 1: 1 2 5, position 2 -> 2; row 3: 3 5, position 1.5 -> 3 + 0.5 * 2 = 4
    assert list(interpolated[0]) == [2, 3.5, 4.0, 2.0]
    assert run("percentileOfSeries(b.y.d, 50)")[0] == [None] * 4
    assert run("percentileOfSeries(nothing.*, 50)") == []


def test_percentile_of_series_mismatched_steps():
    [series] = run_mixed("percentileOfSeries(*.*.c, 90, true)")
    # 20 s rows: a.x.c (1, 3.5), b.x.c (5, 6), a.y.c (1.5, 3.5)
    assert series.step == 20 and list(series) == [5, 6]


@pytest.mark.parametrize("target", ["nPercentile(a.x.c, 0)", "percentileOfSeries(*.*.*, -1)",
                                    "percentileOfSeries(*.*.*, 100.5)"])
def test_percentile_out_of_range(target):
    with pytest.raises(InputError, match="percentile must be above 0 and at most 100"):
        run(target)


def test_percentile_needs_a_number():
    with pytest.raises(InputError, match="parameter 'n' got the string"):
        run("nPercentile(a.x.c, 'x')")


# -- mapSeries / reduceSeries ------------------------------------------------------------
DISKS = {
    "srv.web1.disk.used": [1, 2, None],
    "srv.web1.disk.total": [4, 4, 4],
    "srv.web2.disk.used": [3, 3, 3],
    "srv.web2.disk.total": [6, None, 6],
    "srv.web2.disk.free": [3, 3, 3],
}


@pytest.fixture
def ratio_function():
    """A test-only two-argument function, registered under a unique name."""
    name = "testRatioSeries"

    @function("Combine", Param("a", "seriesList", required=True),
              Param("b", "seriesList", required=True), name=name)
    def ratio(context, a, b):
        [top], [bottom] = a, b
        values = [None if x is None or not y else x / y for x, y in zip(top, bottom)]
        return [top.copy(name="ratio(%s,%s)" % (top.name, bottom.name), values=values)]
    yield name
    del registry.FUNCTIONS[name]


def test_map_series_groups_by_nodes():
    source = MemorySource({name: (0, 10, values) for name, values in DISKS.items()})
    context = Context(start=-10, end=20, now=20, source=source)
    from torus.graphite.grammar import parse
    groups = context.value(parse("mapSeries(srv.*.disk.*, 1)"))  # what reduceSeries receives
    assert [[s.name for s in group] for group in groups] == [
        ["srv.web1.disk.total", "srv.web1.disk.used"],
        ["srv.web2.disk.free", "srv.web2.disk.total", "srv.web2.disk.used"]]
    by_kind = context.value(parse("map(srv.*.disk.*, 3)"))
    assert [[s.name for s in group] for group in by_kind] == [
        ["srv.web1.disk.total", "srv.web2.disk.total"],
        ["srv.web1.disk.used", "srv.web2.disk.used"], ["srv.web2.disk.free"]]
    assert context.value(parse("mapSeries(nothing.*, 1)")) == []


def test_reduce_series(ratio_function):
    target = "reduceSeries(mapSeries(srv.*.disk.*, 1), '%s', 3, 'used', 'total')" % ratio_function
    result = run(target, DISKS)
    assert table(result) == [("srv.web1.disk.reduce.testRatioSeries", [0.25, 0.5, None]),
                             ("srv.web2.disk.reduce.testRatioSeries", [0.5, None, 0.5])]
    # the short name, and matchers in another order
    result = run("reduce(mapSeries(srv.*.disk.*, 1), '%s', 3, 'total', 'used')"
                 % ratio_function, DISKS)
    assert [list(s) for s in result] == [[4.0, 2.0, None], [2.0, None, 2.0]]


def test_reduce_series_with_a_registered_function():
    # group() hands back its first argument first: the 'used' series, renamed
    result = run("reduceSeries(mapSeries(srv.*.disk.*, 1), 'group', 3, 'used', 'free')",
                 {name: values for name, values in DISKS.items() if "web2" in name})
    assert table(result) == [("srv.web2.disk.reduce.group", [3, 3, 3])]
    # a plain series list works as one list
    result = run("reduceSeries(srv.web2.disk.*, 'group', 3, 'total')", DISKS)
    assert table(result) == [("srv.web2.disk.reduce.group", [6, None, 6])]
    assert run("reduceSeries(mapSeries(nothing.*, 1), 'group', 1, 'x')", DISKS) == []


@pytest.mark.parametrize("target, message", [
    ("reduceSeries(mapSeries(srv.*.disk.*, 1), 'nope', 3, 'used')", "unknown function 'nope'"),
    ("reduceSeries(mapSeries(srv.*.disk.*, 1), 'group', 9, 'used')", "has no node 9"),
    ("reduceSeries(mapSeries(srv.*.disk.*, 1), 'group', 3, 'used', 'free')",
     "no series matches 'free' for srv.web1.disk.reduce.group"),
    ("reduceSeries(mapSeries(srv.*.disk.*, 1), 'highest', 3, 'used', 'total')",
     "highest: parameter 'n' got a series list"),
    ("reduceSeries(mapSeries(srv.*.disk.*, 1), 'group', 3)", "'reduceMatchers' is required"),
    ("aliasByNode(mapSeries(srv.*.disk.*, 1), 1)", "got a list of series lists"),
])
def test_reduce_series_bad_input(target, message):
    with pytest.raises(InputError, match=message):
        run(target, DISKS)


# -- applyByNode -------------------------------------------------------------------------
def test_apply_by_node():
    result = run("applyByNode(srv.*.disk.used, 1, 'sumSeriesWithWildcards(%.disk.*, 3)')", DISKS)
    assert table(result) == [("srv.web1.disk", [5, 6, 4]), ("srv.web2.disk", [12, 6, 12])]
    assert [s.path_expression for s in result] == ["srv.web1", "srv.web2"]


def test_apply_by_node_new_name_and_sorted_prefixes():
    data = {"z.q": [1], "a.q": [2], "a.r": [3]}
    result = run("applyByNode(*.*, 0, 'highest(%.*, 1)', '%.top')", data)
    assert table(result) == [("a.top", [3]), ("z.top", [1])]
    # the whole name as prefix, several results per prefix
    result = run("applyByNode(a.*, 1, 'group(%, %)')", data)
    assert [s.name for s in result] == ["a.q", "a.q", "a.r", "a.r"]


def test_apply_by_node_evaluates_over_the_same_window():
    source = MemorySource({"h.a.x": (0, 10, [1, 2, 3])})
    evaluate(source, "applyByNode(h.*.x, 1, 'aliasByNode(%.x, 1)')", -10, 20)
    assert source.calls == [("h.*.x", -10, 20), ("h.a.x", -10, 20)]


def test_apply_by_node_empty_and_bad():
    assert run("applyByNode(nothing.*, 1, 'sumSeries(%.*)')") == []
    with pytest.raises(InputError, match="target:"):
        run("applyByNode(a.x.c, 0, 'sumSeries(%.*')")
    with pytest.raises(InputError, match="parameter 'templateFunction' is required"):
        run("applyByNode(a.x.c, 0)")


# -- seriesByTag, catalogue, aggregations ----------------------------------------------------
def test_series_by_tag_is_declared_for_the_catalogue():
    registry.load()
    described = registry.catalogue()["seriesByTag"]
    assert described["group"] == "Special"
    assert described["params"] == [{"name": "tagExpressions", "type": "string",
                                    "required": True, "multiple": True}]
    with pytest.raises(InputError, match="answered by the data source"):
        registry.FUNCTIONS["seriesByTag"].func(None, "name=cpu")
    # the evaluator still hands a call to the source
    assert [s.name for s in run("seriesByTag('host=b')", TAGGED)] == [
        "cpu;dc=x;host=b", "mem;dc=y;host=b"]


def test_catalogue_entries_follow_graphite():
    catalogue = registry.catalogue()
    assert catalogue["map"]["params"] == catalogue["mapSeries"]["params"]
    assert catalogue["reduce"]["function"].startswith("reduce(seriesLists, ")
    assert catalogue["groupByNode"]["function"] == (
        "groupByNode(seriesList, nodeNum, callback='average')")
    assert "sumSeries" in catalogue["groupByNodes"]["params"][1]["options"]
    assert catalogue["highest"]["group"] == "Filter Series"
    assert catalogue["removeAboveValue"]["group"] == "Filter Data"
    assert catalogue["sortByName"]["group"] == "Sorting"
    assert catalogue["nPercentile"]["group"] == "Calculate"
    assert catalogue["legendValue"]["params"][1]["name"] == "valuesTypes"
    for name in ("aliasByNode", "groupByTags", "applyByNode", "percentileOfSeries"):
        assert catalogue[name]["description"]


def test_aggregations_multiply_and_range_as_graphite():
    assert aggregations.get("multiply")([2, None, 3]) is None
    assert aggregations.get("multiply")([2, 3]) == 6.0
    assert aggregations.get("range")([2, None, 5]) == 3.0
    assert isinstance(aggregations.get("range")([2, 5]), float)


@pytest.mark.parametrize("func", sorted(combine.SKIP_NULLS | {"avg", "total", "current"}))
@pytest.mark.parametrize("xff", [0.0, 0.5, 1.0, 1.5])
def test_reduce_rows_of_full_and_gapped_rows_reduce_the_known_values(func, xff):
    """Rows without a null are reduced at once (``aggregations.OF_KNOWN``); every row gives
    what the reduction of its known values gives, the xFilesFactor rule applied."""
    rng = random.Random(func)
    flat = [Series("s%d" % n, 0, 600, 60, [None if rng.random() < 0.1 else rng.uniform(-5, 5)
                                          for _ in range(10)]) for n in range(4)]
    flat.append(Series("full", 0, 600, 60, [1.5] * 10))
    reduce_row = aggregations.get(func)
    expected = []
    for row in zip(*flat):
        known = [value for value in row if value is not None]
        expected.append(reduce_row(known) if known and len(known) / len(flat) >= xff else None)
    assert combine.reduce_rows(flat, func, xff) == expected
    assert combine.reduce_rows(flat[-1:] * 3, func, xff) == [
        reduce_row([1.5] * 3) if xff <= 1 else None] * 10
