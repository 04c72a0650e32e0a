"""Functions between neighbouring values of one series: derivative, nonNegativeDerivative,
perSecond, integral and delay.

They keep the series' window and step and return new series named
``<function>(<name>)``; a value next to a null is null.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from ..errors import InputError
from ..registry import Param, function
from ..series import Series, Value
from ._support import as_float

SERIES_LIST = Param("seriesList", "seriesList", required=True)
BOUNDS = (Param("maxValue", "float"), Param("minValue", "float"))


def _derived(series: Series, name: str, tag: str, values: List[Value]) -> Series:
    series.tags[tag] = "1"
    return series.copy(name="%s(%s)" % (name, series.name), values=values)


@function("Transform", SERIES_LIST)
def derivative(context, seriesList):
    """Each value minus the one before it (null after a null and at the first point)."""
    out = []
    for series in seriesList:
        previous = None
        values: List[Value] = []
        for value in series:
            values.append(None if previous is None or value is None else value - previous)
            previous = value
        out.append(_derived(series, "derivative", "derivative", values))
    return out


def _bounds(function_name: str, maxValue, minValue) -> Tuple[Optional[float], Optional[float]]:
    high = None if maxValue is None else as_float(maxValue, "maxValue", function_name)
    low = None if minValue is None else as_float(minValue, "minValue", function_name)
    return high, low


def _counter_delta(value: Value, previous: Value, high: Optional[float],
                   low: Optional[float]) -> Tuple[Value, Value]:
    """``(delta, new previous)`` for a counter that may wrap at ``high`` (to ``low``)."""
    if value is not None and ((high is not None and value > high)
                              or (low is not None and value < low)):
        return None, None
    if previous is None or value is None:
        return None, value
    if value >= previous:
        return value - previous, value
    if high is not None:
        return high + 1 + value - previous - (low or 0), value
    if low is not None:
        return value - low, value
    return None, value


def _counter_deltas(series: Series, high, low) -> List[Value]:
    previous = None
    out: List[Value] = []
    for value in series:
        delta, previous = _counter_delta(value, previous, high, low)
        out.append(delta)
    return out


@function("Transform", SERIES_LIST, *BOUNDS)
def nonNegativeDerivative(context, seriesList, maxValue=None, minValue=None):
    """The increase of a counter between points; a decrease is null unless the counter
    wraps at ``maxValue`` (to ``minValue``); values outside the bounds are null."""
    high, low = _bounds("nonNegativeDerivative", maxValue, minValue)
    return [_derived(series, "nonNegativeDerivative", "nonNegativeDerivative",
                     _counter_deltas(series, high, low)) for series in seriesList]


@function("Transform", SERIES_LIST, *BOUNDS)
def perSecond(context, seriesList, maxValue=None, minValue=None):
    """nonNegativeDerivative divided by the step: a counter's rate per second."""
    high, low = _bounds("perSecond", maxValue, minValue)
    out = []
    for series in seriesList:
        values = [None if delta is None else round(delta / series.step, 6)
                  for delta in _counter_deltas(series, high, low)]
        out.append(_derived(series, "perSecond", "perSecond", values))
    return out


@function("Transform", SERIES_LIST)
def integral(context, seriesList):
    """The running total of the values since the start of the window (null stays null)."""
    out = []
    for series in seriesList:
        total = 0.0
        values: List[Value] = []
        for value in series:
            if value is None:
                values.append(None)
            else:
                total += value
                values.append(total)
        out.append(_derived(series, "integral", "integral", values))
    return out


@function("Transform", SERIES_LIST, Param("steps", "integer", required=True))
def delay(context, seriesList, steps):
    """Move the values ``steps`` points later (earlier if negative), padding with nulls."""
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise InputError("delay: steps must be an integer, got %r" % (steps,))
    out = []
    for series in seriesList:
        raw = series.raw
        shift = min(abs(steps), len(raw))
        if steps >= 0:
            values = [None] * shift + raw[:len(raw) - shift]
        else:
            values = raw[shift:] + [None] * shift
        series.tags["delay"] = str(steps)
        out.append(series.copy(name="delay(%s,%d)" % (series.name, steps), values=values))
    return out
