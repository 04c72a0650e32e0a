"""Which Graphite API path is answered by which function (``torus.web`` asks here second).

Every handler is ``(config, params, now) -> answer``; paths with a name in them
(``/tags/<tag>``, ``/functions/<name>``) get it as one more argument.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Dict, Optional

from . import catalogue, render

Handler = Callable[..., Any]

ROUTES: Dict[str, Handler] = {
    "render": render.render,
    "functions": catalogue.functions,
    "version": catalogue.version,
}
#: "prefix/" -> handler taking the rest of the path as its last argument
NAMED: Dict[str, Handler] = {
    "functions/": catalogue.function_details,
}


def handler(command: str) -> Optional[Handler]:
    """The handler of a path (without its surrounding slashes), None when it is not Graphite's."""
    found = ROUTES.get(command)
    if found is not None:
        return found
    for prefix, named in NAMED.items():
        if command.startswith(prefix) and len(command) > len(prefix):
            return partial(named, name=command[len(prefix):])
    return None
