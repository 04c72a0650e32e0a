"""Functions that reorder a series list: sortBy, sortByMaxima, sortByName."""
from __future__ import annotations

import re
from typing import List

from ..registry import Param, function
from ..series import Series
from .filters import ranked

SERIES = Param("seriesList", "seriesList", required=True)


@function("Sorting", SERIES, Param("func", "aggFunc", default="average"),
          Param("reverse", "boolean", default=False))
def sortBy(context, seriesList: List[Series], func: str = "average",
           reverse: bool = False) -> List[Series]:
    """Sort by ``func`` of each series' values, smallest first (largest first with
    ``reverse``); series without values count as smallest, ties keep their order."""
    return ranked(seriesList, func, bool(reverse))


@function("Sorting", SERIES)
def sortByMaxima(context, seriesList: List[Series]) -> List[Series]:
    """Sort by each series' maximum, largest first (handy before stacking)."""
    return ranked(seriesList, "max", True)


def _natural_key(name: str) -> str:
    """Digit runs padded to ten places so that ``a9`` sorts before ``a10``."""
    return re.sub(r"\d+", lambda digits: "%010d" % int(digits.group()), name)


@function("Sorting", SERIES, Param("natural", "boolean", default=False),
          Param("reverse", "boolean", default=False))
def sortByName(context, seriesList: List[Series], natural: bool = False,
               reverse: bool = False) -> List[Series]:
    """Sort by name (code point order: upper case first); ``natural`` compares numbers
    inside names by value, ``reverse`` sorts backwards."""
    key = (lambda series: _natural_key(series.name)) if natural else (lambda s: s.name)
    return sorted(seriesList, key=key, reverse=bool(reverse))
