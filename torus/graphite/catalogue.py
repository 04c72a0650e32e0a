"""``/functions``, ``/functions/<name>`` and ``/version``: what Grafana asks before drawing.

Grafana's Graphite data source builds its function editor from ``/functions``
(graphite-web 1.1's shape: ``{name: {name, function, description, module,
group, params}}``); ``grouped=true`` nests them by group, ``group=`` keeps one
group, ``type=pie`` answers ``{}`` (no pie functions here). ``/version`` answers
the graphite-web API version torus follows.
"""
from __future__ import annotations

from typing import Any, Dict

from ..encoding import RawAnswer
from ..params import Params, UnknownName
from . import registry

#: the graphite-web release whose HTTP API torus answers (Grafana picks features by it)
GRAPHITE_API_VERSION = "1.1.8"


def functions(config: Any, params: Params, now: float) -> Dict[str, Any]:
    if params.one("type") == "pie":
        return {}
    wanted = params.one("group")
    grouped = (params.one("grouped") or "").lower() in ("1", "true")
    out: Dict[str, Any] = {}
    for name, info in registry.catalogue().items():
        if wanted is not None and info["group"] != wanted:
            continue
        if grouped:
            out.setdefault(info["group"], {})[name] = info
        else:
            out[name] = info
    return out


def function_details(config: Any, params: Params, now: float, name: str) -> Dict[str, Any]:
    info = registry.catalogue().get(name)
    if info is None or params.one("type") == "pie":
        raise UnknownName("function", "unknown function %r (GET /functions lists them)" % name)
    return info


def version(config: Any, params: Params, now: float) -> RawAnswer:
    return RawAnswer(GRAPHITE_API_VERSION.encode("ascii"), "text/plain")
