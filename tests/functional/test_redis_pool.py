"""The Redis engine's client under load and stalls: callers wait for a connection, never hang."""
import gevent
import pytest

from kairos import BackendError, Timeseries

MINUTE = {"minute": {"step": 60}}


def test_more_concurrent_callers_than_connections_wait_for_one(redis_server):
    """redis-py's default pool has 100 connections and refused the 101st caller."""
    counts = Timeseries(redis_server.url, type="count", intervals=MINUTE, prefix="p")
    counts.insert("a", 1, timestamp=60)
    redis_server.pause()  # every caller holds its connection until Redis answers
    readers = [gevent.spawn(counts.get, "a", "minute", timestamp=60) for _ in range(250)]
    gevent.sleep(0.5)
    redis_server.resume()
    gevent.joinall(readers, timeout=30)
    assert [reader.get() for reader in readers] == [{60: 1}] * 250


def test_a_stalled_redis_is_an_error_after_the_socket_timeout(redis_server):
    counts = Timeseries(redis_server.url, type="count", intervals=MINUTE, prefix="p",
                        client_config={"socket_timeout": 0.5})
    counts.insert("a", 1, timestamp=60)
    redis_server.pause()
    with gevent.Timeout(10):
        with pytest.raises(BackendError, match="Timeout"):
            counts.get("a", "minute", timestamp=60)
    redis_server.resume()
    assert counts.get("a", "minute", timestamp=60) == {60: 1}


def test_the_pool_wait_is_bounded(redis_server):
    counts = Timeseries(redis_server.url, type="count", intervals=MINUTE, prefix="p",
                        client_config={"max_connections": 2, "timeout": 0.5, "socket_timeout": 5})
    counts.insert("a", 1, timestamp=60)
    redis_server.pause()
    readers = [gevent.spawn(counts.get, "a", "minute", timestamp=60) for _ in range(3)]
    gevent.sleep(1.5)  # the third waited 0.5 s for one of two busy connections
    waited = readers[2]
    assert waited.dead and isinstance(waited.exception, BackendError)
    assert "No connection available" in str(waited.exception)
    redis_server.resume()
    gevent.joinall(readers, timeout=10)


def test_torus_answers_every_request_beyond_the_pool_size(tmp_path, redis_server):
    """250 /series requests at once on a Redis that pauses: all 200 once it answers (no 503)."""
    from tests.functional.test_torus_app import Client
    from torus.config import ConfigHolder
    from torus.web import make_app
    config = tmp_path / "conf.py"
    config.write_text("SCHEMAS = {'c': {'type': 'count', 'host': %r, 'prefix': 'p', 'match': '.',"
                      " 'intervals': {'minute': {'step': 60}}}}\n" % redis_server.url)
    holder = ConfigHolder([str(config)])
    holder.current.schemas["c"].timeseries.insert("a", 1, timestamp=60)
    client = Client(make_app(holder, now=lambda: 120))
    redis_server.pause()
    requests = [gevent.spawn(client.get, "/series?stat=a&interval=minute&start=0&end=60")
                for _ in range(250)]
    gevent.sleep(0.5)
    redis_server.resume()
    gevent.joinall(requests, timeout=30)
    assert [request.get()[0] for request in requests] == [200] * 250
