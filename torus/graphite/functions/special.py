"""Special functions: constant lines (constantLine, threshold), consolidateBy/cumulative
(how a series is shrunk to fewer points) and changed."""
from __future__ import annotations

from ..errors import InputError
from ..registry import Param, function
from ..series import CONSOLIDATIONS, Series
from ._support import as_float

SERIES_LIST = Param("seriesList", "seriesList", required=True)
CONSOLIDATION_NAMES = ["sum", "average", "avg", "avg_zero", "min", "max", "first", "last"]


def constant_series(context, value, name: str, path_expression: str):
    """Three points, at the start, middle and end of the request's window."""
    step = max(1, int((context.end - context.start) / 2.0))
    return Series(name, context.start, context.end, step, [value] * 3,
                  path_expression=path_expression)


@function("Special", Param("value", "float", required=True))
def constantLine(context, value):
    """A horizontal line at ``value`` across the window, named after the value."""
    value = as_float(value, "value", "constantLine")
    return [constant_series(context, value, str(value), "constantLine(%s)" % value)]


@function("Graph", Param("value", "float", required=True), Param("label", "string"),
          Param("color", "string"))
def threshold(context, value, label=None, color=None):
    """constantLine at ``value`` named ``label`` (a colour is accepted and kept)."""
    [series] = constantLine(context, value)
    if label:
        series.name = label
    if color:
        series.color = color
    return [series]


@function("Special", SERIES_LIST,
          Param("consolidationFunc", "string", required=True, options=CONSOLIDATION_NAMES))
def consolidateBy(context, seriesList, consolidationFunc):
    """How the series are shrunk when more points than maxDataPoints are asked for:
    sum, average (avg), avg_zero, min, max, first or last of each band."""
    if consolidationFunc not in CONSOLIDATION_NAMES or consolidationFunc not in CONSOLIDATIONS:
        raise InputError("consolidateBy: consolidationFunc must be one of %s, got %r"
                         % (", ".join(CONSOLIDATION_NAMES), consolidationFunc))
    for series in seriesList:
        series.consolidation = consolidationFunc
        series.tags["consolidateBy"] = consolidationFunc
        series.name = 'consolidateBy(%s,"%s")' % (series.name, consolidationFunc)
        series.path_expression = series.name
    return seriesList


@function("Special", SERIES_LIST)
def cumulative(context, seriesList):
    """consolidateBy with 'sum': shrinking the series adds its values up."""
    return consolidateBy(context, seriesList, "sum")


@function("Special", SERIES_LIST)
def changed(context, seriesList):
    """1 where the value differs from the last non-null value before it, else 0 (nulls
    and the first value are 0)."""
    for series in seriesList:
        previous = None
        values = []
        for value in series:
            if previous is None:
                previous = value
                values.append(0)
            elif value is not None and value != previous:
                values.append(1)
                previous = value
            else:
                values.append(0)
        series[:] = values
        series.name = "changed(%s)" % series.name
        series.path_expression = series.name
    return seriesList
