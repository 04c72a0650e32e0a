"""The render functions' ``Source`` over a configuration's schemas: names -> ``Series``.

A path pattern is resolved to stored names by ``finder.leaves`` (each name with
the first schema holding it); the names of one schema are read together with
kairos ``Timeseries.points`` over the interval and points ``archives.plan``
picks; each bucket is reduced to one number (``archives.reducer``) and buckets
never written are None (a gap), as graphite-web draws them.

Within one request the values read are kept (``Reads``): functions that need data
before the window (``movingAverage`` and its kin, ``summarize``) evaluate their argument
again over a longer window, as graphite-web does, and that second read takes what the
first one read and reads only the buckets it lacks. The answer is the one two full reads
give (the same buckets of the same interval), read once.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import access, turns
from ..values import long_or_float
from . import archives
from .evaluator import Context
from .series import Series

class StoreSource:
    """Reads series for one request from ``config``'s schemas (kairos ``series_many``)."""

    def __init__(self, config: Any, grant: access.Grant = access.OPEN):
        self.config = config
        self.grant = grant  # names outside its read scope are never read (as if not stored)
        self.reads = Reads()  # one source per request: what it read, for the next evaluation
        self._read_before = False

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
            if self._read_before:
                # a request of many targets or schemas lets the other connections take a turn
                # between its reads, as /series does between stats (SQLite never waits)
                turns.wait_for_turn()
            self._read_before = True
            for series in read_schema(schema, names, context, pattern, self.reads):
                read[(schema.name, series.name)] = series
        return [read[(schema.name, name)] for name, schema in found if (schema.name, name) in read]


#: (schema, names, interval, step) -> (first, stop, {name: the values from first to stop})
Span = Tuple[int, int, Dict[str, List[Any]]]


class Reads:
    """The values one request read, per schema, names and interval: a later read of an
    overlapping window of the same interval reads only the buckets not read yet."""

    def __init__(self) -> None:
        self.spans: Dict[Tuple, Span] = {}

    def values(self, key: Tuple, first: int, stop: int, step: int,
               read: Any) -> Dict[str, List[Any]]:
        """``{name: values}`` from ``first`` to ``stop``; ``read(first, stop)`` reads what is
        missing. Each caller gets lists of its own (functions change what they are given)."""
        span = self.spans.get(key)
        if span is not None and (span[1] < first or stop < span[0] or (first - span[0]) % step):
            span = None  # apart from (or off the grid of) what was read: read it all
        if span is None:
            span = (first, stop, read(first, stop))
        else:
            low, high, known = span
            if first < low:
                before = read(first, low)
                known = {name: before[name] + values for name, values in known.items()}
                low = first
            if stop > high:
                after = read(high, stop)
                known = {name: values + after[name] for name, values in known.items()}
                high = stop
            span = (low, high, known)
        self.spans[key] = span
        low = (first - span[0]) // step
        high = (stop - span[0]) // step
        return {name: values[low:high] for name, values in span[2].items()}


def read_schema(schema: Any, names: List[str], context: Context, pattern: str,
                reads: Optional[Reads] = None) -> List[Series]:
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

    def read_values(low: int, high: int) -> Dict[str, List[Any]]:
        listed = timeseries.points_list(names, interval.name, low, high, reduce=reduce, read=read)
        if listed is not None:  # a fixed-width interval, its grid the window's: lists at once
            return {name: listed[name] for name in names}
        stored = timeseries.points(names, interval.name, low, high - 1, reduce=reduce, read=read)
        stamps = range(low, high, step)
        return {name: list(map(stored[name].get, stamps)) if stored[name] else [None] * len(stamps)
                for name in names}

    if reads is None:
        values = read_values(first, stop)
    else:
        values = reads.values((schema.name, tuple(names), interval.name, step), first, stop, step,
                              read_values)
    return [Series(name, first, stop, step, values[name], path_expression=pattern)
            for name in names]
