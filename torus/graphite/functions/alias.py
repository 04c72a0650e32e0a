"""Functions that rename series: alias, aliasByNode, aliasByTags, aliasSub, aliasByMetric..."""
from __future__ import annotations

from typing import List

from ..registry import Param, function
from ..series import Series


@function("Alias", Param("seriesList", "seriesList", required=True),
          Param("newName", "string", required=True))
def alias(context, seriesList: List[Series], newName: str) -> List[Series]:
    """Give every series of the list the name ``newName`` (the legend Grafana shows)."""
    for series in seriesList:
        series.name = newName
    return seriesList
