"""Which interval of a schema answers a render request, and one number per bucket.

graphite-web reads the finest archive whose retention reaches back to ``from``
(the coarsest when none does); torus does the same with a schema's intervals:
an interval "covers" ``from`` when its oldest retained bucket (``steps`` back
from now) starts at or before it, or when it keeps data forever. An interval
with a resolution answers at its resolution. Calendar months and years have no
fixed step, so they never answer a render (a schema that has only those is a 400).

A bucket's data (a number, a histogram, a list, a set) becomes one number by
the schema's ``reduce`` rule: a kairos built-in transform name (``mean``,
``sum``, ``min``, ``max``, ``count``) or a callable ``(data, seconds) -> number``.
The defaults per type, set in ``DEFAULT_REDUCE``: count -> its total, gauge ->
its (last) value, histogram and series -> the mean, set -> its cardinality.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from kairos.intervals import Calendar, GregorianCalendar, Interval
from kairos.transforms import compile_transform

from .errors import InputError

DEFAULT_REDUCE = {"count": "sum", "gauge": "mean", "histogram": "mean", "series": "mean",
                  "set": "count"}
#: seconds in the fixed-length Gregorian units
_FIXED = {"daily": 86400, "weekly": 7 * 86400}


def fixed_step(calendar: Calendar) -> Optional[int]:
    """Seconds between two buckets of a calendar, None for months and years."""
    if isinstance(calendar, GregorianCalendar):
        return _FIXED.get(calendar.unit)
    return calendar.duration(0)


def answering(intervals: List[Interval]) -> List[Tuple[Interval, int]]:
    """The intervals that can answer a render, with their step, finest first."""
    usable = []
    for interval in intervals:
        step = fixed_step(interval.resolution)
        if step:
            usable.append((interval, step))
    return sorted(usable, key=lambda pair: pair[1])


def choose(intervals: List[Interval], start: float, now: float, what: str) -> Tuple[Interval, int]:
    """The interval (and its step) that answers ``[start, ...]`` at ``now``, as graphite picks."""
    usable = answering(intervals)
    if not usable:
        raise InputError("%s has only calendar month/year intervals, which have no fixed step "
                         "to draw at" % what)
    for interval, step in usable:
        oldest = interval.oldest_bucket(now)
        if oldest is None or interval.step.from_bucket(oldest) <= start:
            return interval, step
    return usable[-1]


def reducer(schema_type: str, rule: Any, builtins: Any) -> Callable[[Any, int], Any]:
    """``(data, seconds) -> number`` for a schema's ``reduce`` rule (its type's default if None)."""
    return compile_transform(DEFAULT_REDUCE.get(schema_type, "mean") if rule is None else rule,
                             builtins)
