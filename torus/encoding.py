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
from typing import Any, Optional


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


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON for a response body.

    The C encoder writes the common case directly; a value it refuses (NaN, a callable
    key) is made JSON-safe by ``to_json`` first.
    """
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
