"""Functions that show a series from another time: timeShift and timeStack.

The series are evaluated again over the shifted window and then drawn over
the request's window, as graphite-web does. An offset without a sign
('1d') means the past.
"""
from __future__ import annotations

import datetime as _dt

from ..errors import InputError
from ..function_support import interval_seconds
from ..registry import Param, function
from ._support import reevaluate

SERIES_LIST = Param("seriesList", "seriesList", required=True)


def _past(text: str, parameter: str, function_name: str):
    """``(text with its sign, seconds)``: a bare offset ('1d') is negative."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("%s: parameter %r must be an offset such as '1d' or '-1h', got %r"
                         % (function_name, parameter, text))
    text = text.strip()
    if text[0].isdigit():
        text = "-" + text
    return text, interval_seconds(text, parameter, function_name)


def _dst(timestamp: int, tz: _dt.tzinfo) -> bool:
    return bool(_dt.datetime.fromtimestamp(timestamp, tz).dst())


def _dst_correction(context, start: int, end: int) -> int:
    """An hour more or less when the request is all in DST and the shifted window all out
    of it (or the reverse), so 8am is drawn over 8am."""
    here = (_dst(context.start, context.tz), _dst(context.end, context.tz))
    there = (_dst(start, context.tz), _dst(end, context.tz))
    if all(here) and not any(there):
        return 3600
    if not any(here) and all(there):
        return -3600
    return 0


@function("Transform", SERIES_LIST, Param("timeShift", "interval", required=True),
          Param("resetEnd", "boolean", default=True), Param("alignDst", "boolean", default=False))
def timeShift(context, seriesList, timeShift, resetEnd=True, alignDst=False):
    """The series as they were ``timeShift`` ago ('1d', '-1w'; '+1h' looks ahead), drawn
    over the requested window. With ``resetEnd`` (default) they end where the
    unshifted series end; ``alignDst`` compensates a daylight-saving change."""
    text, delta = _past(timeShift, "timeShift", "timeShift")
    start, end = context.start + delta, context.end + delta
    if alignDst:
        correction = _dst_correction(context, start, end)
        start, end = start + correction, end + correction
    if not seriesList:
        return []
    first = seriesList[0]
    out = []
    for series in reevaluate(context, seriesList, start, end):
        series.tags["timeShift"] = text
        series.name = 'timeShift(%s, "%s")' % (series.name, text)
        if resetEnd:
            series.end = first.end
        else:
            series.end = series.end - series.start + first.start
        series.start = first.start
        out.append(series)
    return out


@function("Transform", SERIES_LIST, Param("timeShiftUnit", "interval", default="1d"),
          Param("timeShiftStart", "integer", default=0),
          Param("timeShiftEnd", "integer", default=7))
def timeStack(context, seriesList, timeShiftUnit="1d", timeShiftStart=0, timeShiftEnd=7):
    """The series shifted by ``timeShiftUnit`` times each n in [timeShiftStart, timeShiftEnd),
    all drawn over the requested window (compare today with the days before)."""
    text, delta = _past(timeShiftUnit, "timeShiftUnit", "timeStack")
    for value, name in ((timeShiftStart, "timeShiftStart"), (timeShiftEnd, "timeShiftEnd")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError("timeStack: %s must be an integer, got %r" % (name, value))
    if timeShiftEnd - timeShiftStart > 1000:
        raise InputError("timeStack: at most 1000 shifts, got %d" % (timeShiftEnd - timeShiftStart))
    if not seriesList:
        return []
    first = seriesList[0]
    out = []
    for shift in range(timeShiftStart, timeShiftEnd):
        start, end = context.start + delta * shift, context.end + delta * shift
        for series in reevaluate(context, seriesList, start, end):
            series.tags["timeShiftUnit"] = text
            series.tags["timeShift"] = str(shift)
            series.name = "timeShift(%s, %s, %s)" % (series.name, text, shift)
            series.path_expression = series.name
            series.start = first.start
            series.end = first.end
            out.append(series)
    return out
