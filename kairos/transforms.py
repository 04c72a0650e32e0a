"""Built-in transforms (mean, count, min, max, sum, rate) per timeseries type, and how they are applied.

A transform takes ``(data, duration)``: the row in the type's native form and the
number of seconds it covers. One-argument callables are accepted too (torus'
TRANSFORMS such as ``lambda row: len(row)``). Empty rows give ``None`` for
mean/min/max and ``0`` for count/sum/rate (``{}`` for a histogram's rate), so
dashboards draw gaps, not false zeros.

``rate`` is the original kairos' per-second transform: what ``count`` counts, divided
by the duration (a histogram's occurrences of each value, each divided); a gauge's
value is no amount, so its rate is the value, as the original left it.
"""
from __future__ import annotations

import inspect
import types
from typing import Any, Callable, Dict

from .exceptions import InvalidValue

#: the built-ins giving one number of any type (what torus' Graphite ``reduce`` may name)
BUILTIN_NAMES = ("mean", "count", "min", "max", "sum")
#: every built-in transform name
TRANSFORM_NAMES = BUILTIN_NAMES + ("rate",)


def _mean(values: list) -> Any:
    return sum(values) / len(values) if values else None


def _safe(func: Callable, values: Any) -> Any:
    return func(values) if values else None


SERIES = {
    "mean": lambda data, _d: _mean(data),
    "count": lambda data, _d: len(data),
    "min": lambda data, _d: _safe(min, data),
    "max": lambda data, _d: _safe(max, data),
    "sum": lambda data, _d: sum(data),
    "rate": lambda data, duration: len(data) / duration,
}


def _hist_mean(data: dict) -> Any:
    total = sum(data.values())
    return sum(k * v for k, v in data.items()) / total if total else None


HISTOGRAM = {
    "mean": lambda data, _d: _hist_mean(data),
    "count": lambda data, _d: sum(data.values()),
    "min": lambda data, _d: _safe(min, data),
    "max": lambda data, _d: _safe(max, data),
    "sum": lambda data, _d: sum(k * v for k, v in data.items()),
    "rate": lambda data, duration: {k: v / duration for k, v in data.items()},
}

# A counter holds one number per bucket: every built-in answers that number.
COUNT = {name: (lambda data, _d: data) for name in BUILTIN_NAMES}
COUNT["rate"] = lambda data, duration: data / duration

# A gauge holds the last value written; "count" tells whether one was.
GAUGE = {name: (lambda data, _d: data) for name in ("mean", "min", "max", "sum", "rate")}
GAUGE["count"] = lambda data, _d: 0 if data is None else 1

SET = {
    "mean": lambda data, _d: _mean(list(data)),
    "count": lambda data, _d: len(data),
    "min": lambda data, _d: _safe(min, data),
    "max": lambda data, _d: _safe(max, data),
    "sum": lambda data, _d: sum(data),
    "rate": lambda data, duration: len(data) / duration,
}


def _arity_one(func: Callable) -> bool:
    """True when ``func`` can only take the data (no duration).

    Python's own functions (``len``, ``sum``, ``min``, ``max``) take the data alone:
    ``sum(data, duration)`` would silently add the duration to the total.
    """
    if isinstance(func, types.BuiltinFunctionType):
        return True
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_varargs = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
    required = [p for p in positional if p.default is p.empty]
    return not has_varargs and len(positional) == 1 and len(required) == 1


def resolve(transform: Any, builtins: Dict[str, Callable]) -> Callable[[Any, int], Any]:
    """A two-argument callable for a transform name or callable."""
    if isinstance(transform, str):
        try:
            return builtins[transform]
        except KeyError:
            raise InvalidValue("unknown transform %r: use one of %s or a callable"
                               % (transform, ", ".join(TRANSFORM_NAMES))) from None
    if callable(transform):
        if _arity_one(transform):
            return lambda data, _duration: transform(data)
        return transform
    raise InvalidValue("transform must be a name, a callable, a list or a dict, not %r" % (transform,))


def compile_transform(transform: Any, builtins: Dict[str, Callable]) -> Callable[[Any, int], Any]:
    """One callable applying a transform spec: single, list (keyed by item) or dict (keyed by name)."""
    if isinstance(transform, dict):
        named = [(name, resolve(t, builtins)) for name, t in transform.items()]
        return lambda data, duration: {name: func(data, duration) for name, func in named}
    if isinstance(transform, (list, tuple, set)):
        items = [(t, resolve(t, builtins)) for t in transform]
        return lambda data, duration: {key: func(data, duration) for key, func in items}
    return resolve(transform, builtins)
