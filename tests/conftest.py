"""Shared test set-up: gevent patching, backend URLs, and reachability (skip locally, fail in CI).

Backends are found through environment variables, with the machine's defaults:

=====================  ==================================================
TEST_POSTGRES_URL      postgresql://postgres@127.0.0.1:5432/test
TEST_MYSQL_URL         mysql://root@127.0.0.1:3306/test
TEST_REDIS_URL         redis://127.0.0.1:6379/15
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
