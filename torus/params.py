"""Typed access to the URL parameters of a request; every failure is a 400 naming the parameter.

An empty value (``end=``) counts as absent, so dashboards that send every field
still work. Unknown parameters are ignored (cache busters such as ``_=123``).
A single-valued parameter given twice with different values is an error rather
than a silent pick.
"""
from __future__ import annotations

from typing import (Callable, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, TypeVar, Union,
                    overload)
from urllib.parse import parse_qsl

from .access import OPEN, Grant
from .errors import BadRequest, NotFound
from .times import Number, parse_time

T = TypeVar("T")
D = TypeVar("D")

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")
#: a parameter longer than this is refused (a URL is not a place for megabytes)
MAX_VALUE_LENGTH = 10_000


class ParameterError(BadRequest):
    """A parameter is missing or invalid (HTTP 400); ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__("%s: %s" % (parameter, message))
        self.parameter = parameter


class UnknownName(NotFound):
    """A parameter names a schema (or other thing) that does not exist (HTTP 404)."""

    def __init__(self, parameter: str, message: str):
        super().__init__("%s: %s" % (parameter, message))
        self.parameter = parameter


def parse_boolean(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ParameterError(name, "%r is not a boolean: use true/false, 1/0 or yes/no" % text)


class Params:
    """The parameters of one request (query string, plus a form body for POST), and ``grant``:
    what its credentials allow (``torus.access``; set by the web layer, open by default)."""

    grant: Grant = OPEN

    def __init__(self, pairs: Iterable[Tuple[str, str]]):
        self.values: Dict[str, List[str]] = {}
        for name, value in pairs:
            if len(value) > MAX_VALUE_LENGTH:
                raise ParameterError(name, "value longer than %d characters" % MAX_VALUE_LENGTH)
            if value.strip():
                self.values.setdefault(name, []).append(value)

    @classmethod
    def from_query(cls, *queries: str) -> "Params":
        pairs: List[Tuple[str, str]] = []
        for query in queries:
            if query:
                try:
                    pairs.extend(parse_qsl(query, keep_blank_values=True, strict_parsing=False,
                                           errors="strict"))
                except UnicodeDecodeError:
                    raise BadRequest("the query string is not valid UTF-8") from None
        return cls(pairs)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def all(self, name: str) -> List[str]:
        """Every non-empty value of a repeatable parameter, in order."""
        return list(self.values.get(name, ()))

    @overload
    def one(self, name: str, required: Literal[True]) -> str: ...

    @overload
    def one(self, name: str, required: bool = False) -> Optional[str]: ...

    def one(self, name: str, required: bool = False) -> Optional[str]:
        """The value of a single-valued parameter (None when absent)."""
        values = self.values.get(name)
        if not values:
            if required:
                raise ParameterError(name, "is required")
            return None
        if len(set(values)) > 1:
            raise ParameterError(name, "given %d times with different values" % len(values))
        return values[0].strip()

    def _typed(self, name: str, convert: Callable[[str], T], default: D) -> Union[T, D]:
        text = self.one(name)
        return default if text is None else convert(text)

    def boolean(self, name: str, default: bool = False) -> bool:
        return self._typed(name, lambda text: parse_boolean(name, text), default)

    def choice(self, name: str, choices: Sequence[str], default: str) -> str:
        def convert(text: str) -> str:
            if text.lower() not in choices:
                raise ParameterError(name, "%r is not one of %s" % (text, ", ".join(choices)))
            return text.lower()
        return self._typed(name, convert, default)

    def positive_int(self, name: str) -> Optional[int]:
        def convert(text: str) -> int:
            try:
                number = int(text)
            except ValueError:
                raise ParameterError(name, "%r is not a whole number" % text) from None
            if number < 1:
                raise ParameterError(name, "must be at least 1, not %d" % number)
            return number
        return self._typed(name, convert, None)

    def time(self, name: str, now: float) -> Optional[Number]:
        def convert(text: str) -> Number:
            try:
                return parse_time(text, now)
            except ValueError as err:
                raise ParameterError(name, str(err)) from None
        return self._typed(name, convert, None)
