"""Parse a graphite ``target`` into a small tree: paths, calls, pipes and constants.

The forms are graphite-web 1.1's: ``a.b.*``, ``a.{x,y}.c``, ``func(arg, ...,
name=value)``, ``expr|func(args)`` (the expression becomes the first argument),
numbers (``5``, ``-1.5``, ``1e3``, ``-1e+06``), quoted strings, ``true``/``false``,
``None`` and ``inf``. A backslash escapes one of ``(){},.'"\\|=`` inside a path.
``template()`` is not supported. A malformed target raises ``TargetError``
naming the position, so the client gets a 400 that says what is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple, Union

#: characters that end a path element unless escaped
SYMBOLS = "(){},.'\"\\|"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {"true": True, "false": False, "none": None, "inf": float("inf")}
MAX_DEPTH = 50


class TargetError(ValueError):
    """A target that is not valid graphite syntax."""


@dataclass(frozen=True)
class Path:
    """A path expression (may hold wildcards): evaluates to the series it names."""

    text: str


@dataclass
class Call:
    """``name(args, kwargs)``; ``raw`` is the call's text as written (seriesByTag uses it)."""

    name: str
    args: List[Any] = field(default_factory=list)
    kwargs: Dict[str, Any] = field(default_factory=dict)
    raw: str = ""


Node = Union[Path, Call, int, float, str, bool, None]


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, message: str) -> TargetError:
        return TargetError("%s at character %d of %r" % (message, self.pos + 1, self.text))

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "the end"
            raise self.error("expected %r, found %r" % (char, found))
        self.pos += 1

    def _ends_argument(self, at: int) -> bool:
        """Whether only spaces then ``,``, ``)``, ``|`` or the end follow position ``at``."""
        rest = self.text[at:].lstrip()
        return not rest or rest[0] in ",)|"

    # -- grammar ---------------------------------------------------------------
    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("nested deeper than %d" % MAX_DEPTH)
        node = self.primary()
        while self.peek() == "|":
            self.pos += 1
            self.skip()
            start = self.pos
            name = _NAME.match(self.text, self.pos)
            if name is None or not self.text[name.end():].lstrip().startswith("("):
                raise self.error("a '|' must be followed by a function call")
            piped = self.call(start)
            piped.args.insert(0, node)
            node = piped
        self.depth -= 1
        return node

    def primary(self) -> Node:
        self.skip()
        start = self.pos
        if start >= len(self.text):
            raise self.error("expected a path, a function call or a value, found the end")
        char = self.text[start]
        if char in "'\"":
            return self.string()
        number = _NUMBER.match(self.text, start)
        if number and self._ends_argument(number.end()):
            self.pos = number.end()
            literal = number.group()
            return int(literal) if re.fullmatch(r"-?\d+", literal) else float(literal)
        name = _NAME.match(self.text, start)
        if name:
            after = self.text[name.end():].lstrip()
            if after.startswith("("):
                return self.call(start)
            word = name.group().lower()
            if word in _KEYWORDS and self._ends_argument(name.end()):
                self.pos = name.end()
                return _KEYWORDS[word]
        return self.path()

    def string(self) -> str:
        quote = self.text[self.pos]
        index = self.pos + 1
        while index < len(self.text):
            if self.text[index] == "\\":
                index += 2
                continue
            if self.text[index] == quote:
                value = self.text[self.pos + 1:index]
                self.pos = index + 1
                return value
            index += 1
        raise self.error("unterminated string")

    def call(self, start: int) -> Call:
        name = _NAME.match(self.text, self.pos)
        assert name is not None
        self.pos = name.end()
        self.expect("(")
        node = Call(name.group())
        if self.peek() != ")":
            while True:
                self.skip()
                keyword = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)").match(self.text, self.pos)
                if keyword:
                    self.pos = keyword.end()
                    node.kwargs[keyword.group(1)] = self.expression()
                elif node.kwargs:
                    raise self.error("a positional argument cannot follow a keyword argument")
                else:
                    node.args.append(self.expression())
                if self.peek() == ",":
                    self.pos += 1
                    continue
                break
        self.expect(")")
        node.raw = self.text[start:self.pos]
        return node

    def path(self) -> Path:
        start = self.pos
        braces = 0
        chars: List[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in SYMBOLS + "=":
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == "{":
                braces += 1
            elif char == "}":
                if not braces:
                    raise self.error("unexpected '}'")
                braces -= 1
            elif char == "," and braces:
                pass
            elif char.isspace() or char in "(),'\"|":
                break
            chars.append(char)
            self.pos += 1
        if braces:
            raise self.error("unclosed '{'")
        text = "".join(chars)
        if not text:
            found = self.text[self.pos] if self.pos < len(self.text) else "the end"
            raise self.error("expected a path, a function call or a value, found %r" % found)
        if text.startswith(".") or text.endswith(".") or ".." in text:
            self.pos = start
            raise self.error("%r is not a valid path (empty node)" % text)
        return Path(text)


def parse(target: str) -> Node:
    """The tree of one target (``TargetError`` when it is not graphite syntax)."""
    parser = _Parser(target)
    node = parser.expression()
    if parser.peek():
        raise parser.error("unexpected %r" % parser.peek())
    return node


def paths_of(node: Node) -> List[Tuple[str, bool]]:
    """Every path expression in a tree, with whether it is a seriesByTag call's text."""
    found: List[Tuple[str, bool]] = []
    if isinstance(node, Path):
        found.append((node.text, False))
    elif isinstance(node, Call):
        if node.name == "seriesByTag":
            found.append((node.raw, True))
        else:
            for arg in list(node.args) + list(node.kwargs.values()):
                found.extend(paths_of(arg))
    return found
