"""redis_bulk against a real Redis: order, chunking, at-most-once batches, refusals alone."""
import uuid

import pytest

from kairos import BackendError
from kairos.backends import redis_bulk
from kairos.backends.redis_bulk import Writes
from tests.conftest import require
from tests.redis_writes import one_by_one


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
    handle, token = client
    monkeypatch.setattr(redis_bulk, "CHUNK", 3)
    k = lambda name: token + name  # noqa: E731
    handle.set(k("f"), "1.5")
    writes = [("S", k("g"), 4102444800, "1"),
              ("I", k("f"), None, 2),  # holds a float: redone as INCRBYFLOAT
              ("I", k("c"), None, 5), ("F", k("c"), None, "0.25"),
              ("L", k("l"), 4102444800, "a", "b"), ("H", k("h"), None, "v", 3),
              ("S", k("g2"), None, "1"), ("S", k("g2"), None, "2"),
              ("A", k("s"), None, "x", "y")]
    assert redis_bulk.run(handle, Writes.of(writes), BackendError) == []
    assert handle.get(k("g")) == b"1"
    assert handle.ttl(k("g")) > 0 and handle.ttl(k("l")) > 0
    assert handle.get(k("g2")) == b"2"  # in order
    assert float(handle.get(k("f"))) == 3.5
    assert float(handle.get(k("c"))) == 5.25
    assert handle.lrange(k("l"), 0, -1) == [b"a", b"b"]
    assert handle.hgetall(k("h")) == {b"v": b"3"}
    assert handle.smembers(k("s")) == {b"x", b"y"}


def test_a_batch_sent_twice_with_its_marker_is_applied_once(client, monkeypatch):
    handle, token = client
    monkeypatch.setattr(redis_bulk, "CHUNK", 2)  # several chunks, each with its own field
    writes = [("I", token + "c%d" % (i % 3), None, i) for i in range(7)]
    writes.append(("L", token + "l", None, "x"))
    for _ in range(3):
        assert redis_bulk.run(handle, Writes.of(writes), BackendError, marker=token + "m", ttl=100) == []
    assert [int(handle.get(token + "c%d" % i)) for i in range(3)] == [0 + 3 + 6, 1 + 4, 2 + 5]
    assert handle.lrange(token + "l", 0, -1) == [b"x"]
    assert 0 < handle.ttl(token + "m") <= 100
    assert sorted(handle.hkeys(token + "m")) == [b"0", b"1", b"2", b"3"]


def test_a_refused_write_costs_only_itself_and_is_reported_on_every_retry(client):
    handle, token = client
    handle.rpush(token + "list", "a")           # a key of another type
    handle.set(token + "huge", repr(1.7e308))  # a total that cannot grow further
    writes = [("I", token + "c", None, 1), ("I", token + "list", 4102444800, 1),
              ("F", token + "huge", None, "1e308"), ("S", token + "g", None, "7")]
    for _ in range(2):
        refused = redis_bulk.run(handle, Writes.of(writes), BackendError, marker=token + "m")
        assert [r.position for r in refused] == [1, 2]
        assert "WRONGTYPE" in refused[0].reason and "finite" in refused[1].reason
    assert handle.get(token + "c") == b"1" and handle.get(token + "g") == b"7"
    assert handle.lrange(token + "list", 0, -1) == [b"a"]
    assert handle.ttl(token + "list") == -1  # a refused key keeps its own (absent) TTL


def test_a_64_bit_overflow_goes_on_as_a_float(client):
    handle, token = client
    handle.set(token + "c", 2 ** 63 - 1)
    assert redis_bulk.run(handle, Writes.of([("I", token + "c", None, 5)]), BackendError) == []
    assert float(handle.get(token + "c")) == float(2 ** 63 + 4)


def test_no_limit_on_the_values_of_one_bucket(client):
    handle, token = client
    values = tuple(str(i) for i in range(30000))  # Lua's unpack stops near 8,000
    writes = [("L", token + "l", None, *values), ("A", token + "s", None, *values)]
    assert redis_bulk.run(handle, Writes.of(writes), BackendError) == []
    assert handle.llen(token + "l") == 30000 and handle.scard(token + "s") == 30000


