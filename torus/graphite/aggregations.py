"""Reductions of a row of values (nulls skipped) named as graphite names them.

Used wherever graphite takes an aggregation name: ``aggregate``, ``highest``,
``groupByNode``, ``summarize``, ``applyByNode``... Every reduction returns None
for a row without values, so a gap stays a gap.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence

Value = Optional[float]


def _known(row: Sequence[Value]) -> List[float]:
    return [v for v in row if v is not None]


def average(row: Sequence[Value]) -> Value:
    values = _known(row)
    return sum(values) / len(values) if values else None


def average_zero(row: Sequence[Value]) -> Value:
    """The mean counting nulls as 0."""
    return sum(v or 0 for v in row) / len(row) if row else None


def median(row: Sequence[Value]) -> Value:
    values = sorted(_known(row))
    if not values:
        return None
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def total(row: Sequence[Value]) -> Value:
    values = _known(row)
    return sum(values) if values else None


def minimum(row: Sequence[Value]) -> Value:
    values = _known(row)
    return min(values) if values else None


def maximum(row: Sequence[Value]) -> Value:
    values = _known(row)
    return max(values) if values else None


def difference(row: Sequence[Value]) -> Value:
    """The first value minus every later one."""
    values = _known(row)
    if not values:
        return None
    return values[0] - sum(values[1:])


def stddev(row: Sequence[Value]) -> Value:
    """Population standard deviation."""
    values = _known(row)
    if not values:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def count(row: Sequence[Value]) -> Value:
    values = _known(row)
    return len(values) if values else None


def spread(row: Sequence[Value]) -> Value:
    """Largest minus smallest (a float, as graphite's)."""
    values = _known(row)
    return float(max(values)) - float(min(values)) if values else None


def product(row: Sequence[Value]) -> Value:
    """The product, None as soon as one value is missing (graphite's multiply)."""
    values = list(row)
    if not values:
        return None
    result = 1.0
    for value in values:
        if value is None:
            return None
        result *= value
    return result


def last(row: Sequence[Value]) -> Value:
    values = _known(row)
    return values[-1] if values else None


def first(row: Sequence[Value]) -> Value:
    values = _known(row)
    return values[0] if values else None


AGGREGATIONS: Dict[str, Callable[[Sequence[Value]], Value]] = {
    "average": average, "avg_zero": average_zero, "median": median, "sum": total,
    "min": minimum, "max": maximum, "diff": difference, "stddev": stddev, "count": count,
    "range": spread, "multiply": product, "last": last,
}
#: what some reductions above compute once the nulls are dropped, for a row known to hold
#: none (``combine.reduce_rows``: the rows of a sumSeries of 50 series are rarely gapped)
OF_KNOWN: Dict[str, Callable[[Sequence[float]], Value]] = {
    "average": lambda values: sum(values) / len(values), "sum": sum, "min": min, "max": max,
    "count": len, "last": lambda values: values[-1],
}
#: other names graphite accepts for the same reductions
ALIASES = {"rangeOf": "range", "avg": "average", "total": "sum", "current": "last"}


def names() -> List[str]:
    """Every accepted name (the ``options`` of an aggFunc parameter in /functions)."""
    return list(AGGREGATIONS) + list(ALIASES)


def get(name: str) -> Callable[[Sequence[Value]], Value]:
    """The reduction called ``name`` (``InputError`` naming the choices otherwise)."""
    from .errors import InputError
    func = AGGREGATIONS.get(ALIASES.get(name, name))
    if func is None:
        raise InputError("unsupported aggregation function %r: use one of %s"
                         % (name, ", ".join(names())))
    return func
