"""redis_bulk against a real Redis: chunking, order, INCRBY on a float, errors."""
import uuid

import pytest

from kairos import BackendError
from tests.conftest import require


@pytest.fixture
def client():
    import redis
    handle = redis.Redis.from_url(require("redis"))
    token = "rb%s:" % uuid.uuid4().hex[:8]
    yield handle, token
    keys = list(handle.scan_iter(match=token + "*"))
    if keys:
        handle.delete(*keys)


def test_chunks_keep_order_and_effects(client, monkeypatch):
    from kairos.backends import redis_bulk
    handle, token = client
    monkeypatch.setattr(redis_bulk, "CHUNK", 3)
    k = lambda name: token + name  # noqa: E731
    handle.set(k("f"), "1.5")
    commands = [("set", k("g"), "1"), ("expireat", k("g"), 4102444800),
                ("incrby", k("f"), 2),  # holds a float: redone as INCRBYFLOAT
                ("incrby", k("c"), 5), ("incrbyfloat", k("c"), "0.25"),
                ("rpush", k("l"), "a", "b"), ("hincrby", k("h"), "v", 3),
                ("set", k("g2"), "1"), ("set", k("g2"), "2"), ("sadd", k("s"), "x", "y")]
    redis_bulk.run(handle, commands, BackendError)
    assert handle.get(k("g")) == b"1"
    assert handle.ttl(k("g")) > 0
    assert handle.get(k("g2")) == b"2"  # in order
    assert float(handle.get(k("f"))) == 3.5
    assert float(handle.get(k("c"))) == 5.25
    assert handle.lrange(k("l"), 0, -1) == [b"a", b"b"]
    assert handle.hgetall(k("h")) == {b"v": b"3"}
    assert handle.smembers(k("s")) == {b"x", b"y"}


def test_errors_become_the_callers_error(client):
    from kairos.backends import redis_bulk
    handle, token = client
    handle.rpush(token + "list", "a")
    with pytest.raises(BackendError):
        redis_bulk.run(handle, [("incrby", token + "list", 1)], BackendError)
