"""Value coercions and deterministic orderings shared by the storage engines.

An engine maps its ``value_type`` option to a coercion applied to every value
before it is written (``to_int``, ``to_float``...); ``checked`` turns the
TypeError/ValueError such a coercion raises into an InvalidValue that names the
value and the column. ``bucket_order`` and ``value_order`` sort a batch so that
what an engine sends (and the order concurrent writers lock rows in) does not
depend on dict or set iteration order.
"""
from __future__ import annotations

import decimal
from numbers import Number
from typing import Any, Callable, Optional, Tuple

from .exceptions import InvalidValue

#: the range of a signed 64-bit integer column (BIGINT, Cassandra bigint/counter)
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
#: the resolution key stored for intervals without a resolution (a key column cannot be NULL)
NO_RESOLUTION = -1

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


def to_float(value: Any) -> float:
    """A float; booleans are refused (True is not a measurement)."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return float(value)


def to_int(value: Any) -> int:
    """A whole number that fits a signed 64-bit column; 2.0 is 2, 2.5 is refused."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("has a fractional part")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError("out of the 64-bit range")
    return number


def to_decimal(value: Any) -> decimal.Decimal:
    """A Decimal of the value's text form (0.1 is Decimal('0.1'), not the binary float)."""
    return decimal.Decimal(str(value))


def to_bool(value: Any) -> bool:
    """A boolean; text must be one of true/false, 1/0, yes/no, on/off (or empty)."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("not a boolean")
    return bool(value)


def to_bytes(value: Any) -> bytes:
    """Bytes; text is encoded as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def checked(coerce: Callable[[Any], Any], column: str) -> Callable[[Any], Any]:
    """``coerce`` raising InvalidValue (naming the value and ``column``) instead of
    TypeError, ValueError or ArithmeticError."""
    def check(value: Any) -> Any:
        try:
            return coerce(value)
        except (TypeError, ValueError, ArithmeticError) as err:
            raise InvalidValue("value %r cannot be stored in a %s column: %s"
                               % (value, column, err)) from None
    return check


def bucket_order(item: Tuple[Tuple[str, str, int, Optional[int]], Any]) -> Tuple:
    """Sort key of a ``(bucket, data)`` batch item: name, interval, interval key, resolution key."""
    name, interval, i_key, r_key = item[0]
    return name, interval, i_key, NO_RESOLUTION if r_key is None else r_key


def value_order(value: Any) -> Tuple[str, Any]:
    """Sort key for values of mixed types: numbers first (ints and floats together), then
    the others grouped by type name."""
    if isinstance(value, Number) and not isinstance(value, bool):
        return ("0", value)
    return (type(value).__name__, value)
