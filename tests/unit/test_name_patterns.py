"""Graphite globs and whole-name regular expressions (torus.name_patterns) for torus_delete."""
import pytest

from torus.name_patterns import PatternError, compile_glob, compile_regex, is_glob


@pytest.mark.parametrize("glob,name,expected", [
    ("stats.*.count", "stats.web.count", True),
    ("stats.*.count", "stats.web.eu.count", False),  # * stays inside one component
    ("stats.*", "stats", False),
    ("stats.*", "stats.", True),
    ("stats.web?", "stats.web1", True),
    ("stats.web?", "stats.web.", False),
    ("stats.web[12]", "stats.web2", True),
    ("stats.web[12]", "stats.web3", False),
    ("stats.web[!12]", "stats.web3", True),
    ("stats.web[!12]", "stats.web.", False),
    ("stats.web[a-c]", "stats.webb", True),
    ("stats.{cpu,mem}.x", "stats.mem.x", True),
    ("stats.{cpu,mem}.x", "stats.disk.x", False),
    ("stats.{cpu,m*}.x", "stats.memory.x", True),
    ("a.b", "aXb", False),  # a dot is a dot
    ("a+b(c)", "a+b(c)", True),  # regex characters stand for themselves
    ("stats.web", "stats.web.more", False),  # the whole name
    ("x;tag=a", "x;tag=a", True),
])
def test_glob_matches_whole_names_component_by_component(glob, name, expected):
    assert (compile_glob(glob).match(name) is not None) is expected


@pytest.mark.parametrize("glob", ["a.[bc", "a.{b,c", "a.b}", "a.]", "a.[]", "a.[z-a]"])
def test_malformed_globs_are_refused(glob):
    with pytest.raises(PatternError):
        compile_glob(glob)


def test_regex_is_anchored_at_both_ends():
    regex = compile_regex(r"c\.a|c\.b")
    assert regex.match("c.a") and regex.match("c.b")
    assert not regex.match("c.ab") and not regex.match("xc.a")
    with pytest.raises(PatternError):
        compile_regex("c.(")


def test_is_glob():
    assert is_glob("a.*") and is_glob("a.{b}") and is_glob("a?") and not is_glob("a.b;t=v")
