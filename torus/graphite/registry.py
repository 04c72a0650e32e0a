"""The render functions' registry, their parameter declarations and the /functions catalogue.

A render function is registered with ``@function(group, Param(...), ...)``.
It is called as ``func(context, *args, **kwargs)`` with its series-list
arguments already evaluated (lists of ``Series``) and its other arguments as
the target wrote them, after ``check_arguments`` has matched them against the
declared parameters (a wrong count or type is a 400 naming the function and
parameter). The declarations are also what ``/functions`` serves: Grafana
builds its function editor from them, so the catalogue lists exactly the
functions registered here.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import aggregations
from .errors import InputError
from .series import Series

_NO_DEFAULT = object()

#: parameter types graphite's catalogue uses
TYPES = ("aggFunc", "aggOrSeriesFunc", "any", "boolean", "date", "float", "integer", "interval",
         "intOrInf", "intOrInterval", "node", "nodeOrTag", "series", "seriesList", "seriesLists",
         "string", "tag")


@dataclass
class Param:
    """One declared parameter of a render function (graphite's /functions vocabulary)."""

    name: str
    type: str
    required: bool = False
    default: Any = _NO_DEFAULT
    multiple: bool = False
    options: Optional[Sequence[Any]] = None

    def __post_init__(self) -> None:
        assert self.type in TYPES, self.type
        if self.type in ("aggFunc", "aggOrSeriesFunc") and self.options is None:
            self.options = aggregations.names()

    def describe(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "type": self.type}
        if self.required:
            out["required"] = True
        if self.default is not _NO_DEFAULT:
            out["default"] = self.default
        if self.multiple:
            out["multiple"] = True
        if self.options is not None:
            out["options"] = sorted(self.options, key=str)
        return out


@dataclass
class Function:
    name: str
    func: Callable[..., List[Series]]
    group: str
    params: List[Param] = field(default_factory=list)

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    def signature(self) -> str:
        parts = []
        for param in self.params:
            if param.multiple:
                parts.append("*" + param.name)
            elif param.default is not _NO_DEFAULT:
                parts.append("%s=%r" % (param.name, param.default))
            else:
                parts.append(param.name)
        return "%s(%s)" % (self.name, ", ".join(parts))

    def describe(self) -> Dict[str, Any]:
        return {"name": self.name, "function": self.signature(), "description": self.description,
                "module": "torus.graphite.functions", "group": self.group,
                "params": [param.describe() for param in self.params]}


FUNCTIONS: Dict[str, Function] = {}


def function(group: str, *params: Param, name: Optional[str] = None) -> Callable:
    """Register the decorated ``func(context, ...)`` under ``name`` (default: its own name)."""
    def register(func: Callable) -> Callable:
        key = name or func.__name__
        assert key not in FUNCTIONS, "%s registered twice" % key
        FUNCTIONS[key] = Function(key, func, group, list(params))
        return func
    return register


def catalogue() -> Dict[str, Dict[str, Any]]:
    """``/functions``: every registered function described as graphite-web describes its own."""
    load()
    return {name: FUNCTIONS[name].describe() for name in sorted(FUNCTIONS)}


def load() -> None:
    """Import the function modules (each registers its functions when imported)."""
    from . import functions  # noqa: F401


# -- argument checks --------------------------------------------------------------
def _is_series_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Series) for item in value)


def _fits(param: Param, value: Any) -> bool:
    kind = param.type
    if value is None:
        return not param.required
    if kind in ("seriesList", "series"):
        return _is_series_list(value)
    if kind == "seriesLists":  # mapSeries' list of lists, or one series list
        return _is_series_list(value) or (
            isinstance(value, list) and all(_is_series_list(item) for item in value))
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "node"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "intOrInf":
        return (isinstance(value, int) and not isinstance(value, bool)) or value == float("inf")
    if kind in ("string", "tag", "interval", "date"):
        return isinstance(value, str)
    if kind == "intOrInterval":
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "nodeOrTag":
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    if kind == "aggFunc":
        return isinstance(value, str) and value in (param.options or ())
    if kind == "aggOrSeriesFunc":
        return isinstance(value, str)
    return True  # any


def _kind(value: Any) -> str:
    if _is_series_list(value):
        return "a series list"
    if isinstance(value, list) and all(_is_series_list(item) for item in value):
        return "a list of series lists (from mapSeries)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "the number %r" % value
    if isinstance(value, str):
        return "the string %r" % value
    return repr(value)


def check_arguments(spec: Function, args: List[Any], kwargs: Dict[str, Any]) -> None:
    """Bind ``args``/``kwargs`` to ``spec``'s parameters as Python would and check each value's
    type; ``InputError`` names the function and parameter of the first mismatch."""
    params = spec.params
    bound: List[Tuple[Param, Any]] = []
    index = 0
    for param in params:
        if param.multiple:
            bound.extend((param, value) for value in args[index:])
            if param.required and index >= len(args):
                raise InputError("%s: parameter %r is required" % (spec.name, param.name))
            index = len(args)
        elif index < len(args):
            if param.name in kwargs:
                raise InputError("%s: parameter %r given twice" % (spec.name, param.name))
            bound.append((param, args[index]))
            index += 1
        elif param.name in kwargs:
            bound.append((param, kwargs[param.name]))
        elif param.required:
            raise InputError("%s: parameter %r is required" % (spec.name, param.name))
    if index < len(args):
        raise InputError("%s takes at most %d arguments, got %d"
                         % (spec.name, len(params), len(args)))
    known = {param.name for param in params if not param.multiple}
    strange = [key for key in kwargs if key not in known]
    if strange:
        raise InputError("%s has no parameter %r (it takes %s)"
                         % (spec.name, strange[0], ", ".join(p.name for p in params) or "none"))
    for param, value in bound:
        if _fits(param, value):
            continue
        _refuse(spec, param, value)


def convert_arguments(spec: Function, args: List[Any], kwargs: Dict[str, Any]
                      ) -> Tuple[List[Any], Dict[str, Any]]:
    """``args``/``kwargs`` with whole numbers given to ``float`` parameters made floats, as
    graphite-web's checks do (``nPercentile(x, 95)`` names and tags its result with 95.0)."""
    if not any(param.type == "float" for param in spec.params):
        return args, kwargs

    def convert(param: Param, value: Any) -> Any:
        if param.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    new_args: List[Any] = []
    for param in spec.params:
        if len(new_args) >= len(args):
            break
        if param.multiple:
            new_args.extend(convert(param, value) for value in args[len(new_args):])
        else:
            new_args.append(convert(param, args[len(new_args)]))
    by_name = {param.name: param for param in spec.params}
    return new_args, {key: convert(by_name[key], value) if key in by_name else value
                      for key, value in kwargs.items()}


def _refuse(spec: Function, param: Param, value: Any) -> None:
    if param.type == "aggFunc" and isinstance(value, str):
        raise InputError("%s: parameter %r: unsupported aggregation function %r (use %s)"
                         % (spec.name, param.name, value, ", ".join(param.options or ())))
    raise InputError("%s: parameter %r got %s, expected %s"
                     % (spec.name, param.name, _kind(value), param.type))
