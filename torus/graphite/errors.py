"""Errors of the Graphite API: each is a 400 (or 404) that says what is wrong in the target."""
from __future__ import annotations

from ..errors import BadRequest


class InputError(BadRequest):
    """A target, function argument or parameter the render API cannot use (HTTP 400)."""
