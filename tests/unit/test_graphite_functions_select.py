"""Render functions that rename, filter and sort series (alias*, legendValue, highest*,
lowest*, *Above, limit, exclude, grep, remove*, sortBy*), on an in-memory source.

Expected names, values and orders follow graphite-web 1.1.8's rules, worked out by hand.
"""
import pytest

from torus.graphite.errors import InputError
from tests.unit.graphite_memory import MemorySource, evaluate

#: four points at 0, 10, 20, 30
DATA = {
    "a.x.c": [1, None, 3, 4],       # avg 8/3, max 4, min 1, last 4
    "a.y.c": [2, 2, None, None],    # avg 2,   max 2, min 2, last 2
    "b.x.c": [5, 5, 5, 0],          # avg 3.75, max 5, min 0, last 0
    "b.y.d": [None, None, None, None],
}
TAGGED = {
    "cpu;dc=x;host=a": [1, None, 3, 4],
    "cpu;dc=x;host=b": [2, 2, None, 1],
    "mem;dc=y;host=b": [7, 7, 7, 7],
}


def run(target, data=DATA, step=10):
    stored = {name: (0, step, values) for name, values in data.items()}
    points = max(len(values) for values in data.values())
    return evaluate(MemorySource(stored), target, -step, step * (points - 1))


def names(result):
    return [series.name for series in result]


# -- alias ------------------------------------------------------------------------
def test_alias_by_node_nodes_negative_and_missing():
    assert names(run("aliasByNode(a.*.c, 1)")) == ["x", "y"]
    assert names(run("aliasByNode(*.*.*, 0, -1)")) == ["a.c", "a.c", "b.c", "b.d"]
    # a node past the end is looked up as a tag, and there is none: ''
    assert names(run("aliasByNode(a.x.c, 1, 7)")) == ["x."]


def test_alias_by_node_keeps_values_tags_and_path_expression():
    [series] = run("aliasByNode(a.x.c, 2)")
    assert list(series) == [1, None, 3, 4]
    assert series.tags == {"name": "a.x.c"}
    assert series.path_expression == "a.x.c"


def test_alias_by_node_reads_tags_and_function_made_names():
    result = run("aliasByNode(seriesByTag('dc=x'), 'host', 0)", TAGGED)
    assert names(result) == ["a.cpu", "b.cpu"]
    # a name made by a function: the nodes of its first path
    assert names(run("aliasByNode(aliasSub(a.x.c, '^.*$', 'sumSeries(q.r.s,t)'), 1)")) == ["r"]
    # graphite parses the longest valid start of the name
    assert names(run("aliasByNode(legendValue(a.x.c, 'last'), 1)")) == ["x"]


def test_alias_by_tags():
    result = run("aliasByTags(seriesByTag('dc=x'), 'host', 'name')", TAGGED)
    assert names(result) == ["a.cpu", "b.cpu"]
    assert names(run("aliasByTags(seriesByTag('dc=y'), 'nope', 'dc')", TAGGED)) == [".y"]


def test_alias_sub_backreferences_and_grafana_wrapping():
    assert names(run(r"aliasSub(*.*.c, '^(\w)\.(\w)', '\2-\1')")) == ["x-a.c", "y-a.c", "x-b.c"]
    # what Grafana 11.6+ sends around every target (refId A)
    assert names(run(r'aliasSub(alias(a.x.c, "load"),"(^.*$)","\1 A")')) == ["load A"]
    assert names(run(r"aliasSub(a.y.c, '(?P<first>\w)\.', '\g<first>:')")) == ["a:y:c"]
    assert names(run("aliasSub(a.x.c, 'zzz', 'q')")) == ["a.x.c"]
    [series] = run("aliasSub(a.x.c, 'a', 'b')")
    assert series.path_expression == "a.x.c" and series.tags == {"name": "a.x.c"}


