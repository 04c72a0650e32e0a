"""Graphite path patterns over the name index of every schema, and seriesByTag matching.

A pattern is split on "." into nodes, each matched against one level of the tree
(``Timeseries.nodes``), as graphite-web 1.1's standard finder matches directory
entries:

* ``{a,b}`` expands (innermost braces first, several per node, any node) into
  variants, and a node matches when one of its variants does;
* a variant is an ``fnmatch`` glob: ``*``, ``?``, ``[0-9]``, ``[ab]``, ``[!a]``,
  case-sensitive, never crossing a "." (it matches one node);
* a node whose variants are all literal (``cpu``, ``{user,system}``) is looked up
  exactly (``Timeseries.lookup``), without listing its siblings;
* nodes before the last match branches only; the last matches leaves and branches.

Names holding tags (``cpu;host=a``) are not in the tree: a pattern holding ";" is
looked up as an exact tagged name, and ``tagged`` implements seriesByTag.

Deliberate differences from graphite-web: "." inside braces splits nodes there too
(as in graphite-web), but ``**`` is an ordinary ``*`` (graphite-web's globstar walks
whole subtrees; here that would read the whole index); backslash escapes are not
interpreted; a node that is both a leaf and a branch is one ``Node`` with both flags
(graphite-web yields a leaf node and a branch node).
"""
from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

from kairos.names import Node

from .errors import InputError

_BRACES = re.compile(r"\{([^{}]*)\}")
_WILD = re.compile(r"[*?\[]")
#: seriesByTag's ``tag<op>spec`` (tag: no ";", "!", "="; spec: no ";")
_TAGSPEC = re.compile(r"^([^;!=]+)(!?=~?)([^;]*)$")


def expand_braces(text: str) -> List[str]:
    """Every variant of ``text`` with its ``{a,b}`` groups expanded (innermost first), once
    each, in first-seen order. An unbalanced brace stays a literal character."""
    found = _BRACES.search(text)
    if found is None:
        return [text]
    out: Dict[str, None] = {}
    for choice in found.group(1).split(","):
        for variant in expand_braces(text[:found.start()] + choice + text[found.end():]):
            out[variant] = None
    return list(out)


def is_pattern(text: str) -> bool:
    """Whether a path needs matching (graphite-web's test: any of ``* ? [ {``)."""
    return any(char in text for char in "*?[{")


class NodePattern:
    """One node of a path pattern: its literal variants and a regex for the others."""

    def __init__(self, text: str):
        self.text = text
        variants = expand_braces(text)
        self.literals = [v for v in variants if not _WILD.search(v)]
        globs = [v for v in variants if _WILD.search(v)]
        self.regex = re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None
        self._literal_set = set(self.literals)

    @property
    def literal_only(self) -> bool:
        return self.regex is None

    def match(self, name: str) -> bool:
        """Whether a node name matches (an empty name never does)."""
        if not name:
            return False
        return name in self._literal_set or (self.regex is not None
                                             and self.regex.match(name) is not None)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Tuple[NodePattern, ...]:
    """The node patterns of a dotted path pattern (cached: dashboards repeat their targets)."""
    return tuple(NodePattern(part) for part in pattern.split("."))


def _join(parent: str, name: str) -> str:
    return name if not parent else parent + "." + name


def _level(ts, parents: Sequence[str], part: NodePattern) -> List[Node]:
    """The nodes under ``parents`` matching one node pattern, in one timeseries."""
    if part.literal_only:
        paths = [_join(p, literal) for p in parents for literal in part.literals if literal]
        return ts.lookup(paths) if paths else []
    found: List[Node] = []
    for parent in parents:
        found.extend(node for node in ts.nodes(parent) if part.match(node.name))
    return found


def find_in(ts, pattern: str) -> List[Node]:
    """The nodes of one timeseries matching a pattern, sorted by path."""
    if not pattern:
        return []
    if ";" in pattern:
        return [_tagged_node(pattern)] if pattern in set(ts.tagged_names()) else []
    parts = compile_pattern(pattern)
    parents = [""]
    for depth, part in enumerate(parts):
        found = _level(ts, parents, part)
        if depth == len(parts) - 1:
            return sorted(found, key=lambda node: node.path)
        parents = [node.path for node in found if node.is_branch]
        if not parents:
            return []
    return []


def _tagged_node(name: str) -> Node:
    """A stored tagged name as a leaf (named, as graphite-web names it, after its last ".")."""
    return Node(name.rsplit(".", 1)[-1], name, True, False)


