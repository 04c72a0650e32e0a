"""Moving-window functions: movingWindow and its forms movingAverage, movingSum,
movingMin, movingMax and movingMedian.

The value at a timestamp reduces the ``windowSize`` points before it (a
count of points, or a time such as '5min'). So that the first points of the
window have a full window too, the series are evaluated again from
``windowSize`` earlier, as graphite-web does.
"""
from __future__ import annotations

from typing import List

from .. import aggregations
from ..errors import InputError
from ..function_support import interval_seconds
from ..registry import Param, function
from ..series import Series
from ._support import enough, reevaluate, tag_value

SERIES_LIST = Param("seriesList", "seriesList", required=True)
WINDOW = Param("windowSize", "intOrInterval", required=True)
XFF = Param("xFilesFactor", "float")


def moving(context, seriesList: List[Series], windowSize, func: str, xFilesFactor=None,
           function_name: str = "movingWindow") -> List[Series]:
    """``moving<Func>(<name>,<windowSize>)`` for every series (see the module docstring)."""
    if not seriesList:
        return []
    by_time = isinstance(windowSize, str)
    if by_time:
        seconds = abs(interval_seconds(windowSize, "windowSize", function_name))
    else:
        if isinstance(windowSize, bool) or not isinstance(windowSize, int) or windowSize < 0:
            raise InputError("%s: windowSize must be a number of points >= 0 or an interval "
                             "such as '5min', got %r" % (function_name, windowSize))
        seconds = max(series.step for series in seriesList) * windowSize
    reduce_row = aggregations.get(func)
    tag = "moving" + func.capitalize()
    out = []
    for series in reevaluate(context, seriesList, context.start - seconds, context.end):
        if by_time:
            name = '%s(%s,"%s")' % (tag, series.name, windowSize)
            points = seconds // series.step
        else:
            name = "%s(%s,%s)" % (tag, series.name, windowSize)
            points = windowSize
        series.tags[tag] = tag_value(windowSize)
        xff = series.x_files_factor if xFilesFactor is None else xFilesFactor
        raw = series.raw
        values = []
        for index in range(points, len(raw)):
            known = [v for v in raw[index - points:index] if v is not None]
            values.append(reduce_row(known) if enough(len(known), points, xff) else None)
        out.append(series.copy(name=name, start=series.start + seconds, values=values))
    return out


@function("Calculate", SERIES_LIST, WINDOW, Param("func", "aggFunc", default="average"), XFF)
def movingWindow(context, seriesList, windowSize, func="average", xFilesFactor=None):
    """Reduce the ``windowSize`` points before each timestamp with ``func``; a point needs
    at least ``xFilesFactor`` of its window non-null."""
    return moving(context, seriesList, windowSize, func, xFilesFactor)


def _form(func: str, doc: str):
    def run(context, seriesList, windowSize, xFilesFactor=None):
        return moving(context, seriesList, windowSize, func, xFilesFactor,
                      "moving" + func.capitalize())
    run.__doc__ = doc
    return run


for _func, _what in (("average", "mean"), ("sum", "sum"), ("min", "smallest value"),
                     ("max", "largest value"), ("median", "median")):
    _doc = ("The %s of the ``windowSize`` points (a count, or a time such as '5min') before "
            "each timestamp; movingWindow with '%s'." % (_what, _func))
    function("Calculate", SERIES_LIST, WINDOW, XFF,
             name="moving" + _func.capitalize())(_form(_func, _doc))
