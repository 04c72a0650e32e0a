"""The name index: stored stat names as a tree of dotted paths, for Graphite's /metrics/find.

Every engine keeps, next to its data, entries ``(depth, path, kind)``:

* ``kind`` ``"L"`` (leaf): ``path`` is a stored name, ``depth`` its number of components;
* ``kind`` ``"B"`` (branch): ``path`` is a proper prefix of stored names (``a`` and ``a.b``
  for ``a.b.c``);
* ``kind`` ``"T"`` (tagged): ``path`` is a stored name holding tags (``cpu;host=a``), depth 0:
  tagged names are not in the tree;
* the engine's marker that the index was built (see ``Timeseries.nodes``).

The children of ``p`` are then the entries with ``depth = depth(p) + 1`` and
``p. <= path < p/`` ("/" follows "." in every collation kairos uses: binary ones),
one range of an ordered index, so listing them never reads another level or subtree.
Names with an empty component (``a..b``, ``.a``, ``a.``) cannot be a Graphite path
and are left out of the tree (they stay readable by name).
"""
from __future__ import annotations

from typing import Iterable, List, NamedTuple, Optional, Tuple

LEAF, BRANCH, TAGGED = "L", "B", "T"
#: (depth, path, kind)
Entry = Tuple[int, str, str]


class Node(NamedTuple):
    """One node of the name tree: its last component, full path, and what it is (maybe both)."""

    name: str
    path: str
    is_leaf: bool
    is_branch: bool


def is_tagged(name: str) -> bool:
    """Whether a stored name carries Graphite tags (``name;tag=value``)."""
    return ";" in name


def in_tree(name: str) -> bool:
    """Whether an untagged name can be a node path (no empty component)."""
    return bool(name) and "" not in name.split(".")


def own_key(name: str) -> Optional[Tuple[int, str]]:
    """``(depth, path)`` of the entry that says ``name`` is stored (its leaf, or its tagged
    entry at depth 0); None for a name the index cannot hold (an empty component)."""
    if is_tagged(name):
        return 0, name
    return (depth_of(name), name) if in_tree(name) else None


def entries(name: str) -> List[Entry]:
    """The index entries a stored name needs (none for a name that is not a tree path)."""
    if is_tagged(name):
        return [(0, name, TAGGED)]
    if not in_tree(name):
        return []
    parts = name.split(".")
    out = [(depth, ".".join(parts[:depth]), BRANCH) for depth in range(1, len(parts))]
    out.append((len(parts), name, LEAF))
    return out


def entries_of(names: Iterable[str]) -> List[Entry]:
    """The entries of several names, each once, sorted (writers lock rows in one order)."""
    return sorted({entry for name in names for entry in entries(name)})


def depth_of(path: str) -> int:
    """Number of components of a node path ("" is the root: 0)."""
    return path.count(".") + 1 if path else 0


def child_range(parent: str) -> Tuple[int, str, Optional[str]]:
    """``(depth, low, high)``: the children of ``parent`` are the entries of that depth with
    ``low <= path < high`` (``high`` None: no upper bound, for the root)."""
    if parent == "":
        return 1, "", None
    return depth_of(parent) + 1, parent + ".", parent + "/"


def check_parent(parent: str) -> str:
    """``parent`` if it is "" or a tree path, else ValueError."""
    if not isinstance(parent, str):
        raise ValueError("a node path must be a string, not %r" % (parent,))
    if parent and (is_tagged(parent) or not in_tree(parent)):
        raise ValueError("%r is not a node path (dotted components, no tags)" % (parent,))
    return parent


def to_nodes(rows: Iterable[Tuple[str, str]]) -> List["Node"]:
    """Nodes, sorted by path, from ``(path, kind)`` rows (a path may come as leaf and branch)."""
    kinds: dict = {}
    for path, kind in rows:
        kinds.setdefault(path, set()).add(kind)
    return [Node(path.rsplit(".", 1)[-1], path, LEAF in found, BRANCH in found)
            for path, found in sorted(kinds.items())]


def ancestors(name: str) -> List[str]:
    """The branches above a tree name, deepest first (``a.b`` then ``a`` for ``a.b.c``)."""
    parts = name.split(".")
    return [".".join(parts[:depth]) for depth in range(len(parts) - 1, 0, -1)]


def removal(name: str) -> Tuple[Optional[Entry], List[Tuple[Entry, int, str, str]]]:
    """What deleting ``name`` removes from the index: its own entry (None when it has
    none), then, deepest first, each branch above it as ``(entry, depth, low, high)``:
    that branch goes when no entry of ``depth`` lies in ``[low, high)`` any more, and
    the walk stops at the first branch that keeps a child."""
    own = entries(name)
    if not own:
        return None, []
    if own[-1][2] == TAGGED:
        return own[-1], []
    walk = []
    for branch in ancestors(name):
        depth, low, high = child_range(branch)
        walk.append(((depth - 1, branch, BRANCH), depth, low, high or ""))
    return own[-1], walk
