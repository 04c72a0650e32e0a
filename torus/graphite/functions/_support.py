"""Helpers the math-family render functions share (not render functions themselves).

* ``reevaluate``: graphite re-runs a function's first argument over another
  window (timeShift, movingAverage's look-back, summarize's alignment): the
  context keeps the call's unevaluated arguments (``Context.again``).
* ``request_xff``: the request's default xFilesFactor (0 unless the context has one).
* ``tag_value``: graphite stores every tag value as text.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from ..errors import InputError
from ..function_support import interval_seconds
from ..series import Series


def reevaluate(context, series_list: Sequence[Series], start: int, end: int) -> List[Series]:
    """The running call's first argument fetched again over ``[start, end)``; outside a call
    (a function used directly in a test), the series' path expressions."""
    if context.call_args:
        return context.again(start, end)
    seen: List[str] = []
    for series in series_list:
        if series.path_expression not in seen:
            seen.append(series.path_expression)
    out: List[Series] = []
    for expression in seen:
        out.extend(context.evaluate(expression, start=start, end=end))
    return out


def request_xff(context) -> float:
    value = getattr(context, "x_files_factor", None)
    return 0.0 if value is None else value


def enough(known: int, total: float, x_files_factor: Optional[float]) -> bool:
    """graphite's xff rule: some value, and ``known / total >= x_files_factor``."""
    if not known or not total:
        return False
    return known / total >= (x_files_factor or 0.0)


def tag_value(value) -> str:
    return str(value)


def positive_interval(value, parameter: str, function: str) -> int:
    """An interval argument that must be a positive number of seconds."""
    seconds = interval_seconds(value, parameter, function)
    if seconds <= 0:
        raise InputError("%s: parameter %r must be a positive interval such as '5min', got %r"
                         % (function, parameter, value))
    return seconds


def as_float(value, parameter: str, function: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError("%s: parameter %r must be a number, got %r" % (function, parameter, value))
    return float(value)
