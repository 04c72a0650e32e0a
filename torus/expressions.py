"""The ``stat`` parameter of /series: ``name``, ``func(name)``, ``a,b`` or ``func(a,b)``.

Parsing is strict on purpose: a malformed expression (``sum(x``, ``sum(a,b))``,
``sum(avg(x))``) is a 400 that says what is wrong, never a lookup of a stat
literally named ``sum(x`` that answers empty data. Parentheses therefore cannot
appear inside stat names here. Names are put in the canonical form karbon
stores (tags sorted, ``torus.carbon.canonical_name``), so ``a;z=1;b=2`` and
``a;b=2;z=1`` read the same series.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from .carbon import BadLine, canonical_name
from .params import ParameterError

_FUNCTION = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class StatExpr:
    """One parsed ``stat`` parameter: its text as given, function name and canonical stat names."""

    text: str
    function: Optional[str]
    names: Tuple[str, ...]

    @property
    def stat_name(self) -> str:
        return ",".join(self.names)

    @property
    def target(self) -> Any:
        """The name(s) given to kairos: a list reads the names as joined rows."""
        return list(self.names) if len(self.names) > 1 else self.names[0]


def _bad(text: str, problem: str) -> ParameterError:
    """``stat: 'the text' <problem>``, or ``stat: 'the text': <problem>`` when it starts with ':'."""
    return ParameterError("stat", "%r%s" % (text, problem if problem.startswith(":") else " " + problem))


def _check_balance(text: str) -> None:
    """Every ')' closes an earlier '(' and every '(' is closed."""
    depth = 0
    for position, char in enumerate(text, 1):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _bad(text, "has an unexpected ')' at character %d" % position)
    if depth:
        raise _bad(text, "has an unclosed '(': add a ')' at the end")


def _closing(text: str, opening: int) -> int:
    """Index of the ')' matching the '(' at ``opening`` (the text is balanced)."""
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    raise AssertionError("unbalanced text %r" % text)  # _check_balance ran first


def _canonical(text: str, name: str) -> str:
    if not name:
        raise _bad(text, "has an empty stat name")
    try:
        return canonical_name(name)
    except BadLine as err:
        raise ParameterError("stat", "%r is not a valid tagged name: %s" % (name, err)) from None


def parse_stat(text: str) -> StatExpr:
    """Split a ``stat`` parameter into its function and canonical stat names (400 when malformed)."""
    raw = text.strip()
    _check_balance(raw)
    opening = raw.find("(")
    if opening < 0:
        function, inner = None, raw
    else:
        closing = _closing(raw, opening)
        head, inner, tail = raw[:opening].strip(), raw[opening + 1:closing], raw[closing + 1:]
        if tail.strip():
            raise _bad(raw, "has text after the closing ')': %r" % tail.strip())
        if not head:
            raise _bad(raw, "has a '(' without a function name before it")
        if "," in head:
            raise _bad(raw, "puts a function inside a list of names: a function applies to "
                            "the whole stat, as in func(a,b)")
        if not _FUNCTION.match(head):
            raise _bad(raw, ": %r is not a function name: use letters, digits and _" % head)
        nested = inner.find("(")
        if nested >= 0:
            inner_name = inner[:nested].rsplit(",", 1)[-1].strip()
            raise _bad(raw, ": functions cannot be nested (%r inside %r): one function per stat"
                       % (inner_name, head))
        function = head
    names = tuple(_canonical(raw, part.strip()) for part in inner.split(","))
    return StatExpr(raw, function, names)
