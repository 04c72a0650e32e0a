"""Errors of the Graphite API: each is a 400 (or 404) that says what is wrong in the target."""
from __future__ import annotations

from ..errors import BadRequest
from ..params import ParameterError, Params


class InputError(BadRequest):
    """A target, function argument or parameter the render API cannot use (HTTP 400)."""


def refuse_jsonp(params: Params) -> None:
    """graphite-web wraps answers in a ``jsonp`` callback; torus does not run callers' code in
    pages: a page on another origin reads torus through CORS."""
    if "jsonp" in params:
        raise ParameterError("jsonp", "is not served: torus answers plain JSON, which a page on "
                                      "another origin reads through CORS (the CORS_ORIGIN setting)")
