"""Which interval of a schema answers a render request, over which points, and one number
per bucket.

torus picks among a schema's intervals as whisper picks among a file's archives:
the window is first cut to what the longest retention keeps (``from`` no older
than now minus that retention, ``until`` not after now); then the finest
interval whose retention (its step times ``steps``; none: forever) reaches back
to ``from`` answers, or the coarsest when none does. An interval with a
resolution answers at its resolution. Calendar months and years have no fixed
step, so they never answer a render (a schema that has only those is a 400). The
points are whisper's: from ``from - from % step + step`` to ``until - until %
step`` (one point when that is empty); a window wholly in the future or older
than every retention has no points, and its series are left out.

A bucket's data (a number, a histogram, a list, a set) becomes one number by
the schema's ``reduce`` rule: a kairos built-in transform name (``mean``,
``sum``, ``min``, ``max``, ``count``) or a callable ``(data, seconds) -> number``.
The defaults per type, set in ``DEFAULT_REDUCE``: count -> its total, gauge ->
its (last) value, histogram and series -> the mean, set -> its cardinality.
"""
from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional, Tuple

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


def retention(interval: Interval) -> Optional[int]:
    """Seconds an interval keeps (None: forever)."""
    if interval.steps is None:
        return None
    step = fixed_step(interval.step)
    return None if step is None else step * interval.steps


class Plan(NamedTuple):
    interval: Interval
    step: int
    first: int  # timestamp of the first point
    stop: int  # timestamp after the last point


def plan(intervals: List[Interval], start: int, end: int, now: int, what: str) -> Optional[Plan]:
    """The interval and points answering ``[start, end]`` at ``now`` (None: no points)."""
    usable = answering(intervals)
    if not usable:
        raise InputError("%s has only calendar month/year intervals, which have no fixed step "
                         "to draw at" % what)
    kept = [retention(interval) for interval, _ in usable]
    known = [seconds for seconds in kept if seconds is not None]
    longest = max(known) if len(known) == len(kept) else None  # None: one keeps forever
    if start > now or (longest is not None and end < now - longest):
        return None
    if longest is not None:
        start = max(start, now - longest)
    end = min(end, now)
    chosen = usable[-1]
    for (interval, step), keeps in zip(usable, kept):
        if keeps is None or keeps >= now - start:
            chosen = (interval, step)
            break
    interval, step = chosen
    first = start - start % step + step
    stop = end - end % step + step
    if stop == first:
        stop += step
    return Plan(interval, step, first, stop)


def reducer(schema_type: str, rule: Any, builtins: Any) -> Optional[Callable[[Any, int], Any]]:
    """``(data, seconds) -> number`` for a schema's ``reduce`` rule (its type's default if None);
    None when the data already is that number (a count's total, a gauge's value)."""
    rule = DEFAULT_REDUCE.get(schema_type, "mean") if rule is None else rule
    if isinstance(rule, str) and (schema_type == "count" or (schema_type == "gauge"
                                                              and rule != "count")):
        return None
    return compile_transform(rule, builtins)
