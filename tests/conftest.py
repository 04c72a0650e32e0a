"""Shared test set-up: gevent patching, backend URLs, and reachability (skip locally, fail in CI).

Backends are found through environment variables, with the machine's defaults:

=====================  ==================================================
TEST_POSTGRES_URL      postgresql://postgres@127.0.0.1:5432/test
TEST_MYSQL_URL         mysql://root@127.0.0.1:3306/test
TEST_REDIS_URL         redis://127.0.0.1:6379/15
TEST_REDIS_CLUSTER_URL (unset: the session starts its own 6-node cluster, ``tests.redis_cluster``)
TEST_MONGO_URL         (unset: MongoDB tests skipped, even in CI)
TEST_CASSANDRA_HOSTS   (unset: Cassandra tests skipped, even in CI)
=====================  ==================================================

A backend that cannot be reached is skipped with the reason, except when the
``CI`` environment variable is set: then it is a failure.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from functools import lru_cache  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

URLS = {
    "postgresql": os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    "redis": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "mongo": os.environ.get("TEST_MONGO_URL", ""),
    "cassandra": os.environ.get("TEST_CASSANDRA_HOSTS", ""),
}
#: backends that cannot exist on this machine: skipped when unset, in CI too
OPTIONAL = ("mongo", "cassandra")
IN_CI = bool(os.environ.get("CI"))


@lru_cache(maxsize=None)
def _reachable(kind: str) -> str:
    """'' when the backend answers, else why not."""
    url = URLS[kind]
    if not url:
        return "%s: no server configured (set %s)" % (
            kind, "TEST_MONGO_URL" if kind == "mongo" else "TEST_CASSANDRA_HOSTS")
    if kind == "cassandra":
        host, _, port = url.split(",")[0].partition(":")
        address = (host, int(port or 9042))
    else:
        parts = urlsplit(url)
        default = {"postgresql": 5432, "mysql": 3306, "redis": 6379, "mongo": 27017}[kind]
        address = (parts.hostname or "127.0.0.1", parts.port or default)
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as err:
        return "%s at %s:%s unreachable: %s" % (kind, address[0], address[1], err)
    return ""


def require(kind: str) -> str:
    """The URL of a backend, skipping (or failing under CI) when it cannot be reached."""
    why = _reachable(kind)
    if why:
        if IN_CI and kind not in OPTIONAL:
            pytest.fail("CI is set and %s" % why, pytrace=False)
        pytest.skip(why)
    return URLS[kind]


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory):
    """A ``redis+cluster://`` URL: ``TEST_REDIS_CLUSTER_URL`` (``.ci/run`` starts one), else a
    cluster this session starts on free loopback ports and stops at its end. One that cannot
    be started or reached is a skip with the reason, a failure under CI."""
    from tests import redis_cluster
    url = os.environ.get("TEST_REDIS_CLUSTER_URL", "")
    if url:
        first = url.split("://", 1)[1].split(",", 1)[0].split("/", 1)[0]
        host, _, port = first.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError as err:
            _unavailable("the Redis Cluster of TEST_REDIS_CLUSTER_URL is unreachable: %s" % err)
        yield url
        return
    try:
        cluster = redis_cluster.start(str(tmp_path_factory.mktemp("redis-cluster")))
    except redis_cluster.ClusterError as err:
        _unavailable("no Redis Cluster: %s" % err)
    yield cluster.url
    cluster.stop()


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail("CI is set and " + why, pytrace=False)
    pytest.skip(why)


def require_module(name: str) -> None:
    """Skip (fail under CI) when a development.pip package is not importable."""
    import importlib.util
    if importlib.util.find_spec(name) is None:
        _unavailable("%s is not installed (pip install -r development.pip)" % name)


@pytest.fixture
def unique_name():
    """A short unique token for table names, key prefixes and stat names."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def redis_server(tmp_path):
    """A private redis-server on a free port, for tests that pause, resume or stop it."""
    from tests.functional.redis_server import RedisServer
    server = RedisServer(tmp_path)
    yield server
    server.stop()
