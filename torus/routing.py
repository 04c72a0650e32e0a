"""Where a stat name is stored: its schemas, then those of every aggregate name it generates.

``walk`` is the one routing rule of the suite. karbon, torus /insert and schema_test
store through ``Configuration.route`` (``routes`` of the walk, cached per name);
schema_debug prints the walk itself as a tree, so the tool shows exactly where karbon
writes and the two cannot disagree.

The walk is depth first: a name's own schemas, then each aggregate name it generates
(in rule order) with that name's whole subtree. A name is visited once per walk, so
rules that feed each other cannot loop; a name reached again is kept as a ``Rollup``
without a ``hop``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Set, Tuple

from .aggregates import Aggregate, rollups
from .schema import Schema


class Route(tuple):
    """Where one stat goes: ``(schema, stat name, aggregate chain that produced the name)``."""

    __slots__ = ()

    def __new__(cls, schema: Schema, stat: str, via: Tuple[Aggregate, ...] = ()):
        return super().__new__(cls, (schema, stat, via))

    schema = property(lambda self: self[0])
    stat = property(lambda self: self[1])
    via = property(lambda self: self[2])


@dataclass(frozen=True)
class Rollup:
    """An aggregate name a hop generates; ``hop`` is None when the walk reached it before."""

    name: str
    rule: Aggregate
    hop: Optional["Hop"]


@dataclass(frozen=True)
class Hop:
    """One name of the walk: the stat itself (``via`` empty) or an aggregate name of it."""

    stat: str
    #: the rules that led from the walked stat to this name
    via: Tuple[Aggregate, ...]
    #: each schema capturing this name, with the pattern (source text) that did
    matches: Tuple[Tuple[Schema, str], ...]
    #: every aggregate name this name generates, in rule order
    rollups: Tuple[Rollup, ...]


def walk(stat: str, schemas: Iterable[Schema], aggregates: List[Aggregate]) -> Hop:
    """The routing tree of ``stat`` (see the module docstring)."""
    schemas = list(schemas)
    seen: Set[str] = set()

    def visit(name: str, via: Tuple[Aggregate, ...]) -> Hop:
        seen.add(name)
        matches = []
        for schema in schemas:
            pattern = schema.match(name)
            if pattern is not None:
                matches.append((schema, pattern))
        generated = []
        for rollup, rule in rollups(name, aggregates):
            # checked after the earlier siblings' subtrees were walked: visited once, first come
            generated.append(Rollup(rollup, rule,
                                    None if rollup in seen else visit(rollup, via + (rule,))))
        return Hop(name, via, tuple(matches), tuple(generated))

    return visit(stat, ())


def routes(hop: Hop) -> Tuple[Route, ...]:
    """Every (schema, name) of a walk, in the walk's order: what karbon stores."""
    out: List[Route] = [Route(schema, hop.stat, hop.via) for schema, _pattern in hop.matches]
    for rollup in hop.rollups:
        if rollup.hop is not None:
            out.extend(routes(rollup.hop))
    return tuple(out)
