"""Functions that blank points of each series: remove{Above,Below}{Value,Percentile}.

A removed point becomes None. Each series is renamed ``func(name, n)`` (its
path expression too, as graphite-web does). A percentile is that of the series'
own values; a series without values is only renamed.
"""
from __future__ import annotations

from typing import List, Optional

from ..registry import Param, function
from ..series import Series
from .percentiles import check_percent, percentile

PARAMS = (Param("seriesList", "seriesList", required=True), Param("n", "float", required=True))


def _blank(series: Series, label: str, n: float, limit: Optional[float], above: bool) -> None:
    """Blank the points above (else below) ``limit`` (None: none), the comparison written
    inline: a call per point took twice as long on a 50-series dashboard."""
    series.name = series.path_expression = "%s(%s, %g)" % (label, series.name, n)
    values = series.raw
    if limit is None:
        series[:] = values
    elif above:
        series[:] = [None if value is None or value > limit else value for value in values]
    else:
        series[:] = [None if value is None or value < limit else value for value in values]


def _series_percentile(series: Series, n: float) -> Optional[float]:
    value = percentile(list(series), n)
    if value is not None:
        series.tags["nPercentile"] = str(n)
    return value


@function("Filter Data", *PARAMS)
def removeAboveValue(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point above ``n``."""
    for series in seriesList:
        _blank(series, "removeAboveValue", n, n, above=True)
    return seriesList


@function("Filter Data", *PARAMS)
def removeBelowValue(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point below ``n``."""
    for series in seriesList:
        _blank(series, "removeBelowValue", n, n, above=False)
    return seriesList


@function("Filter Data", *PARAMS)
def removeAbovePercentile(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point above the ``n``-th percentile of its own series."""
    check_percent(n, "removeAbovePercentile")
    for series in seriesList:
        limit = _series_percentile(series, n)
        _blank(series, "removeAbovePercentile", n, limit, above=True)
    return seriesList


@function("Filter Data", *PARAMS)
def removeBelowPercentile(context, seriesList: List[Series], n: float) -> List[Series]:
    """Blank every point below the ``n``-th percentile of its own series."""
    check_percent(n, "removeBelowPercentile")
    for series in seriesList:
        limit = _series_percentile(series, n)
        _blank(series, "removeBelowPercentile", n, limit, above=False)
    return seriesList
