"""The render functions' ``Source`` over a configuration's schemas: names -> ``Series``.

A path pattern is resolved to stored names by ``finder.leaves`` (each name with
the first schema holding it); the names of one schema are read together with
kairos ``Timeseries.points`` over the interval and points ``archives.plan``
picks; each bucket is reduced to one number (``archives.reducer``) and buckets
never written are None (a gap), as graphite-web draws them.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from .. import access
from ..values import long_or_float
from . import archives
from .evaluator import Context
from .series import Series

class StoreSource:
    """Reads series for one request from ``config``'s schemas (kairos ``series_many``)."""

    def __init__(self, config: Any, grant: access.Grant = access.OPEN):
        self.config = config
        self.grant = grant  # names outside its read scope are never read (as if not stored)

    def fetch(self, context: Context, pattern: str) -> List[Series]:
        from .finder import leaves
        return self.read(context, self._readable(leaves(self.config, pattern)), pattern)

    def fetch_tagged(self, context: Context, expressions: List[str], raw: str) -> List[Series]:
        from .finder import tagged
        return self.read(context, self._readable(tagged(self.config, expressions)), raw)

    def _readable(self, found: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
        if not self.grant.enforced:
            return found
        return [pair for pair in found if access.readable(self.grant, pair[0])]

    def read(self, context: Context, found: Sequence[Tuple[str, Any]], pattern: str) -> List[Series]:
        """The series of ``found`` (name, schema) in that order, every schema read once."""
        by_schema: Dict[str, Tuple[Any, List[str]]] = {}
        for name, schema in found:
            by_schema.setdefault(schema.name, (schema, []))[1].append(name)
        read: Dict[Tuple[str, str], Series] = {}
        for schema, names in by_schema.values():
            for series in read_schema(schema, names, context, pattern):
                read[(schema.name, series.name)] = series
        return [read[(schema.name, name)] for name, schema in found if (schema.name, name) in read]


def read_schema(schema: Any, names: List[str], context: Context, pattern: str) -> List[Series]:
    """One ``Series`` per name of one schema over ``context``'s window (one kairos read); none
    when the window has no points (wholly in the future or past every retention)."""
    timeseries = schema.timeseries
    chosen = archives.plan(list(timeseries.intervals.values()), context.start, context.end,
                           context.now, "schema %r" % schema.name)
    if chosen is None:
        return []
    interval, step, first, stop = chosen
    reduce = archives.reducer(schema.type, schema.reduce, timeseries.kind.builtins)
    # the default read_func only writes whole numbers as ints: float() gives the same numbers
    # (as graphite-web writes them, 5.0) at C speed
    read = float if schema.read_func is long_or_float else None
    stored = timeseries.points(names, interval.name, first, stop - 1, reduce=reduce, read=read)
    stamps = range(first, stop, step)
    return [Series(name, first, stop, step, list(map(stored[name].get, stamps))
                   if stored[name] else [None] * len(stamps), path_expression=pattern)
            for name in names]
