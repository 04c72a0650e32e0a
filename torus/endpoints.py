"""The /list and /properties commands (/series lives in ``queries``, /insert in ``insert``).

Each takes the configuration serving the request, its parameters and the query
time, and returns the JSON-able answer or raises a TorusError / KairosError that
the web layer turns into an error response.
"""
from __future__ import annotations

from typing import Any, Dict, List

from .access import filter_readable
from .carbon import BadLine, canonical_name
from .config import Configuration
from .params import ParameterError, Params, UnknownName
from .queries import check_stat_count
from .schema import Schema


def _schemas(config: Configuration, params: Params) -> List[Schema]:
    """Every schema, or the one named by ``schema=`` (404 when unknown)."""
    name = params.one("schema")
    if name is None:
        return list(config.schemas.values())
    schema = config.schemas.get(name)
    if schema is None:
        raise UnknownName("schema", "unknown schema %r (known: %s)"
                       % (name, ", ".join(config.schemas) or "none"))
    return [schema]


def _canonical(parameter: str, name: str) -> str:
    """A stat name as karbon stores it (tags sorted); 400 for a malformed tagged name."""
    try:
        return canonical_name(name)
    except BadLine as err:
        raise ParameterError(parameter, "%r is not a valid tagged name: %s" % (name, err)) from None


def list_stats(config: Configuration, params: Params, now: float) -> List[str]:
    """/list: the sorted names stored in every schema (or in ``schema=``) that the request's
    token may read (``torus.access``)."""
    names = set()
    for schema in _schemas(config, params):
        names.update(schema.timeseries.list())
    return filter_readable(params.grant, sorted(names))


def properties(config: Configuration, params: Params, now: float) -> Dict[str, Any]:
    """/properties: ``{stat: {schema: {interval: {first, last}}}}`` for each ``stat``."""
    stats = params.all("stat")
    if not stats:
        raise ParameterError("stat", "is required")
    check_stat_count(config, stats)  # on Redis each stat is a scan of the whole keyspace
    forced = params.one("schema") is not None
    chosen = _schemas(config, params)
    out: Dict[str, Any] = {}
    for given in stats:
        given = given.strip()
        stat = _canonical("stat", given)
        schemas = chosen if forced else [s for s in chosen if s.match(stat) is not None]
        out[given] = {schema.name: schema.timeseries.properties(stat) for schema in schemas}
    return out