@pytest.mark.parametrize("target, message", [
    ("aliasSub(a.x.c, '(', 'x')", "aliasSub: invalid regular expression"),
    (r"aliasSub(a.x.c, '(a)', '\2')", "aliasSub: invalid replacement"),
    (r"aliasSub(a.x.c, 'a', '\d')", "aliasSub: invalid replacement"),
    ("aliasSub(nothing.*, '(', 'x')", "aliasSub: invalid regular expression"),
    ("aliasByNode(a.x.c)", "parameter 'nodes' is required"),
    ("aliasByNode(a.x.c, 1.5)", "parameter 'nodes' got the number 1.5"),
])
def test_alias_bad_arguments(target, message):
    with pytest.raises(InputError, match=message):
        run(target)


def test_alias_by_metric():
    assert names(run("aliasByMetric(a.*.c)")) == ["c", "c"]
    renamed = "aliasByMetric(aliasSub(a.x.c, '^.*$', 'sumSeries(q.r.s,t)'))"
    assert names(run(renamed)) == ["s"]
    # the last node first, then anything after a comma goes
    renamed = "aliasByMetric(aliasSub(a.x.c, '^.*$', 'sumSeries(q.r.s,t.u)'))"
    assert names(run(renamed)) == ["u"]
    assert names(run("aliasByMetric(seriesByTag('dc=y'))", TAGGED)) == ["mem;dc=y;host=b"]


def test_alias_functions_on_an_empty_list():
    for target in ("aliasByNode(nothing.*, 1)", "aliasByTags(nothing.*, 'x')",
                   "aliasSub(nothing.*, 'a', 'b')", "aliasByMetric(nothing.*)",
                   "legendValue(nothing.*, 'avg')"):
        assert run(target) == []


# -- legendValue --------------------------------------------------------------------
def test_legend_value_plain():
    result = run("legendValue(*.*.*, 'avg', 'last', 'nope')")
    assert names(result) == [
        "a.x.c (avg: 2.6666666666666665) (last: 4) (nope: (?))",
        "a.y.c (avg: 2.0) (last: 2) (nope: (?))",
        "b.x.c (avg: 3.75) (last: 0) (nope: (?))",
        "b.y.d (avg: None) (last: None) (nope: (?))",
    ]


def test_legend_value_graphite_types_of_values():
    [series] = run("legendValue(b.x.c, 'count', 'range', 'multiply', 'total')")
    assert series.name == "b.x.c (count: 4) (range: 5.0) (multiply: 0.0) (total: 15)"
    [empty] = run("legendValue(b.y.d, 'count', 'multiply')")
    assert empty.name == "b.y.d (count: 0) (multiply: None)"


def test_legend_value_with_units():
    data = {"big": [1500, 2048000], "none": [None, None]}
    result = run("legendValue(*, 'avg', 'max', 'si')", data)
    assert names(result) == [
        "big                 avg  1.02M     max  2.05M     ",
        "none                avg  None      max  None      ",
    ]
    [binary] = run("legendValue(big, 'min', 'binary')", data)
    assert binary.name == "big                 min  1.46Ki    "
    [whole] = run("legendValue(big, 'last', 'nope', 'si')", {"big": [3000]})
    assert whole.name == "big                 last 3.00k     nope (?)       "


def test_legend_value_without_types_keeps_names():
    assert names(run("legendValue(a.x.c)")) == ["a.x.c"]


# -- highest / lowest ---------------------------------------------------------------
def test_highest_default_average_and_ties_keep_order():
    assert names(run("highest(*.*.*, 2)")) == ["b.x.c", "a.x.c"]
    ties = {"t1": [1, 2], "t2": [2, 1], "t3": [0, 0], "t4": [None, None]}
    assert names(run("highest(t*, 3)", ties)) == ["t1", "t2", "t3"]
    assert names(run("lowest(t*, 3)", ties)) == ["t4", "t3", "t1"]


@pytest.mark.parametrize("target, expected", [
    ("highest(*.*.*, 3, 'max')", ["b.x.c", "a.x.c", "a.y.c"]),
    ("highest(*.*.*, 10, 'count')", ["b.x.c", "a.x.c", "a.y.c", "b.y.d"]),
    ("highestMax(*.*.*, 1)", ["b.x.c"]),
    ("highestAverage(*.*.*, 2)", ["b.x.c", "a.x.c"]),
    ("highestCurrent(*.*.*, 3)", ["a.x.c", "a.y.c", "b.x.c"]),
    ("lowest(*.*.*, 2)", ["b.y.d", "a.y.c"]),
    ("lowest(*.*.*, 2, 'sum')", ["b.y.d", "a.y.c"]),
    ("lowest(*.*.*, 2, 'min')", ["b.y.d", "b.x.c"]),
    ("lowestAverage(*.*.*, 3)", ["b.y.d", "a.y.c", "a.x.c"]),
    ("lowestCurrent(*.*.*, 4)", ["b.y.d", "b.x.c", "a.y.c", "a.x.c"]),
    ("highest(*.*.*, 0)", []),
])
def test_highest_lowest_rank(target, expected):
    assert names(run(target)) == expected