def find(config, pattern: str) -> List[Node]:
    """The nodes matching ``pattern`` in every schema of ``config``, merged by path (a path
    that is a leaf in one schema and a branch in another is both), sorted by path."""
    merged: Dict[str, Node] = {}
    for ts in _storages(config):
        for node in find_in(ts, pattern):
            seen = merged.get(node.path)
            if seen is not None:
                node = seen._replace(is_leaf=seen.is_leaf or node.is_leaf,
                                     is_branch=seen.is_branch or node.is_branch)
            merged[node.path] = node
    return [merged[path] for path in sorted(merged)]


def leaves(config, pattern: str) -> List[Tuple[str, object]]:
    """``(name, schema)`` of every stored name matching ``pattern``: the first schema in
    configuration order holding it, sorted by name."""
    owner: Dict[str, object] = {}
    for schema in config.schemas.values():
        for node in find_in(schema.timeseries, pattern):
            if node.is_leaf and node.path not in owner:
                owner[node.path] = schema
    return [(name, owner[name]) for name in sorted(owner)]


def _storages(config) -> List[object]:
    """The timeseries of every schema, in configuration order."""
    return [schema.timeseries for schema in config.schemas.values()]


# -- seriesByTag ------------------------------------------------------------------------------
def parse_tags(name: str) -> Optional[Dict[str, str]]:
    """The tags of a stored ``metric;tag=value;...`` name, ``name`` included (the metric
    without leading "~"); None for a name graphite-web could not parse."""
    metric, *segments = name.split(";")
    if not metric or not metric.lstrip("~"):
        return None
    tags = {}
    for segment in segments:
        tag, equals, value = segment.partition("=")
        if not equals or not tag or not value or value.startswith("~") \
                or any(char in tag for char in ";!^="):
            return None
        tags[tag] = value
    tags["name"] = metric.lstrip("~")
    return tags


class TagSpec:
    """One seriesByTag expression: ``tag=value``, ``tag!=value``, ``tag=~regex``,
    ``tag!=~regex``. A missing tag reads as the empty value; a regex is anchored at the
    start of the value (``re.match``)."""

    def __init__(self, text: str):
        found = _TAGSPEC.match(text) if isinstance(text, str) else None
        if found is None:
            raise InputError("invalid tag expression %r: use tag=value, tag!=value, "
                             "tag=~regex or tag!=~regex" % (text,))
        self.tag, self.operator, self.spec = found.groups()
        self.regex: Optional[Pattern[str]] = None  # for =~ and !=~
        if self.operator.endswith("~"):
            try:
                self.regex = re.compile(self.spec)
            except re.error as err:
                raise InputError("invalid regular expression in %r: %s" % (text, err)) from None
        self.needs_value = not self.matches("")

    def matches(self, value: str) -> bool:
        if self.regex is None:  # = or !=
            return (value == self.spec) == (self.operator == "=")
        found = self.regex.match(value) is not None
        return found if self.operator == "=~" else not found


def parse_specs(expressions: Iterable[str]) -> List[TagSpec]:
    """The expressions of a seriesByTag call; at least one must need a non-empty value (else
    every series would match)."""
    specs = [TagSpec(text) for text in expressions]
    if not any(spec.needs_value for spec in specs):
        raise InputError("at least one tag expression must require a non-empty value")
    return specs


def tagged_names(config) -> List[Tuple[str, object]]:
    """``(name, schema)`` of every stored tagged name, with the first schema holding it."""
    owner: Dict[str, object] = {}
    for schema in config.schemas.values():
        for name in schema.timeseries.tagged_names():
            owner.setdefault(name, schema)
    return sorted(owner.items(), key=lambda item: item[0])


def select(names: Iterable[Tuple[str, object]], specs: Sequence[TagSpec]
           ) -> List[Tuple[str, object, Dict[str, str]]]:
    """``(name, schema, tags)`` of the names whose tags satisfy every spec."""
    out = []
    for name, schema in names:
        tags = parse_tags(name)
        if tags is not None and all(spec.matches(tags.get(spec.tag, "")) for spec in specs):
            out.append((name, schema, tags))
    return out


def tagged(config, expressions: Sequence[str]) -> List[Tuple[str, object]]:
    """``(name, schema)`` of the stored tagged names matching every expression (seriesByTag),
    sorted by name; the schema is the first in configuration order holding the name."""
    specs = parse_specs(expressions)
    return [(name, schema) for name, schema, _ in select(tagged_names(config), specs)]

