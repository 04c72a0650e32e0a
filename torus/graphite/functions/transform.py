"""Functions that change each value of a series on its own: scale, offset, pow, log...

Each returns the same series renamed as graphite-web renames them (the new
name is also the path expression) with the tag graphite adds; a null stays
null unless the function is about nulls (transformNull, isNonNull,
keepLastValue).
"""
from __future__ import annotations

import math
from itertools import zip_longest
from typing import Callable, List, Optional

from ..errors import InputError
from ..registry import Param, function
from ..series import Series, Value
from ._support import as_float, tag_value

SERIES_LIST = Param("seriesList", "seriesList", required=True)


def _rewrite(series: Series, name: str, values: List[Value],
             tag: Optional[str] = None, value=None) -> Series:
    """Give ``series`` new values and name in place (graphite changes its input series)."""
    series[:] = values
    if tag is not None:
        series.tags[tag] = tag_value(value)
    series.name = name
    series.path_expression = name
    return series


def _map(series_list: List[Series], name: str, func: Callable[[float], Value],
         tag: Optional[str] = None, value=None) -> List[Series]:
    """Apply ``func`` to every non-null value; ``name`` is a format for the series name."""
    for series in series_list:
        values = [None if v is None else func(v) for v in series.raw]
        _rewrite(series, name % series.name, values, tag, value)
    return series_list


def _power(base: float, exponent: float) -> Value:
    """math.pow, null where it is undefined (negative root, 1/0) or overflows."""
    try:
        return math.pow(base, exponent)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None


@function("Transform", SERIES_LIST, Param("factor", "float", required=True))
def scale(context, seriesList, factor):
    """Multiply every value by ``factor``."""
    factor = as_float(factor, "factor", "scale")
    return _map(seriesList, "scale(%%s,%g)" % factor, lambda v: float(v) * factor,
                "scale", factor)


@function("Transform", SERIES_LIST, Param("seconds", "float", required=True))
def scaleToSeconds(context, seriesList, seconds):
    """Turn values per step into values per ``seconds`` (value * seconds / step)."""
    seconds = as_float(seconds, "seconds", "scaleToSeconds")
    for series in seriesList:
        factor = seconds / series.step
        values = [None if v is None else round(v * factor, 6) for v in series.raw]
        _rewrite(series, "scaleToSeconds(%s,%d)" % (series.name, seconds), values,
                 "scaleToSeconds", seconds)
    return seriesList


@function("Transform", SERIES_LIST, Param("factor", "float", required=True))
def offset(context, seriesList, factor):
    """Add ``factor`` to every value."""
    factor = as_float(factor, "factor", "offset")
    return _map(seriesList, "offset(%%s,%g)" % factor, lambda v: v + factor, "offset", factor)


@function("Transform", SERIES_LIST)
def absolute(context, seriesList):
    """The absolute value of every value."""
    return _map(seriesList, "absolute(%s)", abs, "absolute", 1)


@function("Transform", SERIES_LIST)
def invert(context, seriesList):
    """1/x for every value (null for 0)."""
    return _map(seriesList, "invert(%s)", lambda v: _power(v, -1), "invert", 1)


@function("Transform", SERIES_LIST, Param("factor", "float", required=True))
def pow(context, seriesList, factor):
    """Every value raised to the power ``factor`` (null where undefined)."""
    factor = as_float(factor, "factor", "pow")
    return _map(seriesList, "pow(%%s,%g)" % factor, lambda v: _power(v, factor), "pow", factor)


@function("Transform", SERIES_LIST)
def squareRoot(context, seriesList):
    """The square root of every value (null for negative values)."""
    return _map(seriesList, "squareRoot(%s)", lambda v: _power(v, 0.5), "squareRoot", 1)


def logarithm(context, seriesList, base=10):
    """The logarithm in ``base`` (default 10) of every value; null for values <= 0."""
    if isinstance(base, bool) or not isinstance(base, (int, float)) or base <= 0 or base == 1:
        raise InputError("log: base must be a positive number other than 1, got %r" % (base,))
    out = []
    for series in seriesList:
        values = [None if v is None or v <= 0 else math.log(v, base) for v in series.raw]
        series.tags["log"] = tag_value(base)
        out.append(series.copy(name="log(%s, %s)" % (series.name, base), values=values))
    return out


function("Transform", SERIES_LIST, Param("base", "integer", default=10), name="log")(logarithm)


@function("Transform", SERIES_LIST, Param("default", "float", default=0),
          Param("referenceSeries", "seriesList"))
def transformNull(context, seriesList, default=None, referenceSeries=None):
    """Replace nulls by ``default`` (0); with ``referenceSeries``, only at timestamps where
    one of those series has a value."""
    # graphite tags the value as given: '0' when omitted, '0.0' when written 0
    default = 0 if default is None else as_float(default, "default", "transformNull")
    fills = None
    if referenceSeries:
        fills = [default if any(v is not None for v in row) else None
                 for row in zip_longest(*referenceSeries)]
    for series in seriesList:
        series.tags["transformNull"] = tag_value(default)
        if referenceSeries:
            series.tags["referenceSeries"] = "1"
            name = "transformNull(%s,%g,referenceSeries)" % (series.name, default)
        else:
            name = "transformNull(%s,%g)" % (series.name, default)
        if fills:
            values = [fill if v is None else v for v, fill in zip_longest(series, fills)]
        else:
            values = [default if v is None else v for v in series]
        _rewrite(series, name, values)
    return seriesList


@function("Transform", SERIES_LIST)
def isNonNull(context, seriesList):
    """1 where the series has a value, 0 where it is null (count live series with sum)."""
    for series in seriesList:
        series.tags["isNonNull"] = "1"
        _rewrite(series, "isNonNull(%s)" % series.name,
                 [0 if v is None else 1 for v in series])
    return seriesList


@function("Transform", SERIES_LIST, Param("limit", "intOrInf", default=float("inf")))
def keepLastValue(context, seriesList, limit=float("inf")):
    """Fill runs of at most ``limit`` nulls with the value before them (also at the end)."""
    if limit < 0:
        raise InputError("keepLastValue: limit must be >= 0, got %r" % (limit,))
    for series in seriesList:
        values = series.raw
        last = None
        run = 0
        for index, value in enumerate(values):
            if value is None:
                run += 1
                continue
            if 0 < run <= limit and last is not None:
                values[index - run:index] = [last] * run
            run = 0
            last = value
        if 0 < run <= limit and last is not None:
            values[len(values) - run:] = [last] * run
        _rewrite(series, "keepLastValue(%s)" % series.name, values)
    return seriesList
