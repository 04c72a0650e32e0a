"""The render functions' ``Source`` over a configuration's schemas: names -> ``Series``.

A path pattern is resolved to stored names by ``finder.leaves`` (each name with
the first schema holding it); the names of one schema are read together with
kairos ``series_many`` over the interval ``archives.choose`` picks; each bucket
is reduced to one number (``archives.reducer``) and buckets never written are
None (a gap), as graphite-web draws them. Timestamps follow graphite-web: the
first point is at ``start - start % step + step``, the last at ``end - end %
step`` (a series covers ``(start, end]`` in whole steps).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Sequence, Tuple

from . import archives
from .evaluator import Context
from .series import Series

_STORED = object()  # marks rows kairos read from storage (empty buckets are not marked)


class StoreSource:
    """Reads series for one request from ``config``'s schemas (kairos ``series_many``)."""

    def __init__(self, config: Any):
        self.config = config

    def fetch(self, context: Context, pattern: str) -> List[Series]:
        from .finder import leaves
        return self.read(context, leaves(self.config, pattern), pattern)

    def fetch_tagged(self, context: Context, expressions: List[str], raw: str) -> List[Series]:
        from .finder import tagged
        return self.read(context, tagged(self.config, expressions), raw)

    def read(self, context: Context, found: Sequence[Tuple[str, Any]], pattern: str) -> List[Series]:
        """The series of ``found`` (name, schema) in that order, every schema read once."""
        by_schema: Dict[str, Tuple[Any, List[str]]] = OrderedDict()
        for name, schema in found:
            by_schema.setdefault(schema.name, (schema, []))[1].append(name)
        read: Dict[Tuple[str, str], Series] = {}
        for schema, names in by_schema.values():
            for name, series in zip(names, read_schema(schema, names, context, pattern)):
                read[(schema.name, name)] = series
        return [read[(schema.name, name)] for name, schema in found]


def read_schema(schema: Any, names: List[str], context: Context, pattern: str) -> List[Series]:
    """One ``Series`` per name of one schema over ``context``'s window."""
    timeseries = schema.timeseries
    interval, step = archives.choose(list(timeseries.intervals.values()), context.start,
                                     context.now, "schema %r" % schema.name)
    first = context.start - context.start % step + step
    stop = context.end - context.end % step + step  # exclusive
    if stop <= first:
        return [Series(name, first, first, step, [], path_expression=pattern) for name in names]
    reduce = archives.reducer(schema.type, schema.reduce,
                              timeseries.kind.builtins)
    process = timeseries.kind.process_row

    def mark(raw: Any) -> Any:
        return (_STORED, process(raw))

    datas = timeseries.series_many(names, interval.name, start=first, end=stop - 1,
                                   process_row=mark)
    out = []
    for name, data in zip(names, datas):
        values = _values(data, interval, first, stop, step, reduce)
        out.append(Series(name, first, stop, step, values, path_expression=pattern))
    return out


def _values(data: "OrderedDict[int, Any]", interval: Any, first: int, stop: int, step: int,
            reduce: Any) -> List[Any]:
    """The value at each step of ``[first, stop)``: reduced stored rows, None elsewhere."""
    values: List[Any] = [None] * ((stop - first) // step)
    flat = _rows(data, interval)
    for timestamp, row in flat:
        index = (timestamp - first) // step
        if 0 <= index < len(values) and isinstance(row, tuple) and row and row[0] is _STORED:
            values[index] = reduce(row[1], step)
    return values


def _rows(data: "OrderedDict[int, Any]", interval: Any) -> List[Tuple[int, Any]]:
    """``(timestamp, row)`` per stored bucket, resolution buckets flattened."""
    if not interval.has_resolution:
        return list(data.items())
    return [(r_ts, row) for rows in data.values() for r_ts, row in rows.items()]