def test_highest_multiply_is_none_with_a_gap():
    data = {"p": [2, None], "q": [1, 1]}
    assert names(run("highest(*, 1, 'multiply')", data)) == ["q"]


def test_highest_ranks_consolidated_values():
    # mismatched steps do not matter: each series is ranked on its own values
    stored = {"s.fine": (0, 10, [1, 9, 1, 1]), "s.coarse": (0, 20, [4, 4])}
    result = evaluate(MemorySource(stored), "highest(s.*, 1, 'max')", -10, 30)
    assert names(result) == ["s.fine"]


def test_highest_bad_arguments():
    with pytest.raises(InputError, match="unsupported aggregation function 'sumSeries'"):
        run("highest(*.*.*, 1, 'sumSeries')")
    with pytest.raises(InputError, match="parameter 'n' is required"):
        run("highestMax(*.*.*)")
    with pytest.raises(InputError, match="parameter 'n' got the string"):
        run("lowest(*.*.*, 'x')")


def test_rankings_of_an_empty_list():
    for target in ("highest(nothing.*, 2)", "lowestCurrent(nothing.*, 1)",
                   "highestMax(nothing.*, 1)", "maximumAbove(nothing.*, 0)"):
        assert run(target) == []


# -- *Above ---------------------------------------------------------------------------
@pytest.mark.parametrize("target, expected", [
    ("maximumAbove(*.*.*, 4)", ["b.x.c"]),
    ("maximumAbove(*.*.*, -1)", ["a.x.c", "a.y.c", "b.x.c"]),
    ("minimumAbove(*.*.*, 1)", ["a.y.c"]),
    ("minimumAbove(*.*.*, 0.5)", ["a.x.c", "a.y.c"]),
    ("currentAbove(*.*.*, 0)", ["a.x.c", "a.y.c"]),
    ("currentAbove(*.*.*, 2)", ["a.x.c"]),
    ("averageAbove(*.*.*, 2)", ["a.x.c", "b.x.c"]),
    ("averageAbove(*.*.*, 3.75)", []),
])
def test_above_filters(target, expected):
    assert names(run(target)) == expected


def test_above_filters_keep_series_untouched():
    [series] = run("maximumAbove(a.x.c, 0)")
    assert series.name == "a.x.c" and list(series) == [1, None, 3, 4]


# -- limit, exclude, grep -----------------------------------------------------------
def test_limit():
    assert names(run("limit(*.*.*, 2)")) == ["a.x.c", "a.y.c"]
    assert names(run("limit(*.*.*, 10)")) == ["a.x.c", "a.y.c", "b.x.c", "b.y.d"]
    assert run("limit(*.*.*, 0)") == []
    assert run("limit(nothing.*, 3)") == []


def test_exclude_and_grep_search_anywhere_in_the_name():
    assert names(run("exclude(*.*.*, 'x')")) == ["a.y.c", "b.y.d"]
    assert names(run(r"grep(*.*.*, '\.c$')")) == ["a.x.c", "a.y.c", "b.x.c"]
    assert names(run("grep(*.*.*, '^b')")) == ["b.x.c", "b.y.d"]
    assert names(run("exclude(aliasByNode(*.*.*, 1), '^x$')")) == ["y", "y"]
    assert run("grep(nothing.*, 'a')") == [] and run("exclude(nothing.*, 'a')") == []


@pytest.mark.parametrize("target", ["grep(*.*.*, '[')", "exclude(*.*.*, '(?P<')",
                                    "grep(nothing.*, '*')"])
def test_exclude_and_grep_bad_regex_is_a_400(target):
    with pytest.raises(InputError, match="invalid regular expression"):
        run(target)


