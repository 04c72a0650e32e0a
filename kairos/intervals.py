"""Pure interval arithmetic: timestamps to bucket keys and back, all in UTC.

Two calendars share one interface:

* ``RelativeCalendar(step)``: a bucket is ``int(timestamp // step)``; its start is
  ``bucket * step``. Keys are plain bucket numbers.
* ``GregorianCalendar(unit)``: calendar days, ISO weeks, months or years in UTC.
  Keys are readable integers: daily ``YYYYMMDD``, weekly ``YYYYWW`` (ISO 8601
  week-numbering year and week, weeks start on Monday, so a week never splits at
  New Year), monthly ``YYYYMM``, yearly ``YYYY``.

``Interval`` combines a step calendar, an optional resolution calendar and the
retention (``steps``) of one named interval of a timeseries.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from functools import lru_cache
from typing import Any, Iterator, List, Optional, Union

from .exceptions import ConfigError, InvalidValue

DAY = 86400
#: Multipliers of the simple forms of seed 002 ("30d"). "m" is a month of 30 days.
SIMPLE_UNITS = {"h": 3600, "d": DAY, "w": 7 * DAY, "m": 30 * DAY, "y": 365 * DAY}
GREGORIAN_UNITS = ("daily", "weekly", "monthly", "yearly")
_SIMPLE_RE = re.compile(r"^\s*(\d+)\s*([hdwmy])\s*$")
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()


def parse_step(value: Any, what: str = "step") -> Union[int, str]:
    """Return a step as whole seconds, or the name of a Gregorian unit.

    Accepts ints, integral floats, numeric strings ("60"), simple forms
    ("30d", "1h", "2w", "1m", "1y") and "daily|weekly|monthly|yearly".
    """
    if isinstance(value, bool):
        raise ConfigError("%s must be seconds or a unit, not a boolean" % what)
    if isinstance(value, (int, float)):
        seconds = value
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in GREGORIAN_UNITS:
            return text
        match = _SIMPLE_RE.match(text)
        if match:
            seconds = int(match.group(1)) * SIMPLE_UNITS[match.group(2)]
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ConfigError(
                    "%s %r is not understood: use seconds, a simple form such as '30d' "
                    "(h, d, w, m=30 days, y=365 days) or one of %s"
                    % (what, value, ", ".join(GREGORIAN_UNITS))) from None
    else:
        raise ConfigError("%s must be seconds or a unit string, not %s" % (what, type(value).__name__))
    if seconds != int(seconds) or seconds <= 0:
        raise ConfigError("%s %r must be a positive whole number of seconds" % (what, value))
    return int(seconds)


def make_calendar(step: Any, what: str = "step") -> "Calendar":
    """A calendar for a step specification (see ``parse_step``)."""
    parsed = parse_step(step, what)
    if isinstance(parsed, str):
        return GregorianCalendar(parsed)
    return RelativeCalendar(parsed)


class Calendar:
    """Maps timestamps to integer bucket keys. Subclasses are immutable and pure."""

    gregorian = False

    def to_bucket(self, timestamp: float, shift: int = 0) -> int:
        """The key of the bucket holding ``timestamp``, moved ``shift`` buckets later."""
        raise NotImplementedError

    def from_bucket(self, bucket: int) -> int:
        """The UTC timestamp at which the bucket starts."""
        raise NotImplementedError

    def shift(self, bucket: int, count: int) -> int:
        """The key ``count`` buckets after (or before, if negative) ``bucket``."""
        return self.to_bucket(self.from_bucket(bucket), count)

    def duration(self, bucket: int) -> int:
        """Length of the bucket in seconds (whole days for Gregorian units)."""
        return self.from_bucket(self.shift(bucket, 1)) - self.from_bucket(bucket)

    def normalize(self, timestamp: float, shift: int = 0) -> int:
        """The start timestamp of the bucket holding ``timestamp`` (moved ``shift`` buckets)."""
        return self.from_bucket(self.to_bucket(timestamp, shift))

    def buckets(self, start: float, end: float) -> List[int]:
        """Every bucket key from the one holding ``start`` to the one holding ``end``."""
        first, last = self.to_bucket(start), self.to_bucket(end)
        return list(self.iter_buckets(first, last))

    def iter_buckets(self, first: int, last: int) -> Iterator[int]:
        bucket = first
        while bucket <= last:
            yield bucket
            bucket = self.shift(bucket, 1)

    def count_between(self, first: int, last: int) -> int:
        """How many buckets from ``first`` to ``last`` inclusive."""
        return sum(1 for _ in self.iter_buckets(first, last))


class RelativeCalendar(Calendar):
    """Fixed-width buckets of ``step`` seconds counted from the epoch."""

    def __init__(self, step: int):
        self.step = int(step)

    def __repr__(self) -> str:
        return "RelativeCalendar(%d)" % self.step

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RelativeCalendar) and other.step == self.step

    def __hash__(self) -> int:
        return hash(self.step)

    def to_bucket(self, timestamp: float, shift: int = 0) -> int:
        return int(timestamp // self.step) + shift

    def from_bucket(self, bucket: int) -> int:
        return int(bucket) * self.step

    def shift(self, bucket: int, count: int) -> int:
        return bucket + count

    def duration(self, bucket: int = 0) -> int:
        return self.step

    def iter_buckets(self, first: int, last: int) -> Iterator[int]:
        return iter(range(first, last + 1))

    def count_between(self, first: int, last: int) -> int:
        return max(0, last - first + 1)


@lru_cache(maxsize=4096)
def _day_of(day_number: int) -> _dt.date:
    """The UTC date of a day counted from the epoch (cached: the hot path of Gregorian writes)."""
    return _dt.date.fromordinal(_EPOCH_ORDINAL + day_number)


def _timestamp_of(day: _dt.date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY


class GregorianCalendar(Calendar):
    """Calendar buckets in UTC: daily YYYYMMDD, weekly YYYYWW (ISO), monthly YYYYMM, yearly YYYY."""

    gregorian = True

    def __init__(self, unit: str):
        if unit not in GREGORIAN_UNITS:
            raise ConfigError("unknown Gregorian unit %r" % (unit,))
        self.unit = unit

    def __repr__(self) -> str:
        return "GregorianCalendar(%r)" % self.unit

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GregorianCalendar) and other.unit == self.unit

    def __hash__(self) -> int:
        return hash(self.unit)

    # -- key <-> date ---------------------------------------------------
    def _key(self, day: _dt.date) -> int:
        if self.unit == "daily":
            return day.year * 10000 + day.month * 100 + day.day
        if self.unit == "weekly":
            iso = day.isocalendar()
            return iso[0] * 100 + iso[1]
        if self.unit == "monthly":
            return day.year * 100 + day.month
        return day.year

    def _start(self, bucket: int) -> _dt.date:
        bucket = int(bucket)
        try:
            if self.unit == "daily":
                return _dt.date(bucket // 10000, bucket // 100 % 100, bucket % 100)
            if self.unit == "weekly":
                return _dt.date.fromisocalendar(bucket // 100, bucket % 100, 1)
            if self.unit == "monthly":
                return _dt.date(bucket // 100, bucket % 100, 1)
            return _dt.date(bucket, 1, 1)
        except ValueError:
            raise ConfigError("%r is not a valid %s bucket key" % (bucket, self.unit)) from None

    def _move(self, day: _dt.date, count: int) -> _dt.date:
        """The first day of the bucket ``count`` buckets from the one starting at ``day``."""
        if self.unit == "daily":
            return day + _dt.timedelta(days=count)
        if self.unit == "weekly":
            return day + _dt.timedelta(days=7 * count)
        if self.unit == "monthly":
            months = day.year * 12 + day.month - 1 + count
            return _dt.date(months // 12, months % 12 + 1, 1)
        return _dt.date(day.year + count, 1, 1)

    # -- Calendar interface ----------------------------------------------
    def to_bucket(self, timestamp: float, shift: int = 0) -> int:
        try:
            day = _day_of(int(timestamp // DAY))
        except (ValueError, OverflowError):
            raise InvalidValue("timestamp %r is outside the years 1 to 9999 that %s buckets cover"
                               % (timestamp, self.unit)) from None
        if shift:
            day = self._move(self._start(self._key(day)), shift)
        return self._key(day)

    def from_bucket(self, bucket: int) -> int:
        return _timestamp_of(self._start(bucket))

    def shift(self, bucket: int, count: int) -> int:
        return self._key(self._move(self._start(bucket), count))

    def duration(self, bucket: int) -> int:
        start = self._start(bucket)
        return (self._move(start, 1) - start).days * DAY

    def count_between(self, first: int, last: int) -> int:
        """How many buckets from ``first`` to ``last`` inclusive, by date arithmetic (no walk)."""
        if last < first:
            return 0
        start, end = self._start(first), self._start(last)
        if self.unit == "daily":
            return (end - start).days + 1
        if self.unit == "weekly":
            return (end - start).days // 7 + 1
        if self.unit == "monthly":
            return (end.year - start.year) * 12 + end.month - start.month + 1
        return end.year - start.year + 1


def _int_or_none(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError("%s must be a whole number, not %r" % (what, value)) from None
    if number <= 0 or number != float(value):
        raise ConfigError("%s must be a positive whole number, not %r" % (what, value))
    return number


class Interval:
    """One named interval of a timeseries: step calendar, resolution calendar, retention."""

    __slots__ = ("name", "step", "resolution", "steps", "has_resolution")

    def __init__(self, name: str, config: dict):
        if not isinstance(config, dict):
            raise ConfigError("interval %r must be a dict with at least 'step'" % (name,))
        unknown = set(config) - {"step", "steps", "resolution"}
        if unknown:
            raise ConfigError("interval %r has unknown keys: %s" % (name, ", ".join(sorted(unknown))))
        if "step" not in config:
            raise ConfigError("interval %r needs a 'step'" % (name,))
        self.name = name
        self.step = make_calendar(config["step"], "interval %r step" % (name,))
        resolution = config.get("resolution")
        self.resolution = (make_calendar(resolution, "interval %r resolution" % (name,))
                           if resolution is not None else self.step)
        self.has_resolution = self.resolution != self.step
        self.steps = _int_or_none(config.get("steps"), "interval %r steps" % (name,))

    def __repr__(self) -> str:
        return "Interval(%r, step=%r, resolution=%r, steps=%r)" % (
            self.name, self.step, self.resolution, self.steps)

    def resolution_bucket(self, timestamp: float) -> Optional[int]:
        """The resolution key of ``timestamp``, or None when the interval has no resolution."""
        return self.resolution.to_bucket(timestamp) if self.has_resolution else None

    def resolution_buckets(self, bucket: int) -> List[int]:
        """Every resolution key inside the interval bucket (what key-value stores must read)."""
        start = self.step.from_bucket(bucket)
        end = self.step.from_bucket(self.step.shift(bucket, 1)) - 1
        return self.resolution.buckets(start, end)

    def copy_timestamp(self, timestamp: float, count: int) -> float:
        """Where a value at ``timestamp`` lands when copied ``count`` intervals away.

        Keeps the offset inside the bucket, clamped to the target bucket (a 31st copied
        into a 30-day month lands on its last second).
        """
        bucket = self.step.to_bucket(timestamp)
        offset = timestamp - self.step.from_bucket(bucket)
        target = self.step.shift(bucket, count)
        start = self.step.from_bucket(target)
        return start + min(offset, self.step.duration(target) - 1)

    def oldest_bucket(self, now: float) -> Optional[int]:
        """The oldest bucket still retained at ``now`` (None: kept forever)."""
        if self.steps is None:
            return None
        return self.step.to_bucket(now, -(self.steps - 1))

    def expires_at(self, bucket: int) -> Optional[int]:
        """The timestamp at which a bucket leaves the retention window (None: never)."""
        if self.steps is None:
            return None
        return self.step.from_bucket(self.step.shift(bucket, self.steps))


def parse_intervals(intervals: Any) -> "dict[str, Interval]":
    """Validate the ``intervals`` argument of a timeseries into ``{name: Interval}``."""
    if not isinstance(intervals, dict) or not intervals:
        raise ConfigError("intervals must be a non-empty dict of {name: {'step': ...}}")
    parsed = {}
    for name, config in intervals.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise ConfigError("interval name %r must be a non-empty string without ':'" % (name,))
        parsed[name] = Interval(name, config)
    return parsed


def utc_timegm(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0,
               second: int = 0) -> int:
    """A UTC timestamp from calendar fields (a helper for callers and tests)."""
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
