"""The pure parts of the name index and the finder: entries, ranges, braces, globs, tag specs."""
import pytest

from kairos import names
from kairos.names import Node
from torus.graphite import finder
from torus.graphite.errors import InputError


def test_entries_of_a_name():
    assert names.entries("a.b.c") == [(1, "a", "B"), (2, "a.b", "B"), (3, "a.b.c", "L")]
    assert names.entries("top") == [(1, "top", "L")]
    assert names.entries("cpu;host=a.b") == [(0, "cpu;host=a.b", "T")]
    for odd in ("a..b", ".a", "a.", ""):
        assert names.entries(odd) == []
    assert names.entries_of(["a.b", "a.c", "a.b"]) == [(1, "a", "B"), (2, "a.b", "L"),
                                                       (2, "a.c", "L")]


def test_child_range_and_removal():
    assert names.child_range("") == (1, "", None)
    assert names.child_range("a.b") == (3, "a.b.", "a.b/")
    own, walk = names.removal("a.b.c")
    assert own == (3, "a.b.c", "L")
    assert walk == [((2, "a.b", "B"), 3, "a.b.", "a.b/"), ((1, "a", "B"), 2, "a.", "a/")]
    assert names.removal("x;y=z") == ((0, "x;y=z", "T"), [])
    assert names.removal("a..b") == (None, [])


def test_to_nodes_merges_leaf_and_branch_rows():
    assert names.to_nodes([("a.b", "B"), ("a.a", "L"), ("a.b", "L")]) == [
        Node("a", "a.a", True, False), Node("b", "a.b", True, True)]
    assert names.to_nodes([]) == []


@pytest.mark.parametrize("text, variants", [
    ("abc", ["abc"]),
    ("{a,b}", ["a", "b"]),
    ("x{a,b}y{1,2}", ["xay1", "xay2", "xby1", "xby2"]),
    ("{a,{b,c}}", ["a", "b", "c"]),
    ("{a,a}", ["a"]),
    ("{}", [""]),
    ("{a,b", ["{a,b"]),
    ("a}b{", ["a}b{"]),
])
def test_expand_braces(text, variants):
    assert sorted(finder.expand_braces(text)) == sorted(variants)


@pytest.mark.parametrize("pattern, matching, not_matching", [
    ("cpu", ["cpu"], ["cpu0", "CPU", ""]),
    ("*", ["a", "cpu-1"], [""]),
    ("cpu?", ["cpu0", "cpux"], ["cpu", "cpu10"]),
    ("cpu[0-9]", ["cpu3"], ["cpua", "cpu10"]),
    ("cpu[!0-9]", ["cpua"], ["cpu3"]),
    ("cpu-{1,2}*", ["cpu-1", "cpu-2x"], ["cpu-3", "cpu-"]),
    ("{a,b*}", ["a", "b", "bcd"], ["ab", "c"]),
    ("[ab]c", ["ac", "bc"], ["cc", "abc"]),
])
def test_node_patterns_match_like_fnmatch(pattern, matching, not_matching):
    part = finder.NodePattern(pattern)
    assert all(part.match(name) for name in matching)
    assert not any(part.match(name) for name in not_matching)


def test_literal_nodes_are_recognised():
    assert finder.NodePattern("{user,system}").literal_only
    assert finder.NodePattern("user").literals == ["user"]
    assert not finder.NodePattern("{user,sys*}").literal_only
    assert finder.is_pattern("a.{b}") and not finder.is_pattern("a.b")


@pytest.mark.parametrize("name, tags", [
    ("cpu;host=a;dc=eu", {"name": "cpu", "host": "a", "dc": "eu"}),
    ("~cpu;host=a", {"name": "cpu", "host": "a"}),
    ("a.b;x=1=2", {"name": "a.b", "x": "1=2"}),
    ("cpu;host", None), ("cpu;=a", None), ("cpu;host=", None), (";host=a", None),
    ("cpu;h!st=a", None), ("cpu;host=~a", None),
])
def test_parse_tags(name, tags):
    assert finder.parse_tags(name) == tags


@pytest.mark.parametrize("text, value, result", [
    ("host=a", "a", True), ("host=a", "ab", False), ("host=", "", True),
    ("host!=a", "b", True), ("host!=a", "a", False),
    ("host=~a", "abc", True), ("host=~b", "abc", False), ("host=~^a$", "a", True),
    ("host!=~a", "abc", False), ("host!=~b", "abc", True),
])
def test_tag_specs(text, value, result):
    assert finder.TagSpec(text).matches(value) is result


def test_tag_specs_need_one_non_empty_value():
    assert finder.TagSpec("host=a").needs_value
    assert not finder.TagSpec("host!=a").needs_value
    assert not finder.TagSpec("host=~.*").needs_value
    assert finder.TagSpec("host!=~.*").needs_value
    with pytest.raises(InputError, match="at least one"):
        finder.parse_specs(["host!=a", "dc="])
    for bad in ("host", "=a", "h;x=a", "host==a;b"):
        with pytest.raises(InputError):
            finder.TagSpec(bad)
