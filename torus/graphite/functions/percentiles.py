"""Percentiles: nPercentile (of each series over time) and percentileOfSeries (across series).

graphite's percentile is nearest-rank on ``(n / 100) * (count + 1)``: the rank
is rounded up (or, with ``interpolate``, the value is interpolated between the
two neighbouring ranks), and clamped to the smallest/largest value.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import List, Optional, Sequence

from ..errors import InputError
from ..function_support import normalize
from ..registry import Param, function
from ..series import Series


def check_percent(n: float, function_name: str) -> None:
    """InputError unless ``0 < n <= 100``."""
    if not 0 < n <= 100:
        raise InputError("%s: the percentile must be above 0 and at most 100, got %g"
                         % (function_name, n))


def percentile(values: Sequence[Optional[float]], n: float,
               interpolate: bool = False) -> Optional[float]:
    """The ``n``-th percentile of the non-null values (None when there are none)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    position = n / 100.0 * (len(known) + 1)
    rank = int(position)
    fraction = position - rank
    if not interpolate and fraction > 0:
        rank += 1
    index = min(max(rank, 1), len(known)) - 1
    value = known[index]
    if interpolate and 0 < rank < len(known):
        value = value + fraction * (known[rank] - value)
    return value


def percentile_series(series: Series, n: float) -> Optional[Series]:
    """nPercentile of one series: the percentile repeated over the series' points, or None
    when it has no values. Tags gain ``nPercentile``."""
    value = percentile(list(series), n)
    if value is None:
        return None
    tags = dict(series.tags)
    tags["nPercentile"] = str(n)
    points = int((series.end - series.start) / series.step)
    return series.copy(name="nPercentile(%s, %g)" % (series.name, n), values=[value] * points,
                       tags=tags)


@function("Calculate", Param("seriesList", "seriesList", required=True),
          Param("n", "float", required=True))
def nPercentile(context, seriesList: List[Series], n: float) -> List[Series]:
    """For each series, a flat line at the ``n``-th percentile of its values
    (named ``nPercentile(name, n)``); series without values are left out."""
    check_percent(n, "nPercentile")
    results = [percentile_series(series, n) for series in seriesList]
    return [series for series in results if series is not None]


@function("Combine", Param("seriesList", "seriesList", required=True),
          Param("n", "float", required=True), Param("interpolate", "boolean", default=False))
def percentileOfSeries(context, seriesList: List[Series], n: float,
                       interpolate: bool = False) -> List[Series]:
    """At each point, the ``n``-th percentile of the values of all the series
    (``interpolate`` blends the two nearest ranks); named after the first path expression."""
    check_percent(n, "percentileOfSeries")
    if not seriesList:
        return []
    name = "percentileOfSeries(%s,%g)" % (seriesList[0].path_expression, n)
    flat, start, end, step = normalize([seriesList])
    values = [percentile(row, n, interpolate) for row in zip_longest(*flat)]
    return [Series(name, start, end, step, values)]
