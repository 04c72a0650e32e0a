"""What a read costs: how many storage keys (Redis) or rows at most (SQL) a range of buckets reads.

An interval with a resolution stores one key per resolution bucket, and a read of
an interval bucket fetches all of them whether or not the answer is condensed: a
day in minutes is 1,440 keys. ``MAX_POINTS`` caps this number, not the number of
points in the answer, so a request is sized by what the storage really does.

A resolution bucket that straddles the border of two interval buckets (an hour
read in 7-second buckets) is read once for each, as kairos reads it; the count
here is exact, in constant time for the usual intervals.
"""
from __future__ import annotations

from math import gcd
from typing import Optional

from kairos.intervals import DAY, Calendar, GregorianCalendar, Interval, RelativeCalendar


def bucket_count(interval: Interval, first: int, last: int) -> int:
    """How many interval buckets the range ``first``..``last`` holds."""
    return interval.step.count_between(first, last)


def keys_read(interval: Interval, first: int, last: int, limit: Optional[int] = None) -> int:
    """How many keys a read of interval buckets ``first``..``last`` fetches, resolutions included.

    Past ``limit`` interval buckets the answer may be a lower bound (never below the
    bucket count): enough to refuse the read without walking a huge range.
    """
    buckets = bucket_count(interval, first, last)
    if not interval.has_resolution or buckets == 0:
        return buckets
    if limit is not None and buckets > limit:
        return buckets
    step, resolution = interval.step, interval.resolution
    start = step.from_bucket(first)
    end = step.from_bucket(step.shift(last, 1)) - 1
    spanned = resolution.count_between(resolution.to_bucket(start), resolution.to_bucket(end))
    return spanned + _straddled(step, resolution, first, last, buckets)


def _period(resolution: Calendar) -> int:
    """Seconds between resolution borders when they are evenly spaced from the epoch, else 0."""
    if isinstance(resolution, RelativeCalendar):
        return resolution.step
    if isinstance(resolution, GregorianCalendar) and resolution.unit == "daily":
        return DAY
    return 0


def _straddled(step: Calendar, resolution: Calendar, first: int, last: int, buckets: int) -> int:
    """Inner borders of the range (starts of buckets 2..n) that fall inside a resolution bucket."""
    period = _period(resolution)
    if period and isinstance(step, RelativeCalendar):
        # the border of bucket k is k * step: on a resolution border when k is a multiple of p
        multiple = period // gcd(step.step, period)
        on_border = last // multiple - first // multiple
        return (buckets - 1) - on_border
    if period and not isinstance(step, RelativeCalendar) and DAY % period == 0:
        return 0  # calendar buckets start at midnight UTC, which every such resolution divides
    if isinstance(step, GregorianCalendar) and isinstance(resolution, GregorianCalendar):
        if resolution.unit == "monthly" and step.unit == "yearly":
            return 0
    straddled = 0  # rare pairs (weeks in months, months in weeks...): walk the borders
    bucket = step.shift(first, 1)
    for _ in range(buckets - 1):
        border = step.from_bucket(bucket)
        if resolution.from_bucket(resolution.to_bucket(border)) != border:
            straddled += 1
        bucket = step.shift(bucket, 1)
    return straddled
