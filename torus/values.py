"""Value conversions available to every configuration module."""
from __future__ import annotations

import decimal
from typing import Any, Union


def long_or_float(value: Any) -> Union[int, float]:
    """An int when the value is integral, else a float ("5" -> 5, "2.5" -> 2.5, 5.0 -> 5).

    The default ``read_func`` and ``write_func`` of a schema. Raises ValueError for
    text that is not a number.
    """
    kind = type(value)  # exact types first: this runs for every value karbon and torus move
    if kind is int:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is str and value.isdecimal():
        return int(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    number = float(text)
    return int(number) if number.is_integer() else number
