"""Functions that combine several series point by point into fewer series.

aggregate and its short forms (sumSeries/sum, averageSeries/avg, maxSeries,
minSeries, multiplySeries, diffSeries, stddevSeries, rangeOfSeries),
countSeries, divideSeries, divideSeriesLists and asPercent/pct. Series of
different steps are lined up on their least common step first (the finer ones
consolidated), as graphite-web does.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import Dict, List, Optional, Sequence

from .. import aggregations
from ..combine import combine_lists
from ..errors import InputError
from ..function_support import NothingToCombine, normalize, path_expressions
from ..nodes import node_key
from ..registry import Param, function
from ..series import Series, Value
from ._support import request_xff
from .special import constant_series

SERIES_LISTS = Param("seriesLists", "seriesList", required=True, multiple=True)


def combine(context, series_lists: Sequence[Sequence[Series]], func: str,
            x_files_factor: Optional[float] = None) -> List[Series]:
    """One series ``<func>Series(<path expressions>)`` reducing every row with ``func``."""
    xff = request_xff(context) if x_files_factor is None else x_files_factor
    try:
        return [combine_lists(series_lists, func, xff)]
    except NothingToCombine:
        return []


@function("Combine", Param("seriesList", "seriesList", required=True),
          Param("func", "aggFunc", required=True), Param("xFilesFactor", "float"))
def aggregate(context, seriesList, func, xFilesFactor=None):
    """Reduce the series to one with the aggregation ``func`` at each timestamp.

    The result is named ``<func>Series(<path expressions>)``; a timestamp where
    fewer than ``xFilesFactor`` of the series have a value is null.
    """
    return combine(context, [seriesList], func, xFilesFactor)


def _shortcut(func: str, doc: str):
    def run(context, *seriesLists):
        return combine(context, seriesLists, func)
    run.__doc__ = doc
    return run


_SHORTCUTS = [
    (("sumSeries", "sum"), "sum",
     "The sum of the series at each timestamp (nulls skipped): aggregate with 'sum'."),
    (("averageSeries", "avg"), "average",
     "The mean of the non-null values at each timestamp: aggregate with 'average'."),
    (("maxSeries",), "max", "The largest value at each timestamp: aggregate with 'max'."),
    (("minSeries",), "min", "The smallest value at each timestamp: aggregate with 'min'."),
    (("diffSeries",), "diff",
     "The first series minus all the others at each timestamp: aggregate with 'diff'."),
    (("stddevSeries",), "stddev",
     "The population standard deviation at each timestamp: aggregate with 'stddev'."),
    (("rangeOfSeries",), "rangeOf",
     "The largest minus the smallest value at each timestamp: aggregate with 'rangeOf'."),
]
for _names, _func, _doc in _SHORTCUTS:
    for _name in _names:
        function("Combine", SERIES_LISTS, name=_name)(_shortcut(_func, _doc))


@function("Combine", SERIES_LISTS)
def multiplySeries(context, *seriesLists):
    """The product of the series at each timestamp (null if any of them is null).

    One single series is returned unchanged, as graphite does.
    """
    if len(seriesLists) == 1 and len(seriesLists[0]) == 1:
        return seriesLists[0]
    return combine(context, seriesLists, "multiply")


@function("Combine", Param("seriesLists", "seriesList", multiple=True))
def countSeries(context, *seriesLists):
    """How many series the arguments hold, as a line (0 when called with no argument)."""
    if not seriesLists:
        return [constant_series(context, 0, "0", "countSeries()")]
    try:
        flat, start, end, step = normalize(seriesLists)
    except NothingToCombine:
        return []
    name = "countSeries(%s)" % path_expressions(flat)
    values = [len(row) for row in zip_longest(*flat)]
    return [Series(name, start, end, step, values)]


def _divide(dividend: Series, divisor: Series) -> Series:
    name = "divideSeries(%s,%s)" % (dividend.name, divisor.name)
    _, start, end, step = normalize([[dividend, divisor]])
    values = [None if a is None or not b else a / b
              for a, b in zip_longest(dividend, divisor)]
    return Series(name, start, end, step, values)


@function("Combine", Param("dividendSeriesList", "seriesList", required=True),
          Param("divisorSeries", "seriesList", required=True))
def divideSeries(context, dividendSeriesList, divisorSeries):
    """Each dividend series divided by the one divisor series (null where it is 0 or null).

    Without a divisor series every dividend becomes ``divideSeries(<name>,MISSING)``,
    all null.
    """
    if not divisorSeries:
        for series in dividendSeriesList:
            series.name = "divideSeries(%s,MISSING)" % series.name
            series.path_expression = series.name
            series[:] = [None] * len(series.raw)
        return dividendSeriesList
    if len(divisorSeries) > 1:
        raise InputError("divideSeries: the divisor must be exactly one series, got %d"
                         % len(divisorSeries))
    return [_divide(series, divisorSeries[0]) for series in dividendSeriesList]


@function("Combine", Param("dividendSeriesList", "seriesList", required=True),
          Param("divisorSeriesList", "seriesList", required=True))
def divideSeriesLists(context, dividendSeriesList, divisorSeriesList):
    """The n-th dividend series divided by the n-th divisor series; the lists pair up."""
    if len(dividendSeriesList) != len(divisorSeriesList):
        raise InputError("divideSeriesLists: the two lists must hold as many series "
                         "(%d and %d)" % (len(dividendSeriesList), len(divisorSeriesList)))
    return [_divide(a, b) for a, b in zip(dividendSeriesList, divisorSeriesList)]


# -- asPercent -------------------------------------------------------------------------
def _percent(value: Value, total: Value) -> Value:
    if value is None or not total:
        return None
    return float(value / total) * 100.0


def _summed(group: List[Series], xff: float) -> Series:
    if len(group) == 1:
        return group[0]
    _, start, end, step = normalize([group])
    values = [aggregations.get("sum")(row) for row in zip_longest(*group)]
    return Series("sumSeries(%s)" % path_expressions(group), start, end, step, values,
                  x_files_factor=xff)


def _percent_pair(series: Series, total: Series, xff: float) -> Series:
    _, start, end, step = normalize([[series, total]])
    values = [_percent(a, b) for a, b in zip_longest(series, total)]
    return Series("asPercent(%s,%s)" % (series.name, total.name), start, end, step, values,
                  x_files_factor=xff)


def _missing(name: str, like: Series, xff: float) -> Series:
    return Series(name, like.start, like.end, like.point_step, [None] * len(list(like)),
                  x_files_factor=xff)


def _by_nodes(seriesList, total, nodes, xff) -> List[Series]:
    keys: List[str] = []
    groups: Dict[str, List[Series]] = {}
    for series in seriesList:
        key = node_key(series, nodes)
        if key not in groups:
            keys.append(key)
        groups.setdefault(key, []).append(series)
    totals: Dict[str, Series] = {}
    if total is None:
        totals = {key: _summed(groups[key], xff) for key in keys}
    elif isinstance(total, list):
        total_groups: Dict[str, List[Series]] = {}
        for series in total:
            key = node_key(series, nodes)
            if key not in total_groups and key not in keys:
                keys.append(key)
            total_groups.setdefault(key, []).append(series)
        totals = {key: _summed(group, xff) for key, group in total_groups.items()}
    else:
        raise InputError("asPercent: with nodes, total must be a series list or None, got %r"
                         % (total,))
    out = []
    for key in keys:
        if key not in groups:
            out.append(_missing("asPercent(MISSING,%s)" % totals[key].name, totals[key], xff))
            continue
        for series in groups[key]:
            if key in totals:
                out.append(_percent_pair(series, totals[key], xff))
            else:
                out.append(_missing("asPercent(%s,MISSING)" % series.name, series, xff))
    return out


_PERCENT_PARAMS = (Param("seriesList", "seriesList", required=True), Param("total", "any"),
                   Param("nodes", "nodeOrTag", multiple=True))


def asPercent(context, seriesList, total=None, *nodes):
    """Each series as a percentage of a total: the sum of the list by default, else
    ``total`` (a number, one series, or as many series as the list, paired by name).

    With ``nodes``, series and totals are grouped by those nodes (or tags) and each
    series is a percentage of its group's total; an unmatched one is
    ``asPercent(<name>,MISSING)`` or ``asPercent(MISSING,<total>)``, all null.
    """
    if isinstance(total, bool) or not (total is None or isinstance(total, (int, float, list))):
        raise InputError("asPercent: total must be a number, a series list or None, got %r"
                         % (total,))
    try:
        step = normalize([seriesList])[3]
    except NothingToCombine:
        return []
    xff = request_xff(context)
    if nodes:
        return _by_nodes(seriesList, total, nodes, xff)
    totals: Optional[List[Value]] = None  # one total per timestamp, or
    constant: Value = None  # one total for all
    if isinstance(total, list):
        if len(total) not in (1, len(seriesList)):
            raise InputError("asPercent: total must be one series or as many series as the "
                             "list (%d), got %d" % (len(seriesList), len(total)))
        if len(total) == len(seriesList):
            pairs = zip(sorted(seriesList, key=lambda s: s.name),
                        sorted(total, key=lambda s: s.name))
            return [_percent_pair(series, other, xff) for series, other in pairs]
        step = normalize([seriesList, total])[3]
        totals = list(total[0])
        text = total[0].name
    elif total is None:
        totals = [aggregations.get("sum")(row) for row in zip_longest(*seriesList)]
        text = "sumSeries(%s)" % path_expressions(seriesList)
    else:
        constant = total
        text = str(total)
    out = []
    for series in seriesList:
        values = list(series)
        if totals is None:
            row = [_percent(value, constant) for value in values]
        else:
            row = [_percent(value, other) for value, other in zip_longest(values, totals)]
        if series.values_per_point == 1 and len(row) == len(values):
            stop = series.end
        else:
            stop = series.start + len(row) * step
        out.append(Series("asPercent(%s,%s)" % (series.name, text), series.start, stop, step,
                          row, x_files_factor=xff))
    return out


for _name in ("asPercent", "pct"):
    function("Combine", *_PERCENT_PARAMS, name=_name)(asPercent)
