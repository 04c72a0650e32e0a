"""graphite-web's time forms for ``from``, ``until``, ``now`` and function intervals.

``parse_at_time(text, now, tz)`` -> epoch seconds. Accepted, as graphite-web 1.1
accepts them (case, spaces, ``_`` and ``,`` ignored):

* epoch seconds (``1362153600``), except eight digits that read as a date;
* a reference, optionally followed by an offset: ``now``, ``now-1h``,
  ``-10min``, ``+2d``; references are a time of day (``14:30``, ``2pm``,
  ``noon``, ``midnight``, ``teatime``) and/or a day (``today``, ``yesterday``,
  ``tomorrow``, ``YYYYMMDD``, ``MM/DD/YY[YY]``, ``jan5``, ``monday``), as in
  ``16:00_20131201``, ``noon yesterday`` or ``midnight+1h``;
* offsets are sums of ``<number><unit>`` with units ``s``, ``min``, ``h``,
  ``d``, ``w``, ``mon`` (30 days), ``y`` (365 days), any word starting so.

A day or time of day is read in ``tz`` (default UTC). ``parse_offset`` gives
an offset in seconds (``"-5min"`` -> -300), which is what functions such as
``timeShift`` and ``movingAverage`` take. A text none of these read is a
``ValueError`` whose message is meant for the client.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Optional

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # datetime.weekday() order
_UNITS = (("mon", 30 * 86400), ("min", 60), ("s", 1), ("h", 3600), ("d", 86400),
          ("w", 7 * 86400), ("y", 365 * 86400))
_TERM = re.compile(r"(\d+)([a-z]*)")
MAX_LENGTH = 100


def unit_seconds(unit: str) -> int:
    """Seconds in a unit word (``min``, ``minutes``, ``h``, ``mon``...)."""
    for prefix, seconds in _UNITS:
        if unit.startswith(prefix):
            return seconds
    raise ValueError("%r is not a time unit: use s, min, h, d, w, mon or y" % unit)


def parse_offset(text: str) -> int:
    """Seconds of a signed offset such as ``-1h``, ``5min``, ``+1d12h`` (0 for '')."""
    text = text.strip().lower().replace(" ", "")
    if not text:
        return 0
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    total = 0
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None:
            raise ValueError("%r is not an offset such as -1h, 5min or 2d" % text)
        number, unit = match.groups()
        if not unit:
            raise ValueError("offset %r needs a unit after %s: s, min, h, d, w, mon or y"
                             % (text, number))
        total += int(number) * unit_seconds(unit)
        position = match.end()
    if not text:
        raise ValueError("an offset needs a number and a unit, as in -1h")
    return sign * total


def _day(ref: str, base: _dt.datetime, raw: str) -> _dt.datetime:
    """``base`` (a naive local time of day) moved to the day ``ref`` names."""
    if ref in ("", "today"):
        return base
    if ref == "yesterday":
        return base - _dt.timedelta(days=1)
    if ref == "tomorrow":
        return base + _dt.timedelta(days=1)
    if ref.count("/") == 2:
        month, day, year = (int(part) for part in ref.split("/"))
        if year < 1900:
            year += 1900
        if year < 1970:
            year += 100
        return base.replace(year=year, month=month, day=day)
    if len(ref) == 8 and ref.isdigit():
        return base.replace(year=int(ref[:4]), month=int(ref[4:6]), day=int(ref[6:]))
    if ref[:3] in MONTHS:
        day_of_month = re.search(r"(\d{1,2})$", ref)
        if day_of_month is None:
            raise ValueError("%r: a month name needs a day of the month, as in jan5" % raw)
        return base.replace(month=MONTHS.index(ref[:3]) + 1, day=int(day_of_month.group(1)))
    if ref[:3] in WEEKDAYS:
        back = (base.weekday() - WEEKDAYS.index(ref[:3])) % 7
        return base - _dt.timedelta(days=back)
    raise ValueError("%r is not a time graphite understands (unknown day %r)" % (raw, ref))


def _reference(ref: str, now: _dt.datetime, raw: str) -> _dt.datetime:
    """The moment a reference (``now``, ``noon``, ``16:00yesterday``, ``20130101``) names."""
    if ref in ("", "now"):
        return now
    hour = minute = 0
    colon = ref.find(":")
    if 0 < colon < 3:
        hour, minute = int(ref[:colon]), int(ref[colon + 1:colon + 3])
        ref = ref[colon + 3:]
        if ref.startswith("am"):
            ref = ref[2:]
        elif ref.startswith("pm"):
            hour, ref = (hour + 12) % 24, ref[2:]
    for suffix, shift in (("am", 0), ("pm", 12)):
        index = ref.find(suffix)
        if 0 < index < 3 and ref[:index].isdigit():
            hour, ref = (int(ref[:index]) + shift) % 24, ref[index + 2:]
    for word, (word_hour, word_minute) in (("noon", (12, 0)), ("midnight", (0, 0)),
                                           ("teatime", (16, 0))):
        if ref.startswith(word):
            hour, minute, ref = word_hour, word_minute, ref[len(word):]
            break
    base = now.replace(tzinfo=None, hour=hour, minute=minute, second=0, microsecond=0)
    moment = _day(ref, base, raw)
    return moment.replace(tzinfo=now.tzinfo)


def parse_at_time(text: str, now: float, tz: _dt.tzinfo = _dt.timezone.utc) -> int:
    """Epoch seconds of a graphite time form (``ValueError`` with a client message)."""
    raw = text
    if len(text) > MAX_LENGTH:
        raise ValueError("a time is at most %d characters" % MAX_LENGTH)
    text = text.strip().lower().replace("_", "").replace(",", "").replace(" ", "")
    if not text:
        raise ValueError("an empty time")
    if text.isdigit() and not (len(text) == 8 and int(text[:4]) > 1900 and int(text[4:6]) < 13
                               and int(text[6:]) < 32):
        return int(text)
    for sign in "+-":
        if sign in text:
            ref, offset = text.split(sign, 1)
            offset = sign + offset
            break
    else:
        ref, offset = text, ""
    local_now = _dt.datetime.fromtimestamp(now, tz)
    try:
        moment = _reference(ref, local_now, raw)
        seconds = parse_offset(offset)
    except ValueError as err:
        if "graphite" in str(err) or "offset" in str(err) or "unit" in str(err):
            raise
        raise ValueError("%r is not a valid date: %s" % (raw, err)) from None
    return int(moment.timestamp()) + seconds


def parse_tz(name: Optional[str]) -> _dt.tzinfo:
    """The time zone called ``name`` (UTC when None); ``ValueError`` when unknown."""
    if not name:
        return _dt.timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("%r is not a time zone name such as UTC or Europe/Paris" % name) from None
