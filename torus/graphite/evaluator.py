"""Evaluate a parsed target: paths become series lists, calls run their render function.

``Context`` carries what a function may need besides its arguments: the
request's window (``start``/``end``, seconds), ``now``, the time zone, and a
``Source`` that turns a path pattern (or a ``seriesByTag`` call) into series.
Functions that need data outside the window (``timeShift``, ``movingAverage``
and friends) evaluate again through ``context.evaluate(text, start=, end=)``;
nothing in a function reads storage directly, so every function can be tested
with an in-memory source.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Protocol, Union

from . import registry
from .errors import InputError
from .grammar import Call, Node, Path, TargetError, parse
from .series import Series

#: most series calls one request may make (a runaway applyByNode or recursion guard)
MAX_CALLS = 10_000


class Source(Protocol):
    """Where the series of a path or a tag query come from."""

    def fetch(self, context: "Context", pattern: str) -> List[Series]:
        """Every series a path pattern names, over ``context``'s window."""

    def fetch_tagged(self, context: "Context", expressions: List[str], raw: str) -> List[Series]:
        """Every series matching seriesByTag's expressions; ``raw`` is the call's text."""


@dataclass
class Context:
    start: int
    end: int
    now: int
    source: Source
    tz: _dt.tzinfo = _dt.timezone.utc
    #: shared by the copies a request makes (counts calls across windows)
    budget: Dict[str, int] = field(default_factory=lambda: {"calls": 0})
    #: the unevaluated arguments of the call being run: functions that need data outside the
    #: window evaluate their first argument again (``again``), as graphite-web does
    call_args: List[Node] = field(default_factory=list)

    def window(self, start: int, end: int) -> "Context":
        """The same request over another window (same source, time zone and budget)."""
        return replace(self, start=int(start), end=int(end))

    def evaluate(self, target: Union[str, Node], start: Optional[int] = None,
                 end: Optional[int] = None) -> List[Series]:
        """The series of ``target`` (text or parsed) over this window or the one given."""
        context = self if start is None and end is None else self.window(
            self.start if start is None else start, self.end if end is None else end)
        node = parse_target(target) if isinstance(target, str) else target
        result = context.value(node)
        if isinstance(result, Series):
            return [result]
        if not isinstance(result, list) or not all(isinstance(s, Series) for s in result):
            text = target if isinstance(target, str) else getattr(node, "raw", node)
            if isinstance(result, list):
                raise InputError("the target %r gives lists of series (mapSeries): pass it to "
                                 "reduceSeries to draw it" % (text,))
            raise InputError("the target %r is a value (%r), not a series" % (text, result))
        return result

    def value(self, node: Node) -> Any:
        """What one node of a target evaluates to (a series list for paths and calls)."""
        if isinstance(node, Path):
            return self.source.fetch(self, node.text)
        if isinstance(node, Call):
            return self.call(node)
        return node

    def call(self, node: Call) -> List[Series]:
        self.budget["calls"] += 1
        if self.budget["calls"] > MAX_CALLS:
            raise InputError("the request makes more than %d function calls" % MAX_CALLS)
        if node.name == "seriesByTag":
            expressions = list(node.args)
            if not expressions or not all(isinstance(arg, str) for arg in expressions) or node.kwargs:
                raise InputError("seriesByTag takes one or more quoted tag expressions, "
                                 "as in seriesByTag('name=cpu', 'host=~web.*')")
            return self.source.fetch_tagged(self, expressions, node.raw)
        registry.load()
        spec = registry.FUNCTIONS.get(node.name)
        if spec is None:
            raise InputError("unknown function %r (see /functions for the functions served)"
                             % node.name)
        args = [self.value(arg) for arg in node.args]
        kwargs = {key: self.value(arg) for key, arg in node.kwargs.items()}
        registry.check_arguments(spec, args, kwargs)
        args, kwargs = registry.convert_arguments(spec, args, kwargs)
        return spec.func(replace(self, call_args=list(node.args)), *args, **kwargs)

    def again(self, start: int, end: int) -> List[Series]:
        """The running call's first argument evaluated over another window."""
        if not self.call_args:
            raise InputError("nothing to evaluate again outside a function call")
        return self.evaluate(self.call_args[0], start=start, end=end)


def parse_target(text: str) -> Node:
    """The tree of a target, or a 400 naming the target and the position of the problem."""
    try:
        return parse(text)
    except TargetError as err:
        raise InputError("target: %s" % err) from None


def evaluate_targets(context: Context, targets: List[str]) -> List[Series]:
    """Every series of every target, in order (what /render answers)."""
    out: List[Series] = []
    for target in targets:
        if target.strip():
            out.extend(context.evaluate(target))
    return out
