"""Functions that bucket a series into longer intervals: summarize, smartSummarize, hitcount.

summarize aligns its buckets on multiples of the interval (or on the first
point with ``alignToFrom``); smartSummarize starts its buckets at the
request's start, optionally moved back to the start of a year, month, week,
day, hour, minute or second; hitcount treats values as rates per second and
counts the hits that fall in each bucket.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import List, Optional, Tuple

from .. import aggregations
from ..errors import InputError
from ..registry import Param, function
from ..series import Series, Value
from ._support import enough, positive_interval, reevaluate

SERIES_LIST = Param("seriesList", "seriesList", required=True)
INTERVAL = Param("intervalString", "interval", required=True)
#: smartSummarize's alignTo units, as graphite names them
UNITS = ["years", "months", "weeks", "days", "hours", "minutes", "seconds"]


def _buckets(series: Series, func: str, interval: int, start: Optional[int] = None,
             end: Optional[int] = None) -> Tuple[List[Value], int]:
    """The bucket values from ``start`` to ``end`` and the end of the last bucket.

    A bucket reduces the points from the last one at or before its start up
    to its end; it is null unless enough of its points (xFilesFactor of
    interval / step) are non-null.
    """
    start = series.start if start is None else start
    end = series.end if end is None else end
    reduce_row = aggregations.get(func)
    values = list(series)
    times = range(series.start, series.end, series.step)
    count = min(len(times), len(values))
    per_bucket = interval / series.step
    index = 0
    out: List[Value] = []
    bucket = start
    while bucket < end:
        first = index
        known = 0
        while index < count and times[index] < bucket + interval:
            if times[index] <= bucket:
                first = index
            if times[index] >= bucket and values[index] is not None:
                known += 1
            index += 1
        ok = enough(known, per_bucket, series.x_files_factor)
        out.append(reduce_row(values[first:index]) if ok else None)
        bucket += interval
    return out, bucket


@function("Transform", SERIES_LIST, INTERVAL, Param("func", "aggFunc", default="sum"),
          Param("alignToFrom", "boolean", default=False))
def summarize(context, seriesList, intervalString, func="sum", alignToFrom=False):
    """One value per ``intervalString`` bucket, the ``func`` (default sum) of its points.

    Buckets start at multiples of the interval since the epoch (22:32 falls in
    22:00-23:00 for '1h'); with ``alignToFrom`` they start at the series' start.
    """
    interval = positive_interval(intervalString, "intervalString", "summarize")
    out = []
    for series in seriesList:
        if alignToFrom:
            start, end = series.start, series.end
        else:
            start = series.start - series.start % interval
            end = series.end - series.end % interval + interval
        values, aligned_end = _buckets(series, func, interval, start, end)
        if alignToFrom:
            end = aligned_end
        series.tags["summarize"] = intervalString
        series.tags["summarizeFunction"] = func
        name = 'summarize(%s, "%s", "%s"%s)' % (series.name, intervalString, func,
                                                ", true" if alignToFrom else "")
        out.append(series.copy(name=name, start=start, end=end, step=interval, values=values))
    return out


def _unit(alignTo: str) -> str:
    for prefix, unit in (("s", "seconds"), ("min", "minutes"), ("h", "hours"), ("d", "days"),
                         ("w", "weeks"), ("mon", "months"), ("y", "years")):
        if alignTo.startswith(prefix):
            return unit
    raise InputError("smartSummarize: alignTo must be one of %s, got %r"
                     % (", ".join(UNITS), alignTo))


def align_start(start: int, alignTo: str, tz: _dt.tzinfo) -> int:
    """``start`` moved back to the beginning of its year, month, week (Monday, or ISO
    weekday n of 'weeksN'), day, hour, minute or second in ``tz``."""
    unit = _unit(alignTo)
    moment = _dt.datetime.fromtimestamp(start, tz)
    if unit == "years":
        moment = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "months":
        moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "weeks":
        weekday = int(alignTo[-1]) if alignTo[-1].isdigit() else 1
        back = (moment.isoweekday() - weekday) % 7
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        moment = moment - _dt.timedelta(days=back)
    elif unit == "days":
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "hours":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    elif unit == "minutes":
        moment = moment.replace(second=0, microsecond=0)
    else:
        moment = moment.replace(microsecond=0)
    return int(moment.timestamp())


@function("Transform", SERIES_LIST, INTERVAL, Param("func", "aggFunc", default="sum"),
          Param("alignTo", "string", options=[None] + UNITS))
def smartSummarize(context, seriesList, intervalString, func="sum", alignTo=None):
    """summarize with buckets that start at the request's start, or at the start of the
    ``alignTo`` unit (years, months, weeks, days, hours, minutes, seconds) before it."""
    interval = positive_interval(intervalString, "intervalString", "smartSummarize")
    if alignTo is not None:
        if alignTo not in UNITS:
            raise InputError("smartSummarize: alignTo must be one of %s, got %r"
                             % (", ".join(UNITS), alignTo))
        start = align_start(context.start, alignTo, context.tz)
        seriesList = reevaluate(context, seriesList, start, context.end)
    out = []
    for series in seriesList:
        values, aligned_end = _buckets(series, func, interval)
        series.tags["smartSummarize"] = intervalString
        series.tags["smartSummarizeFunction"] = func
        name = 'smartSummarize(%s, "%s", "%s")' % (series.name, intervalString, func)
        out.append(series.copy(name=name, end=aligned_end, step=interval, values=values))
    return out


def _hits(series: Series, interval: int) -> Tuple[List[Value], int]:
    """Hits per bucket of ``interval`` seconds, buckets ending at the series' end; a point
    spreads ``value * seconds`` over the buckets its step overlaps."""
    step = series.step
    count = math.ceil((series.end - series.start) / interval)
    buckets: List[List[float]] = [[] for _ in range(count)]
    first = int(series.end - count * interval)
    for index, value in enumerate(series):
        if value is None:
            continue
        begin = series.start + index * step
        start_bucket, start_mod = divmod(begin - first, interval)
        end_bucket, end_mod = divmod(begin + step - first, interval)
        if end_bucket >= count:
            end_bucket, end_mod = count - 1, interval
        if start_bucket == end_bucket:
            if start_bucket >= 0:
                buckets[start_bucket].append(value * (end_mod - start_mod))
            continue
        if start_bucket >= 0:
            buckets[start_bucket].append(value * (interval - start_mod))
        for middle in range(start_bucket + 1, end_bucket):
            buckets[middle].append(value * interval)
        if end_mod > 0:
            buckets[end_bucket].append(value * end_mod)
    return [sum(bucket) if bucket else None for bucket in buckets], first


@function("Transform", SERIES_LIST, INTERVAL, Param("alignToInterval", "boolean", default=False))
def hitcount(context, seriesList, intervalString, alignToInterval=False):
    """Hits per ``intervalString`` from values that are hits per second, spreading each
    point over the buckets it overlaps. ``alignToInterval`` starts the buckets at the
    start of the day, hour or minute (for intervals of at least that)."""
    interval = positive_interval(intervalString, "intervalString", "hitcount")
    if alignToInterval:
        moment = _dt.datetime.fromtimestamp(context.start, context.tz)
        if interval >= 86400:
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        elif interval >= 3600:
            moment = moment.replace(minute=0, second=0, microsecond=0)
        elif interval >= 60:
            moment = moment.replace(second=0, microsecond=0)
        seriesList = reevaluate(context, seriesList, int(moment.timestamp()), context.end)
        for series in seriesList:
            intervals = (series.end - series.start) // interval
            series.end = series.start + intervals * interval + interval
    out = []
    for series in seriesList:
        values, start = _hits(series, interval)
        series.tags["hitcount"] = intervalString
        name = 'hitcount(%s, "%s"%s)' % (series.name, intervalString,
                                         ", true" if alignToInterval else "")
        out.append(series.copy(name=name, start=start, step=interval, values=values))
    return out
