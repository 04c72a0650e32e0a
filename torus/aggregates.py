"""AGGREGATES: roll stats up into other stats, like Carbon's aggregator but without buffering.

A rule is ``(rollup, source)``. ``source`` is a dotted pattern whose components may
be literal text, ``*`` (any one component; inside a component, any run of
characters but ".") or ``<name>`` (a named capture of one component). ``rollup``
may use the captures: ``('app.<code>', 'app.*.status.<code>')`` turns
``app.web1.status.404`` into ``app.404``. Capture names use ``[a-zA-Z0-9_-]``.
"""
from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

from .errors import ConfigError

_CAPTURE = re.compile(r"<([a-zA-Z0-9_-]+)>")
_TOKEN = re.compile(r"<([a-zA-Z0-9_-]+)>|\*|[^<*]+|<")


def _group_name(capture: str) -> str:
    """A regex group name for a capture ('-' is not allowed in group names)."""
    return "c_" + capture.replace("-", "_h_")


def _component_regex(component: str) -> str:
    if component == "*":
        return r"[^.]+"
    parts = []
    for match in _TOKEN.finditer(component):
        token = match.group(0)
        if match.group(1):
            parts.append(r"(?P<%s>[^.]+)" % _group_name(match.group(1)))
        elif token == "*":
            parts.append(r"[^.]*")
        else:
            parts.append(re.escape(token))
    return "".join(parts)


class Aggregate:
    """One ``(rollup, source)`` rule."""

    def __init__(self, rollup: str, source: str):
        if not isinstance(rollup, str) or not isinstance(source, str) or not rollup or not source:
            raise ConfigError("aggregate %r must be a pair of non-empty strings (rollup, source)"
                              % ((rollup, source),))
        self.rollup = rollup
        self.source = source
        captures = _CAPTURE.findall(source)
        if len(set(captures)) != len(captures):
            raise ConfigError("aggregate %r repeats a capture name" % ((rollup, source),))
        unknown = set(_CAPTURE.findall(rollup)) - set(captures)
        if unknown:
            raise ConfigError("aggregate %r uses capture(s) %s that its source does not define"
                              % ((rollup, source), ", ".join("<%s>" % u for u in sorted(unknown))))
        self.regex = re.compile(r"\.".join(_component_regex(c) for c in source.split(".")) + r"\Z")

    def __repr__(self) -> str:
        return "Aggregate(%r, %r)" % (self.rollup, self.source)

    def apply(self, stat: str) -> Optional[str]:
        """The rollup name for ``stat``, or None when the source does not match."""
        match = self.regex.match(stat)
        if match is None:
            return None
        groups = match.groupdict()
        return _CAPTURE.sub(lambda m: groups[_group_name(m.group(1))], self.rollup)


def parse_aggregates(rules: Any, origin: str) -> List[Aggregate]:
    """Validate an AGGREGATES list from a configuration module."""
    if not isinstance(rules, (list, tuple)):
        raise ConfigError("%s: AGGREGATES must be a list of (rollup, source) tuples" % origin)
    parsed = []
    for rule in rules:
        if not isinstance(rule, (list, tuple)) or len(rule) != 2:
            raise ConfigError("%s: aggregate %r must be a (rollup, source) tuple" % (origin, rule))
        try:
            parsed.append(Aggregate(*rule))
        except ConfigError as err:
            raise ConfigError("%s: %s" % (origin, err)) from None
    return parsed


def rollups(stat: str, aggregates: List[Aggregate]) -> List[Tuple[str, Aggregate]]:
    """Every ``(rollup name, rule)`` generated directly by ``stat``."""
    out = []
    for rule in aggregates:
        name = rule.apply(stat)
        if name is not None and name != stat:
            out.append((name, rule))
    return out
