"""An in-memory ``Source`` for unit tests of render functions: no storage, no HTTP.

``MemorySource({"a.b": (start, step, [values...])})`` answers a path pattern
with the stored series it matches (``*``/``?``/``[..]``/``{a,b}`` per node,
through ``fnmatch`` on each node: enough for tests), cut to the window as
graphite-web cuts a whisper read: the first value is at ``start - start % step +
step``. ``evaluate(source, target, start, end)`` runs one target.
"""
from __future__ import annotations

import fnmatch
import itertools
import re
from typing import Dict, List, Sequence, Tuple

from torus.graphite.evaluator import Context
from torus.graphite.series import Series

Stored = Tuple[int, int, Sequence]


def _alternatives(pattern: str) -> List[str]:
    """``a.{x,y}.c`` -> ``['a.x.c', 'a.y.c']`` (fnmatch has no braces)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    return list(itertools.chain.from_iterable(
        _alternatives(pattern[:match.start()] + choice + pattern[match.end():])
        for choice in match.group(1).split(",")))


class MemorySource:
    def __init__(self, stored: Dict[str, Stored], now: int = 0):
        self.stored = stored
        self.calls: List[Tuple[str, int, int]] = []

    def _matches(self, pattern: str, name: str) -> bool:
        nodes = name.split(".")
        for alternative in _alternatives(pattern):
            parts = alternative.split(".")
            if len(parts) == len(nodes) and all(
                    fnmatch.fnmatchcase(node, part) for node, part in zip(nodes, parts)):
                return True
        return False

    def series(self, name: str, pattern: str, start: int, end: int) -> Series:
        first, step, values = self.stored[name]
        begin = start - start % step + step
        stop = end - end % step + step
        out = []
        for timestamp in range(begin, stop, step):
            index = (timestamp - first) // step
            out.append(values[index] if 0 <= index < len(values) and timestamp >= first else None)
        return Series(name, begin, stop, step, out, path_expression=pattern)

    def fetch(self, context: Context, pattern: str) -> List[Series]:
        self.calls.append((pattern, context.start, context.end))
        return [self.series(name, pattern, context.start, context.end)
                for name in sorted(self.stored) if self._matches(pattern, name)]

    def fetch_tagged(self, context: Context, expressions: List[str], raw: str) -> List[Series]:
        """Exact ``tag=value`` expressions only (enough for function tests)."""
        wanted = dict(expression.split("=", 1) for expression in expressions)
        out = []
        for name in sorted(self.stored):
            series = self.series(name, raw, context.start, context.end)
            if all(series.tags.get(key) == value for key, value in wanted.items()):
                out.append(series)
        return out


def evaluate(source: MemorySource, target: str, start: int, end: int) -> List[Series]:
    return Context(start=start, end=end, now=end, source=source).evaluate(target)
