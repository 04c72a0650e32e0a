"""``Series``: one named list of values at a fixed step, as graphite's render functions see it.

A series holds ``(end - start) / step`` values (float, int or None for "no
data"); value ``i`` belongs to ``start + i * step``. Iterating it yields the
values consolidated ``values_per_point`` at a time with ``consolidation``
(``average`` by default), which is how graphite lines up series of different
steps and how ``maxDataPoints`` shrinks an answer: functions that combine
series iterate them and so see the consolidated values.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

Value = Optional[float]


def _average(values: List[float]) -> float:
    return sum(values) / len(values)


#: consolidation name -> reduction of the non-null values of one band
CONSOLIDATIONS: Dict[str, Callable[[List[float]], float]] = {
    "average": _average,
    "avg": _average,
    "avg_zero": _average,  # nulls count as 0 (they are added as zeros)
    "sum": sum,
    "max": max,
    "min": min,
    "first": lambda values: values[0],
    "last": lambda values: values[-1],
}


def name_tags(name: str) -> Dict[str, str]:
    """The tags of a stored name: ``{"name": name}``, plus ``k: v`` of ``name;k=v;...``.

    A name that looks like a function call (``sumSeries(a.b)``) is not parsed.
    """
    if ";" not in name or "(" in name:
        return {"name": name}
    head, *pairs = name.split(";")
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            return {"name": name}
        tags[key] = value
    tags["name"] = head
    return tags


class Series(list):
    """Values from ``start`` (inclusive) to ``end`` (exclusive) every ``step`` seconds."""

    def __init__(self, name: str, start: int, end: int, step: int, values: Iterable[Value],
                 tags: Optional[Dict[str, str]] = None, path_expression: Optional[str] = None,
                 consolidation: str = "average", x_files_factor: float = 0.0):
        list.__init__(self, values)
        self.name = name
        self.start = start
        self.end = end
        self.step = step
        self.tags: Dict[str, str] = dict(tags) if tags else name_tags(name)
        self.path_expression = path_expression or name
        self.consolidation = consolidation
        self.values_per_point = 1
        self.x_files_factor = x_files_factor

    def __repr__(self) -> str:
        return "Series(%r, start=%s, end=%s, step=%s, %d values)" % (
            self.name, self.start, self.end, self.step, list.__len__(self))

    def copy(self, name: Optional[str] = None, values: Optional[Sequence[Value]] = None,
             start: Optional[int] = None, end: Optional[int] = None, step: Optional[int] = None,
             tags: Optional[Dict[str, str]] = None, path_expression: Optional[str] = None) -> "Series":
        """A new series like this one with some fields replaced (raw values unless given)."""
        new = Series(self.name if name is None else name,
                     self.start if start is None else start,
                     self.end if end is None else end,
                     self.step if step is None else step,
                     list.__iter__(self) if values is None else values,
                     tags=dict(self.tags) if tags is None else tags,
                     path_expression=(path_expression or (self.path_expression if name is None
                                                          else name)),
                     consolidation=self.consolidation, x_files_factor=self.x_files_factor)
        new.values_per_point = self.values_per_point if values is None else 1
        return new

    # -- consolidation -------------------------------------------------------
    def consolidate(self, values_per_point: int) -> None:
        """Iterate ``values_per_point`` raw values at a time from now on."""
        self.values_per_point = max(1, int(values_per_point))

    @property
    def raw(self) -> List[Value]:
        """The stored values, never consolidated."""
        return list(list.__iter__(self))

    def __iter__(self) -> Iterator[Value]:
        if self.values_per_point == 1:
            return list.__iter__(self)
        return self._consolidated()

    def _consolidated(self) -> Iterator[Value]:
        reduce = CONSOLIDATIONS.get(self.consolidation)
        if reduce is None:
            raise ValueError("unknown consolidation function %r" % self.consolidation)
        size = self.values_per_point
        raw = list(list.__iter__(self))
        zero = self.consolidation == "avg_zero"
        for offset in range(0, len(raw), size):
            band = raw[offset:offset + size]
            usable = [v for v in band if v is not None]
            if zero:
                usable = [0 if v is None else v for v in band]
            known = sum(1 for v in band if v is not None)
            if known and known / size >= self.x_files_factor:
                yield reduce(usable)
            else:
                yield None

    @property
    def point_step(self) -> int:
        """Seconds between two consolidated values."""
        return self.step * self.values_per_point

    def datapoints(self) -> List[List[Any]]:
        """``[[value, timestamp], ...]`` (consolidated), one per timestamp of ``[start, end]``
        at the consolidated step: a surplus value past ``end`` is left out."""
        timestamps = range(int(self.start), int(self.end) + 1, int(self.point_step))
        return [[value, timestamp] for value, timestamp in zip(self, timestamps)]