def test_connection_errors_become_the_callers_error():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    with pytest.raises(BackendError):
        redis_bulk.run(dead, Writes.of([("S", "k", None, "1")]), BackendError)


def test_out_of_memory_is_an_error_to_retry_not_a_refused_value(redis_server):
    handle = redis_server.client()  # a private server: its maxmemory is this test's to change
    handle.config_set("maxmemory", 1)  # every write is refused: OOM
    try:
        with pytest.raises(BackendError, match="maxmemory"):
            redis_bulk.run(handle, Writes.of([("I", "c", None, 1)]), BackendError, marker="m")
    finally:
        handle.config_set("maxmemory", 0)
    assert handle.get("c") is None and not handle.exists("m")
    assert redis_bulk.run(handle, Writes.of([("I", "c", None, 1)]), BackendError, marker="m") == []
    assert handle.get("c") == b"1"


def _hashes(handle, token):
    return {key: handle.hgetall(key) for key in sorted(handle.scan_iter(match=token + "h*"))
            if handle.type(key) == b"hash"}


@pytest.mark.parametrize("chunk", [2000, 7, 1])
def test_a_group_writes_what_its_writes_one_by_one_write(client, monkeypatch, chunk):
    handle, token = client
    monkeypatch.setattr(redis_bulk, "CHUNK", chunk)  # calls end before groups, or after them
    monkeypatch.setattr(redis_bulk, "GROUP", 5)  # groups longer than a call, and cut in parts
    handle.hset(token + "h3", "60", "1.5")  # a float: HINCRBY fails, HINCRBYFLOAT goes on
    handle.hset(token + "h4", "60", 2 ** 63 - 1)  # an overflow: goes on as a float
    handle.rpush(token + "h7", "x")  # a key of another type: refused, alone
    writes = Writes()
    writes.add_group("c", "60", [token + "h%d" % i for i in range(12)], list(range(1, 13)))
    writes.add("C", token + "h0", 4102444800, "120", 7)
    writes.add_group("g", "120", [token + "h%d" % i for i in range(6, 9)], ["a", "b", "c"])
    writes.add_group("d", "180", [token + "h1", token + "h2"], ["0.5", "0.25"])
    refused = redis_bulk.run(handle, writes, BackendError, marker=token + "m")
    assert [(r.position, "WRONGTYPE" in r.reason) for r in refused] == [(7, True), (14, True)]
    grouped = _hashes(handle, token)
    assert handle.ttl(token + "h0") > 0 and handle.ttl(token + "h1") == -1
    # sent again under its marker: nothing changes, the refusal is reported again
    again = redis_bulk.run(handle, writes, BackendError, marker=token + "m")
    assert [r.position for r in again] == [7, 14] and _hashes(handle, token) == grouped
    for key in handle.scan_iter(match=token + "*"):
        handle.delete(key)
    handle.hset(token + "h3", "60", "1.5")
    handle.hset(token + "h4", "60", 2 ** 63 - 1)
    handle.rpush(token + "h7", "x")
    singles = one_by_one(writes)
    assert len(singles) == len(writes) == 18
    assert [r.position for r in redis_bulk.run(handle, singles, BackendError)] == [7, 14]
    assert _hashes(handle, token) == grouped
    assert float(grouped[(token + "h3").encode()][b"60"]) == 5.5
    assert float(grouped[(token + "h4").encode()][b"60"]) == float(2 ** 63 - 1 + 5)
    assert grouped[(token + "h0").encode()] == {b"60": b"1", b"120": b"7"}
    assert grouped[(token + "h6").encode()] == {b"60": b"7", b"120": b"a"}
    assert float(grouped[(token + "h1").encode()][b"180"]) == 0.5


def test_a_group_of_no_writes_is_an_error_not_a_loop(client):
    handle, token = client
    writes = Writes()  # built by hand: add_group never makes one
    writes.keys, writes.args, writes.sizes = [token + "h"], ["*g", "60", 0], [3]
    with pytest.raises(BackendError, match="a group of no writes"):
        redis_bulk.run(handle, writes, BackendError)
