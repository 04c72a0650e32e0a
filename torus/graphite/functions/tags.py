"""seriesByTag's declaration for /functions (the evaluator hands its calls to the source)."""
from __future__ import annotations

from typing import List

from ..errors import InputError
from ..registry import Param, function
from ..series import Series


@function("Special", Param("tagExpressions", "string", required=True, multiple=True))
def seriesByTag(context, *tagExpressions: str) -> List[Series]:
    """The series whose tags match every expression: ``tag=value``, ``tag!=value``,
    ``tag=~regex``, ``tag!=~regex``; at least one expression must match a non-empty
    value, as in ``seriesByTag('name=cpu.load', 'dc=~east.*')``."""
    raise InputError("seriesByTag is answered by the data source; it cannot be called "
                     "as a function here")
