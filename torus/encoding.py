"""JSON encoding of query answers: shortest floats, NaN/inf as null, sets as sorted lists.

``to_json`` makes any value kairos or a configuration function can return
JSON-safe: floats keep Python's shortest round-trip form (``0.1`` stays
``0.1``; ints stay ints), NaN and infinities become ``null``, sets and
frozensets become sorted lists, tuples lists, Decimals numbers, bytes text, and
dictionary keys text (a callable key, as produced by a list of transforms, is
named by its ``__name__``). Anything else is written with ``str()``.
"""
from __future__ import annotations

import decimal
import json
import math
import re
from typing import Any, Optional

import orjson


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, float):
        return repr(key) if math.isfinite(key) else "null"
    if isinstance(key, (int, decimal.Decimal)):
        return str(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if callable(key):
        return getattr(key, "__name__", repr(key))
    return str(key)


def _sorted(values: Any) -> list:
    items = [to_json(v) for v in values]
    try:
        return sorted(items)
    except TypeError:  # mixed types: numbers first, in order, then the rest by their JSON text
        return sorted(items, key=_mixed_key)


def _mixed_key(value: Any) -> tuple:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, json.dumps(value, sort_keys=True))


def to_json(value: Any) -> Any:
    """A JSON-safe copy of ``value`` (see the module docstring)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return _sorted(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _default(value: Any) -> Any:
    """What the C encoder cannot write itself (sets, Decimals, bytes, other objects)."""
    return to_json(value)


#: orjson writes datetimes and dataclasses itself; these go through ``to_json`` (as text)
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
#: what orjson writes differently from Python's float repr (1e-7 for 1e-07, 0.00001 for
#: 1e-05); a match (maybe inside a string, harmlessly) sends the value to the json module
_NOT_PYTHON_FLOAT = re.compile(rb"e-\d(?!\d)|0\.0000")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON for a response body.

    orjson writes the common case ten times faster than the json module (a 50-stat
    /series answer: 0.07 ms instead of 0.7); what it refuses (integers past 64 bits,
    keys that are not text, text that is not UTF-8) or would write otherwise (floats
    below 1e-4) is written by the C encoder of the json module, the same bytes as
    before; a value that one refuses (NaN, a callable key) is made JSON-safe by
    ``to_json`` first.
    """
    try:
        body = orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        body = None
    if body is not None and not _NOT_PYTHON_FLOAT.search(body):
        return body
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False,
                          default=_default)
    except (ValueError, TypeError):
        text = json.dumps(to_json(value), separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.encode("utf-8")


class RawAnswer:
    """An answer that is already bytes of its own type (csv, plain text, pre-encoded json)."""

    __slots__ = ("body", "content_type", "points")

    def __init__(self, body: bytes, content_type: str, points: Optional[int] = None):
        self.body = body
        self.content_type = content_type
        #: datapoints the answer holds, when known (``torus_points_read_total``)
        self.points = points
