"""What many render functions share: lining series up, naming results, reading intervals."""
from __future__ import annotations

import math
from functools import reduce
from typing import List, Sequence, Tuple, Union

from .errors import InputError
from .series import Series
from .timeforms import parse_offset


class NothingToCombine(Exception):
    """``normalize`` got no series: the function answers an empty list."""


def normalize(series_lists: Sequence[Sequence[Series]]) -> Tuple[List[Series], int, int, int]:
    """Line several series up on their least common step: ``(series, start, end, step)``.

    Each series is consolidated to the common step (so iterating it yields one
    value per common step); start is the earliest start and end the latest end,
    cut down to a whole number of steps. Raises ``NothingToCombine`` when empty.
    """
    flat = [series for series_list in series_lists for series in series_list]
    if not flat:
        raise NothingToCombine()
    step = reduce(lambda a, b: a * b // math.gcd(a, b), [s.step for s in flat])
    for series in flat:
        series.consolidate(step // series.step)
    start = min(s.start for s in flat)
    end = max(s.end for s in flat)
    end -= (end - start) % step
    return flat, start, end, step


def path_expressions(series_list: Sequence[Series]) -> str:
    """The distinct path expressions of a list, in order, joined by ',' (for result names)."""
    seen: List[str] = []
    for series in series_list:
        if series.path_expression not in seen:
            seen.append(series.path_expression)
    return ",".join(seen)


def interval_seconds(value: Union[str, int], parameter: str, function: str) -> int:
    """An ``interval``/``intOrInterval`` argument in seconds (``'5min'`` -> 300, 5 -> 5)."""
    if isinstance(value, int):
        return value
    try:
        return parse_offset(value)
    except ValueError as err:
        raise InputError("%s: parameter %r: %s" % (function, parameter, err)) from None

