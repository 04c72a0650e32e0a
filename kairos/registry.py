"""Which storage engine serves a client: one table from URL scheme / client class to engine.

Engine modules are imported only when used, so the drivers of engines nobody
uses (pymongo, cassandra-driver) need not be installed.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, Tuple

from .exceptions import UnknownBackend

if TYPE_CHECKING:  # kairos.timeseries imports this module
    from .timeseries import Timeseries

#: URL scheme (the part before "://" and before any "+driver") -> (module, class)
SCHEMES: Dict[str, Tuple[str, str]] = {
    "redis": ("kairos.backends.redis_store", "RedisTimeseries"),
    "rediss": ("kairos.backends.redis_store", "RedisTimeseries"),
    "unix": ("kairos.backends.redis_store", "RedisTimeseries"),
    "redis+cluster": ("kairos.backends.redis_cluster", "RedisClusterTimeseries"),
    "rediss+cluster": ("kairos.backends.redis_cluster", "RedisClusterTimeseries"),
    "mongodb": ("kairos.backends.mongo_store", "MongoTimeseries"),
    "mongodb+srv": ("kairos.backends.mongo_store", "MongoTimeseries"),
    "cassandra": ("kairos.backends.cassandra_store", "CassandraTimeseries"),
    "cql": ("kairos.backends.cassandra_store", "CassandraTimeseries"),
}
#: SQL dialects SQLAlchemy knows; any "<dialect>[+driver]://" URL goes to the SQL engine
SQL_DIALECTS = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
SQL_ENGINE = ("kairos.backends.sql_store", "SqlTimeseries")

#: client object's module (its full name, else its package) -> engine, for handles passed
#: instead of URLs
CLIENT_MODULES: Dict[str, Tuple[str, str]] = {
    "redis.cluster": SCHEMES["redis+cluster"],
    "sqlalchemy": SQL_ENGINE,
    "redis": SCHEMES["redis"],
    "pymongo": SCHEMES["mongodb"],
    "cassandra": SCHEMES["cassandra"],
}


def _load(target: Tuple[str, str]) -> type[Timeseries]:
    module, name = target
    return getattr(importlib.import_module(module), name)


def scheme_of(url: str) -> str:
    """The scheme of a URL in lower case ("postgresql+psycopg://..." -> "postgresql+psycopg")."""
    if "://" not in url:
        raise UnknownBackend("%r is not a storage URL: expected scheme://..." % (url,))
    return url.split("://", 1)[0].lower()


def redact_url(url: str) -> str:
    """A storage URL fit for messages and logs: its password (if any) replaced by '***'."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return "%s://%s:***@%s%s%s" % (scheme, credentials.split(":", 1)[0], hosts, slash, path)


def engine_for(client: Any) -> type[Timeseries]:
    """The Timeseries subclass for a URL string or a driver client object."""
    if isinstance(client, str):
        scheme = scheme_of(client)
        if scheme in SCHEMES:
            return _load(SCHEMES[scheme])
        if scheme.split("+", 1)[0] in SQL_DIALECTS:
            return _load(SQL_ENGINE)
        raise UnknownBackend("no storage engine for URL scheme %r (known: %s, and SQLAlchemy "
                             "dialects %s)" % (scheme, ", ".join(sorted(SCHEMES)), ", ".join(SQL_DIALECTS)))
    for klass in type(client).__mro__:
        module = klass.__module__ or ""
        for name in (module, module.split(".", 1)[0]):
            if name in CLIENT_MODULES:
                return _load(CLIENT_MODULES[name])
    raise UnknownBackend("no storage engine for a client of type %s.%s" % (
        type(client).__module__, type(client).__name__))
