"""legendValue: append summary values (avg, last, max...) to each series' legend."""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

from .. import aggregations
from ..errors import InputError
from ..registry import Param, function
from ..series import Series
from .filters import series_reduction

#: unit prefixes graphite's legend formatting uses, largest first
UNIT_SYSTEMS = {
    "si": (("P", 1000.0 ** 5), ("T", 1000.0 ** 4), ("G", 1000.0 ** 3), ("M", 1000.0 ** 2),
           ("k", 1000.0)),
    "binary": (("Pi", 1024.0 ** 5), ("Ti", 1024.0 ** 4), ("Gi", 1024.0 ** 3),
               ("Mi", 1024.0 ** 2), ("Ki", 1024.0)),
}


def scaled(value: float, system: str) -> Tuple[float, str]:
    """``value`` in the largest unit of ``system`` it reaches: 1500 -> (1.5, 'k')."""
    prefix = ""
    for unit, size in UNIT_SYSTEMS[system]:
        if abs(value) >= size:
            value, prefix = value / size, unit
            break
    if value > 1 and value - math.floor(value) < 1e-11:
        value = float(math.floor(value))
    return value, prefix


def _summary(name: str, series: Series) -> object:
    try:
        return series_reduction(name)(series)
    except InputError:
        return "(?)"


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("valuesTypes", "string", multiple=True,
                options=aggregations.names() + ["si", "binary"]))
def legendValue(context, seriesList: List[Series], *valueTypes: str) -> List[Series]:
    """Append to each name a summary of its values: ``legendValue(x, 'avg', 'max')`` names
    ``x`` ``x (avg: 2.5) (max: 4)``. Any aggregation name works; an unknown one shows ``(?)``.
    A last argument ``si`` or ``binary`` switches to aligned columns with unit prefixes
    (``1.50k``)."""
    system: Optional[str] = None
    if valueTypes and valueTypes[-1] in UNIT_SYSTEMS:
        system, valueTypes = valueTypes[-1], valueTypes[:-1]
    for value_type in valueTypes:
        for series in seriesList:
            value = _summary(value_type, series)
            if system is None:
                series.name += " (%s: %s)" % (value_type, value)
                continue
            text = value
            if isinstance(value, (int, float)):
                text = "%.2f%s" % scaled(value, system)
            series.name = "%-20s%-5s%-10s" % (series.name, value_type, text)
    return seriesList
