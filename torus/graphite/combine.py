"""Combine a group of series into one, as graphite's ``aggregate`` and groupBy callbacks do.

``combine(group, func)`` is what groupByNode, aggregateWithWildcards and
friends do to each group: the series are lined up on their common step, each
row is reduced with the aggregation ``func`` (a ``...Series`` suffix is
dropped, so ``sumSeries`` means ``sum``), and the result is named
``<func>Series(<path expressions>)`` with the tags every member shares plus
``aggregatedBy``. ``callback(group, name)`` also accepts the aggregating series
functions graphite lets a groupBy callback name (``sumSeries``, ``avg``,
``countSeries``...).
"""
from __future__ import annotations

from itertools import zip_longest
from typing import Dict, List, Optional, Sequence

from . import aggregations
from .errors import InputError
from .function_support import normalize, path_expressions
from .series import Series, Value

#: series functions accepted as a groupBy callback -> the aggregation they apply
#: (``avg`` and ``sum`` are graphite's short names of averageSeries and sumSeries)
SERIES_CALLBACKS: Dict[str, str] = {
    "averageSeries": "average", "avg": "average", "sumSeries": "sum", "sum": "sum",
    "diffSeries": "diff", "maxSeries": "max", "minSeries": "min", "multiplySeries": "multiply",
    "rangeOfSeries": "rangeOf", "stddevSeries": "stddev", "countSeries": "countSeries",
}


def callback_options() -> List[str]:
    """The ``options`` of an aggOrSeriesFunc parameter in /functions."""
    names = aggregations.names()
    return names + [name for name in SERIES_CALLBACKS if name not in names]


def aggregation_name(func: str) -> str:
    """``func`` without graphite's optional ``Series`` suffix, checked (InputError if unknown)."""
    name = func[:-len("Series")] if func.endswith("Series") else func
    try:
        aggregations.get(name)
    except InputError:
        raise InputError("unsupported aggregation function %r: use one of %s"
                         % (func, ", ".join(aggregations.names()))) from None
    return name


#: aggregations that leave nulls out anyway: a row's known values are handed over directly
SKIP_NULLS = {"average", "median", "sum", "min", "max", "diff", "stddev", "count", "range", "last"}


def reduce_rows(flat: List[Series], func: str, x_files_factor: float = 0.0) -> List[Value]:
    """Each row of lined-up series reduced by aggregation ``func``; None where the row has no
    value, or fewer known values than ``x_files_factor`` of the series."""
    name = aggregations.ALIASES.get(func, func)
    reduce_row = aggregations.get(name)
    width = len(flat)
    values: List[Value] = []
    if name in SKIP_NULLS:
        reduce_known = aggregations.OF_KNOWN.get(name, reduce_row)
        for row in zip_longest(*flat):
            if None in row:
                known: Sequence[Value] = [value for value in row if value is not None]
                values.append(reduce_row(known) if known and len(known) / width >= x_files_factor
                              else None)
            else:  # every value known: reduced at once, the nulls not looked for again
                values.append(reduce_known(row) if row and 1 >= x_files_factor else None)
        return values
    for row in zip_longest(*flat):
        known_count = width - row.count(None)
        values.append(reduce_row(row) if known_count and known_count / width >= x_files_factor
                      else None)
    return values


def combine_lists(series_lists: Sequence[Sequence[Series]], func: str,
                  x_files_factor: Optional[float] = None) -> Series:
    """One series ``<func>Series(<path expressions>)`` reducing every row of the lists with
    aggregation ``func``, tagged with what the members share plus ``aggregatedBy``.
    ``NothingToCombine`` when the lists hold no series."""
    flat, start, end, step = normalize(series_lists)
    name = "%sSeries(%s)" % (func, path_expressions(flat))
    values = reduce_rows(flat, func, x_files_factor or 0.0)
    tags = dict(flat[0].tags)
    for series in flat[1:]:
        tags = {key: value for key, value in tags.items() if series.tags.get(key) == value}
    tags.setdefault("name", name)
    tags["aggregatedBy"] = func
    return Series(name, start, end, step, values, tags=tags,
                  x_files_factor=x_files_factor or 0.0)


def combine(group: List[Series], func: str) -> Series:
    """One series reducing every row of ``group`` (non-empty) with aggregation ``func``."""
    return combine_lists([group], aggregation_name(func))


def count_series(group: List[Series]) -> Series:
    """countSeries as a callback: how many series the group has, at every step."""
    flat, start, end, step = normalize([group])
    name = "countSeries(%s)" % path_expressions(flat)
    rows = sum(1 for _ in zip_longest(*flat))
    return Series(name, start, end, step, [len(flat)] * rows)


def check_callback(name: str) -> None:
    """InputError unless ``name`` is an aggregation or an aggregating series function."""
    if name not in SERIES_CALLBACKS:
        aggregation_name(name)


def callback(group: List[Series], name: str) -> Series:
    """The series a groupBy ``callback`` makes of one group (non-empty)."""
    func = SERIES_CALLBACKS.get(name, name)
    if func == "countSeries":
        return count_series(group)
    return combine(group, func)
