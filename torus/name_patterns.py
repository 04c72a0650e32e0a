"""Stat name patterns for tools that select names: Graphite globs and regular expressions.

A Graphite glob matches a whole dotted name, one component per component:
``*`` is any run of characters inside one component (never a dot), ``?`` one
character of a component, ``[abc]``/``[a-z]``/``[!a]`` a character class,
``{cpu,mem}`` one of the comma-separated alternatives. ``stats.*.count``
therefore matches ``stats.web.count`` but not ``stats.web.eu.count``. Every other
character stands for itself (``.`` is a literal dot). Pure: no I/O.
"""
from __future__ import annotations

import re
from typing import Pattern

#: characters that make a name a glob rather than an exact name
GLOB_CHARS = frozenset("*?[]{}")


class PatternError(ValueError):
    """A glob or regular expression that cannot be compiled."""


def is_glob(text: str) -> bool:
    """True when ``text`` holds a glob character (``* ? [ ] { }``)."""
    return any(char in GLOB_CHARS for char in text)


def glob_regex(glob: str) -> str:
    """The regular expression (source, anchored at both ends) of a Graphite glob."""
    out = []
    i, length, depth = 0, len(glob), 0
    while i < length:
        char = glob[i]
        if char == "*":
            out.append("[^.]*")
        elif char == "?":
            out.append("[^.]")
        elif char == "[":
            end = glob.find("]", i + 2 if glob[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                raise PatternError("%r: '[' at %d is never closed" % (glob, i))
            body = glob[i + 1:end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            if not body:
                raise PatternError("%r: empty character class at %d" % (glob, i))
            escaped = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
            out.append("[^.%s]" % escaped if negate else "[%s]" % escaped)
            i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        elif char in "]}":
            raise PatternError("%r: %r at %d closes nothing" % (glob, char, i))
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise PatternError("%r: '{' is never closed" % glob)
    return "^" + "".join(out) + "$"


def compile_glob(glob: str) -> Pattern[str]:
    """A compiled Graphite glob (``fullmatch`` semantics); PatternError when malformed."""
    try:
        return re.compile(glob_regex(glob))
    except re.error as err:  # e.g. a reversed range [z-a]
        raise PatternError("%r: %s" % (glob, err)) from None


def compile_regex(text: str) -> Pattern[str]:
    """A regular expression that must match a whole name; PatternError when invalid."""
    try:
        return re.compile(r"(?:%s)\Z" % text)
    except re.error as err:
        raise PatternError("%r: %s" % (text, err)) from None
