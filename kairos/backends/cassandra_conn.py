"""From a cassandra:// or cql:// URL to a cassandra-driver ``Cluster``.

URL forms::

    cql://                                  127.0.0.1:9042, keyspace 'kairos'
    cassandra://host:9042/keyspace
    cassandra://h1,h2:9043,[::1]:9044/ks    several contact points (HA), ports per host
    cassandra://user:secret@host/ks         PlainTextAuthProvider

``client_config`` is passed to ``Cluster(...)`` as keywords (it wins over the URL),
except ``keyspace``, which kairos takes for itself. Parsing is pure; only
``build_cluster`` imports the driver.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union
from urllib.parse import unquote

from ..cooperative import sockets_patched
from ..exceptions import ConfigError
from .cassandra_cql import DEFAULT_KEYSPACE, identifier

ContactPoint = Union[str, Tuple[str, int]]
#: Cluster keywords of the driver's legacy configuration; an execution profile cannot be
#: added next to them
_LEGACY_OPTIONS = ("load_balancing_policy", "default_retry_policy")


def _host_port(text: str, url: str) -> ContactPoint:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` -> a host or a (host, port) tuple."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigError("bad IPv6 contact point %r in %s" % (text, url))
        port_text = rest[1:]
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ConfigError("empty host in Cassandra URL %s" % (url,))
    if not port_text:
        return host
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError("bad port %r in Cassandra URL %s" % (port_text, url))
    return (host, int(port_text))


def parse_url(url: str) -> Dict[str, Any]:
    """``{contact_points, keyspace, username, password}`` of a cassandra:// / cql:// URL
    (None for what the URL does not say)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("cassandra", "cql"):
        raise ConfigError("not a Cassandra URL (cassandra:// or cql://): %r" % (url,))
    rest, _, query = rest.partition("?")
    if query:
        raise ConfigError("Cassandra URLs take no query string (%r): pass driver options in "
                          "client_config" % (query,))
    netloc, _, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username = unquote(user)
        password = unquote(secret) if colon else None
    points: Optional[List[ContactPoint]] = None
    if hosts:
        points = [_host_port(part.strip(), url) for part in hosts.split(",") if part.strip()]
    keyspace = unquote(path.strip("/")) or None
    if keyspace is not None:
        keyspace = identifier(keyspace, "keyspace")
    return {"contact_points": points, "keyspace": keyspace, "username": username,
            "password": password}


def cluster_options(url: str, client_config: Dict[str, Any], gevent_patched: bool
                    ) -> Tuple[Dict[str, Any], str, Optional[Tuple[str, Optional[str]]]]:
    """``(Cluster keywords, keyspace, (username, password) or None)`` for a URL.

    Picks the gevent connection class when gevent patched ``socket`` (unless
    client_config names one), and, when contact points are explicit and no policy
    is configured, the driver's default policy explicitly (so it does not warn).
    """
    parsed = parse_url(url)
    config = dict(client_config)
    keyspace = config.pop("keyspace", None) or parsed["keyspace"] or DEFAULT_KEYSPACE
    keyspace = identifier(keyspace, "keyspace")
    options: Dict[str, Any] = {}
    if parsed["contact_points"]:
        options["contact_points"] = parsed["contact_points"]
    options.update(config)
    if gevent_patched and "connection_class" not in options:
        options["connection_class"] = "gevent"
    if ("contact_points" in options and "execution_profiles" not in options
            and not any(name in options for name in _LEGACY_OPTIONS)):
        options["execution_profiles"] = "default"
    auth = None
    if parsed["username"] is not None and "auth_provider" not in options:
        auth = (parsed["username"], parsed["password"])
    return options, keyspace, auth


def build_cluster(url: str, client_config: Dict[str, Any]) -> Tuple[Any, str]:
    """A (not yet connected) ``Cluster`` and the keyspace for a URL."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    options, keyspace, auth = cluster_options(url, client_config, sockets_patched())
    if options.get("connection_class") == "gevent":
        from cassandra.io.geventreactor import GeventConnection
        options["connection_class"] = GeventConnection
    if options.get("execution_profiles") == "default":
        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy())
        options["execution_profiles"] = {EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=policy)}
    if auth is not None:
        from cassandra.auth import PlainTextAuthProvider
        options["auth_provider"] = PlainTextAuthProvider(username=auth[0], password=auth[1] or "")
    try:
        return Cluster(**options), keyspace
    except (TypeError, ValueError) as err:
        raise ConfigError("cannot build a Cassandra cluster for %s: %s" % (url.split("@")[-1], err)) from err
