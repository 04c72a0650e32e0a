"""Functions that keep some series of a list: highest*, lowest*, *Above, limit, exclude, grep.

A series is ranked or tested by one aggregation of its (consolidated) values;
a series without values ranks below every other (graphite sorts None as -inf)
and never passes an ``*Above`` test. Ties keep the list's order.
"""
from __future__ import annotations

import re
from typing import Callable, List, Optional

from .. import aggregations
from ..errors import InputError
from ..registry import Param, function
from ..series import Series

SERIES = Param("seriesList", "seriesList", required=True)
COUNT = Param("n", "integer", required=True)
THRESHOLD = Param("n", "float", required=True)


def series_reduction(func: str) -> Callable[[Series], Optional[float]]:
    """Aggregation ``func`` applied to one whole series; ``count`` of a series without
    values is 0 there, not None (graphite counts with len)."""
    reduce = aggregations.get(func)
    if reduce is aggregations.count:
        return lambda series: sum(1 for value in series if value is not None)
    return reduce


def ranked(seriesList: List[Series], func: str, descending: bool) -> List[Series]:
    """The list sorted by ``func`` of each series (no value counts as -inf), stable."""
    reduce = series_reduction(func)

    def key(series: Series) -> float:
        value = reduce(series)
        return float("-inf") if value is None else value
    return sorted(seriesList, key=key, reverse=descending)


def _above(seriesList: List[Series], func: str, n: float) -> List[Series]:
    reduce = series_reduction(func)
    kept = []
    for series in seriesList:
        value = reduce(series)
        if value is not None and value > n:
            kept.append(series)
    return kept


@function("Filter Series", SERIES, COUNT,
          Param("func", "aggFunc", default="average"))
def highest(context, seriesList: List[Series], n: int = 1,
            func: str = "average") -> List[Series]:
    """The ``n`` series with the highest ``func`` of their values (default ``average``),
    highest first: ``highest(server*.cpu, 3, 'max')``."""
    return ranked(seriesList, func, True)[:n]


@function("Filter Series", SERIES, COUNT,
          Param("func", "aggFunc", default="average"))
def lowest(context, seriesList: List[Series], n: int = 1,
           func: str = "average") -> List[Series]:
    """The ``n`` series with the lowest ``func`` of their values (default ``average``),
    lowest first; series without values come first."""
    return ranked(seriesList, func, False)[:n]


@function("Filter Series", SERIES, COUNT)
def highestAverage(context, seriesList: List[Series], n: int) -> List[Series]:
    """The ``n`` series with the highest average, highest first."""
    return highest(context, seriesList, n, "average")


@function("Filter Series", SERIES, COUNT)
def highestCurrent(context, seriesList: List[Series], n: int) -> List[Series]:
    """The ``n`` series with the highest last non-null value, highest first."""
    return highest(context, seriesList, n, "current")


@function("Filter Series", SERIES, COUNT)
def highestMax(context, seriesList: List[Series], n: int) -> List[Series]:
    """The ``n`` series with the highest maximum, highest first."""
    return highest(context, seriesList, n, "max")


@function("Filter Series", SERIES, COUNT)
def lowestAverage(context, seriesList: List[Series], n: int) -> List[Series]:
    """The ``n`` series with the lowest average, lowest first."""
    return lowest(context, seriesList, n, "average")


@function("Filter Series", SERIES, COUNT)
def lowestCurrent(context, seriesList: List[Series], n: int) -> List[Series]:
    """The ``n`` series with the lowest last non-null value, lowest first."""
    return lowest(context, seriesList, n, "current")


@function("Filter Series", SERIES, THRESHOLD)
def maximumAbove(context, seriesList: List[Series], n: float) -> List[Series]:
    """The series whose maximum is above ``n``."""
    return _above(seriesList, "max", n)


@function("Filter Series", SERIES, THRESHOLD)
def minimumAbove(context, seriesList: List[Series], n: float) -> List[Series]:
    """The series whose minimum is above ``n``."""
    return _above(seriesList, "min", n)


@function("Filter Series", SERIES, THRESHOLD)
def currentAbove(context, seriesList: List[Series], n: float) -> List[Series]:
    """The series whose last non-null value is above ``n``."""
    return _above(seriesList, "last", n)


@function("Filter Series", SERIES, THRESHOLD)
def averageAbove(context, seriesList: List[Series], n: float) -> List[Series]:
    """The series whose average is above ``n``."""
    return _above(seriesList, "average", n)


@function("Filter Series", SERIES, COUNT)
def limit(context, seriesList: List[Series], n: int) -> List[Series]:
    """The first ``n`` series of the list."""
    return seriesList[:n]


def compile_pattern(pattern: str, function_name: str) -> "re.Pattern[str]":
    """``pattern`` compiled, or an InputError naming the function and the problem."""
    try:
        return re.compile(pattern)
    except re.error as err:
        raise InputError("%s: invalid regular expression %r: %s"
                         % (function_name, pattern, err)) from None


@function("Filter Series", SERIES, Param("pattern", "string", required=True))
def exclude(context, seriesList: List[Series], pattern: str) -> List[Series]:
    """The series whose name does not contain a match of the regular expression."""
    regex = compile_pattern(pattern, "exclude")
    return [series for series in seriesList if not regex.search(series.name)]


@function("Filter Series", SERIES, Param("pattern", "string", required=True))
def grep(context, seriesList: List[Series], pattern: str) -> List[Series]:
    """The series whose name contains a match of the regular expression."""
    regex = compile_pattern(pattern, "grep")
    return [series for series in seriesList if regex.search(series.name)]