# -- removeAbove/Below ----------------------------------------------------------------
def test_remove_above_and_below_value():
    result = run("removeAboveValue(*.*.*, 3)")
    assert names(result) == ["removeAboveValue(a.x.c, 3)", "removeAboveValue(a.y.c, 3)",
                             "removeAboveValue(b.x.c, 3)", "removeAboveValue(b.y.d, 3)"]
    assert [list(s) for s in result] == [[1, None, 3, None], [2, 2, None, None],
                                         [None, None, None, 0], [None] * 4]
    assert result[0].path_expression == "removeAboveValue(a.x.c, 3)"
    assert result[0].tags == {"name": "a.x.c"}
    [below] = run("removeBelowValue(a.x.c, 2.5)")
    assert below.name == "removeBelowValue(a.x.c, 2.5)" and list(below) == [None, None, 3, 4]
    assert run("removeBelowValue(nothing.*, 1)") == []


def test_remove_above_and_below_percentile():
    # a.x.c: values 1, 3, 4; 50th percentile rank ceil(0.5 * 4) = 2 -> 3
    [above] = run("removeAbovePercentile(a.x.c, 50)")
    assert above.name == "removeAbovePercentile(a.x.c, 50)"
    assert list(above) == [1, None, 3, None]
    assert above.tags == {"name": "a.x.c", "nPercentile": "50.0"}  # a float parameter, as graphite-web tags it
    [below] = run("removeBelowPercentile(a.x.c, 50)")
    assert list(below) == [None, None, 3, 4]
    # b.x.c: 0, 5, 5, 5; 75.5th: rank ceil(3.775) = 4 -> 5
    [high] = run("removeBelowPercentile(b.x.c, 75.5)")
    assert high.name == "removeBelowPercentile(b.x.c, 75.5)" and list(high) == [5, 5, 5, None]


def test_remove_percentile_of_a_series_without_values_only_renames():
    [series] = run("removeAbovePercentile(b.y.d, 50)")
    assert series.name == "removeAbovePercentile(b.y.d, 50)"
    assert list(series) == [None] * 4 and "nPercentile" not in series.tags


@pytest.mark.parametrize("target", ["removeAbovePercentile(a.x.c, 0)",
                                    "removeBelowPercentile(a.x.c, 101)",
                                    "removeBelowPercentile(a.x.c, -5)"])
def test_remove_percentile_out_of_range(target):
    with pytest.raises(InputError, match="percentile must be above 0 and at most 100"):
        run(target)


# -- sorting ----------------------------------------------------------------------------
@pytest.mark.parametrize("target, expected", [
    ("sortBy(*.*.*)", ["b.y.d", "a.y.c", "a.x.c", "b.x.c"]),
    ("sortBy(*.*.*, 'max', true)", ["b.x.c", "a.x.c", "a.y.c", "b.y.d"]),
    ("sortBy(*.*.*, 'last')", ["b.y.d", "b.x.c", "a.y.c", "a.x.c"]),
    ("sortBy(*.*.*, reverse=true)", ["b.x.c", "a.x.c", "a.y.c", "b.y.d"]),
    ("sortByMaxima(*.*.*)", ["b.x.c", "a.x.c", "a.y.c", "b.y.d"]),
])
def test_sort_by_values(target, expected):
    assert names(run(target)) == expected


def test_sort_by_name():
    data = {"a10": [1], "a9": [1], "A1": [1], "b2": [1]}
    assert names(run("sortByName(*)", data)) == ["A1", "a10", "a9", "b2"]
    assert names(run("sortByName(*, true)", data)) == ["A1", "a9", "a10", "b2"]
    assert names(run("sortByName(*, true, true)", data)) == ["b2", "a10", "a9", "A1"]
    assert names(run("sortByName(*, reverse=true)", data)) == ["b2", "a9", "a10", "A1"]


def test_sorting_an_empty_list_and_bad_aggregation():
    assert run("sortBy(nothing.*)") == [] and run("sortByName(nothing.*)") == []
    assert run("sortByMaxima(nothing.*)") == []
    with pytest.raises(InputError, match="unsupported aggregation function 'nope'"):
        run("sortBy(*.*.*, 'nope')")
