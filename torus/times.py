"""Times in query parameters: unix seconds, absolute dates and human phrases, all in UTC.

``parse_time(text, now)`` tries, in order:

1. ``now``;
2. unix seconds, whole or fractional (``1362153600``, ``1362153600.5``);
3. Graphite-style offsets from ``now``: ``-5d``, ``-2h``, ``-30min``, ``+1w``
   (units ``s``/``sec``/``second(s)``, ``min``/``minute(s)``, ``h``/``hour(s)``,
   ``d``/``day(s)``, ``w``/``week(s)``, ``mon``/``month(s)`` = 30 days,
   ``y``/``year(s)`` = 365 days; a bare ``m`` is refused as ambiguous);
4. absolute dates via python-dateutil (ISO 8601 ``2013-03-01T12:00:00Z``,
   ``2013-03-01 12:00``, ``March 1 2013``, ``3/1/2013`` month first, ``15:00``
   today...); a date without a zone is UTC, one with a zone is converted to UTC,
   missing fields come from today's UTC date at midnight;
5. human phrases via parsedatetime relative to ``now``: ``today``, ``yesterday``,
   ``5 days ago``, ``last week``, ``yesterday 3pm``, ``2 hours ago``... A phrase
   naming only a day ("today", "yesterday", "last week") means that day at 00:00
   UTC; the whole text must be understood, so ``5 days ago foo`` is refused.

The work is bounded: a text is at most 100 characters, and parsedatetime, whose
cost grows exponentially with the number of words ("ago ago ago ..." of 24
words takes a second), only ever sees phrases of at most 8 words, and none with a
number of more than 9 digits. A result outside the years 1 to 9999 is refused,
like a date no calendar bucket holds.

``now`` is passed in (seconds since the epoch) so tests can freeze the clock.
Anything else raises ``ValueError`` with a message meant for the client.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import Union

import parsedatetime
from dateutil import parser as _dateparser

Number = Union[int, float]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_OFFSET = re.compile(r"^([+-])\s*(\d+(?:\.\d+)?)\s*([a-z]+)$")
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "mon": 30 * 86400, "month": 30 * 86400, "months": 30 * 86400,
    "y": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
}
_EPOCH = _dt.datetime(1970, 1, 1)
_MAX_LENGTH = 100
#: most words (runs of letters, digits and _) handed to parsedatetime
MAX_PHRASE_WORDS = 8
_WORD = re.compile(r"\w+")
_HUGE = re.compile(r"\d{10,}")
#: the range of times accepted: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z
MIN_TIME = -62135596800
MAX_TIME = 253402300799


def _phrase_calendar() -> parsedatetime.Calendar:
    constants = parsedatetime.Constants()
    constants.StartHour = 0  # "today", "yesterday", "last week" start at midnight, not 09:00
    return parsedatetime.Calendar(constants, version=parsedatetime.VERSION_CONTEXT_STYLE)


_PHRASES = _phrase_calendar()


def _number(value: float) -> Number:
    return int(value) if float(value).is_integer() else value


def _utc_naive(now: float) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(seconds=now)


def _to_timestamp(moment: _dt.datetime) -> Number:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    seconds = calendar.timegm(moment.timetuple()) + moment.microsecond / 1e6
    return _number(seconds)


def _offset(text: str, now: float) -> Number:
    match = _OFFSET.match(text)
    if match is None:
        raise KeyError(text)
    sign, amount, unit = match.groups()
    if unit not in _UNITS:
        if unit == "m":
            raise ValueError("%r is ambiguous: use 'min' for minutes or 'mon' for months" % text)
        raise ValueError("%r has an unknown unit %r (use s, min, h, d, w, mon, y)" % (text, unit))
    seconds = float(amount) * _UNITS[unit]
    return _number(now + seconds if sign == "+" else now - seconds)


def _absolute(text: str, now: float) -> Number:
    midnight = _utc_naive(now).replace(hour=0, minute=0, second=0, microsecond=0)
    moment = _dateparser.parse(text, default=midnight)
    return _to_timestamp(moment)


def _covered(text: str, now: float) -> bool:
    """True when parsedatetime understood every word of ``text`` (not just a part of it)."""
    found = _PHRASES.nlp(text, sourceTime=_utc_naive(now))
    if not found:
        return False
    rest = text
    for match in found:
        rest = rest.replace(match[4], " ", 1)
    return not rest.strip(" ,")


def _phrase(text: str, now: float) -> Number:
    if len(_WORD.findall(text)) > MAX_PHRASE_WORDS:
        raise TooLong("%r has more than %d words: a phrase such as 'yesterday 3pm' or "
                      "'5 days ago' is short" % (text, MAX_PHRASE_WORDS))
    if _HUGE.search(text):  # parsedatetime wraps such numbers round to a wrong date, silently
        raise TooLong("%r holds a number of more than 9 digits: use unix seconds or a date"
                      % text)
    moment, context = _PHRASES.parseDT(text, sourceTime=_utc_naive(now))
    if not context.hasDateOrTime or not _covered(text, now):
        raise ValueError(text)
    return _to_timestamp(moment)


class TooLong(ValueError):
    """A time refused for its size, before any parser spends time on it."""


def _in_range(value: Number, text: str) -> Number:
    if not MIN_TIME <= value <= MAX_TIME:
        raise ValueError("%r is outside the years 1 to 9999" % text)
    return value


def parse_time(text: str, now: float) -> Number:
    """A timestamp (UTC seconds) for a query parameter; ValueError when it cannot be understood."""
    value = _parse(text, now)
    return _in_range(value, text)


def _parse(text: str, now: float) -> Number:
    if not isinstance(text, str):
        raise ValueError("a time must be text, not %r" % (text,))
    original = text.strip()
    value = original.lower()
    if not value:
        raise ValueError("an empty time")
    if len(value) > _MAX_LENGTH:
        raise TooLong("a time of more than %d characters" % _MAX_LENGTH)
    if value == "now":
        return _number(now)
    if _NUMBER.match(value):
        try:
            return _number(float(value)) if "." in value else int(value)
        except OverflowError:
            raise ValueError("%r is outside the years 1 to 9999" % text) from None
    try:
        return _offset(value, now)
    except KeyError:
        pass
    try:
        return _absolute(original, now)
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        pass
    try:
        return _phrase(original, now)
    except TooLong:
        raise
    except (ValueError, OverflowError):
        pass
    raise ValueError("%r is not a time: use unix seconds, a date such as 2013-03-01T12:00:00Z, "
                     "an offset such as -5d, or a phrase such as '5 days ago'" % text)


def coerce_time(value: object, now: float) -> Number:
    """A timestamp from a number or text (macro fields may hold either)."""
    if isinstance(value, bool):
        raise ValueError("a time must be a number or text, not %r" % (value,))
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a time must be finite, not %r" % (value,))
        return _number(value) if isinstance(value, float) else value
    if isinstance(value, _dt.datetime):
        return _to_timestamp(value)
    if not isinstance(value, str):
        raise ValueError("a time must be a number or text, not %r" % (value,))
    return parse_time(value, now)
