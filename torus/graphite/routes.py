"""Which Graphite API path is answered by which function (``torus.web`` asks here second).

Every handler is ``(config, params, now) -> answer``; paths with a name in them
(``/tags/<tag>``, ``/functions/<name>``) get it as one more argument.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ..params import UnknownName
from . import catalogue, metrics_api, render, tags_api

Handler = Callable[..., Any]

def tag_writes(config: Any, params: Any, now: float) -> Any:
    """graphite-web's tag database writes: karbon indexes the tagged names it stores itself."""
    raise UnknownName("path", "tag writes (/tags/tagSeries, /tags/tagMultiSeries, /tags/delSeries) "
                              "are not served: karbon indexes the tagged names it stores; "
                              "remove a series with DELETE /series")


ROUTES: Dict[str, Handler] = {
    "render": render.render,
    "functions": catalogue.functions,
    "version": catalogue.version,
    "metrics": metrics_api.find,
    "metrics/find": metrics_api.find,
    "metrics/expand": metrics_api.expand,
    "metrics/index.json": metrics_api.index_json,
    "tags": tags_api.tag_list,
    "tags/findSeries": tags_api.find_series,
    "tags/autoComplete/tags": tags_api.auto_complete_tags,
    "tags/autoComplete/values": tags_api.auto_complete_values,
    "tags/tagSeries": tag_writes,
    "tags/tagMultiSeries": tag_writes,
    "tags/delSeries": tag_writes,
}
#: "prefix/" -> handler taking the rest of the path as its last argument
NAMED: Dict[str, Handler] = {
    "functions/": catalogue.function_details,
    "tags/": tags_api.tag_details,
}


def handler(command: str) -> Optional[Handler]:
    """The handler of a path (without its surrounding slashes), None when it is not Graphite's."""
    found = ROUTES.get(command)
    if found is not None:
        return found
    for prefix, named in NAMED.items():
        if command.startswith(prefix) and len(command) > len(prefix):
            rest = command[len(prefix):]
            return lambda config, params, now: named(config, params, now, rest)
    return None
