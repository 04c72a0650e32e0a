"""Functions that blank points of each series: remove{Above,Below}{Value,Percentile}.

A removed point becomes None. Each series is renamed ``func(name, n)`` (its
path expression too, as graphite-web does). A percentile is that of the series'
own values; a series without values is only renamed.
"""
from __future__ import annotations

from typing import Callable, List, Optional

from ..registry import Param, function
from ..series import Series
from .percentiles import check_percent, percentile

PARAMS = (Param("seriesList", "seriesList", required=True), Param("n", "float", required=True))


def _blank(series: Series, label: str, n: float,
           remove: Callable[[float], bool]) -> None:
    series.name = series.path_expression = "%s(%s, %g)" % (label, series.name, n)
    series[:] = [None if value is None or remove(value) else value for value in series.raw]


def _series_percentile(series: Series, n: float) -> Optional[float]:
    value = percentile(list(series), n)
    if value is not None:
        series.tags["nPercentile"] = str(n)
    return value


@function("Filter Data", *PARAMS)
def removeAboveValue(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point above ``n``."""
    for series in seriesList:
        _blank(series, "removeAboveValue", n, n.__lt__)
    return seriesList


@function("Filter Data", *PARAMS)
def removeBelowValue(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point below ``n``."""
    for series in seriesList:
        _blank(series, "removeBelowValue", n, n.__gt__)
    return seriesList


@function("Filter Data", *PARAMS)
def removeAbovePercentile(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point above the ``n``-th percentile of its own series."""
    check_percent(n, "removeAbovePercentile")
    for series in seriesList:
        limit = _series_percentile(series, n)
        _blank(series, "removeAbovePercentile", n,
               lambda value: limit is not None and value > limit)
    return seriesList


@function("Filter Data", *PARAMS)
def removeBelowPercentile(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point below the ``n``-th percentile of its own series."""
    check_percent(n, "removeBelowPercentile")
    for series in seriesList:
        limit = _series_percentile(series, n)
        _blank(series, "removeBelowPercentile", n,
               lambda value: limit is not None and value < limit)
    return seriesList
