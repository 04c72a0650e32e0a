"""The nodes and tags of a series name, as aliasByNode, groupByNode and mapSeries read them.

A *node* is an integer index into the dotted name (``a.b.c`` node 1 is ``b``,
node -1 is ``c``); anything else, or an index past the end, names a tag (``''``
when the series has no such tag). A name that ends in ``)`` was made by a
function (``sumSeries(a.b.c)``): its nodes are those of the first path in it.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

from .grammar import Call, Path, TargetError, parse
from .series import Series

NodeOrTag = Union[int, str]


def first_path(name: str) -> Optional[str]:
    """The first path expression of a function-made name, following first arguments."""
    try:
        node = parse(name)
    except TargetError:
        # graphite parses the longest valid start: 'a.b (avg: 2)' gives 'a.b'
        head = name.split(None, 1)[0] if name.strip() else ""
        if head == name:
            return None
        return first_path(head)
    while isinstance(node, Call) and node.args:
        node = node.args[0]
    return node.text if isinstance(node, Path) else None


def node_or_tag(series: Series, key: NodeOrTag, path: Optional[str] = None) -> str:
    """Node ``key`` of ``path`` (default: the series name, tags cut off), else tag ``key``."""
    if isinstance(key, int) and not isinstance(key, bool):
        nodes = (path or series.name).split(";", 1)[0].split(".")
        if -len(nodes) <= key < len(nodes):
            return nodes[key]
    return series.tags.get(str(key), "")


def node_key(series: Series, keys: Sequence[NodeOrTag]) -> str:
    """The nodes/tags ``keys`` of a series joined by dots (a group key or a new name)."""
    path = first_path(series.name) if series.name.endswith(")") else None
    return ".".join(node_or_tag(series, key, path) for key in keys)
