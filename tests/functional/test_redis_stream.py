"""Batches in flight on Redis (``send_bulk``, ``redis_stream``) when the connection fails.

Two batches are sent before either reply is read, through a proxy that drops the
connection or stalls. Each wait then reports its own batch's fate (stored, or a
BackendError when the reply was lost), sending both again under the same batch ids
stores every point once, and the next batch works on a fresh connection.
"""
import time
from urllib.parse import urlsplit

import gevent
import pytest
import redis

from kairos import BackendError, Timeseries
from tests.conftest import require
from tests.functional.tcp_proxy import LosingProxy

MINUTE = {"minute": {"step": 60}}


@pytest.fixture
def url():
    return require("redis")


@pytest.fixture
def raw(url, unique_name):
    client = redis.Redis.from_url(url, decode_responses=True)
    yield client
    keys = list(client.scan_iter(match=unique_name + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def through(proxy, url):
    parts = urlsplit(url)
    return "redis://127.0.0.1:%d%s" % (proxy.port, parts.path)


@pytest.fixture(params=["key", "hash"])
def layout(request):
    return request.param


def sent_twice(ts):
    """Batch 1 and 2 sent ahead; returns how each wait ended ("ok" or the error)."""
    waits = [ts.send_bulk({60: {"a": [n], "b": [10 * n]}}, batch_id="s.%d" % n, now=100)
             for n in (1, 2)]
    outcomes = []
    for wait in waits:
        try:
            wait()
            outcomes.append("ok")
        except BackendError as err:
            outcomes.append(err)
    return outcomes


def resend_and_check(ts):
    for n in (1, 2):
        ts.bulk_insert({60: {"a": [n], "b": [10 * n]}}, batch_id="s.%d" % n, now=100)
    assert ts.get("a", "minute", timestamp=60) == {60: 3}
    assert ts.get("b", "minute", timestamp=60) == {60: 30}
    ts.send_bulk({60: {"a": [4]}}, batch_id="s.3", now=100)()  # a fresh connection works
    assert ts.get("a", "minute", timestamp=60) == {60: 7}


def test_a_dropped_connection_fails_the_batches_in_flight_and_a_resend_stores_once(
        url, raw, unique_name, layout):
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"s.2")
    try:
        ts = Timeseries(through(proxy, url), type="count", intervals=MINUTE, read_func=int,
                        prefix=unique_name, layout=layout)
        outcomes = sent_twice(ts)
        assert proxy.lost == 1
        assert isinstance(outcomes[1], BackendError)  # its reply never came
        assert outcomes[0] == "ok" or isinstance(outcomes[0], BackendError)
        resend_and_check(ts)
        ts.close()
    finally:
        proxy.stop()


def test_a_stalled_server_times_out_every_batch_in_flight(url, raw, unique_name, layout):
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"\x00never\x00")
    try:
        ts = Timeseries(through(proxy, url), type="count", intervals=MINUTE, read_func=int,
                        prefix=unique_name, layout=layout, client_config={"socket_timeout": 0.5})
        ts.bulk_insert({0: {"warm": [1]}}, now=100)  # the connection exists before the stall
        proxy.hold = True
        outcomes = sent_twice(ts)
        assert all(isinstance(outcome, BackendError) for outcome in outcomes), outcomes
        assert "Timeout" in str(outcomes[0])
        proxy.hold = False
        resend_and_check(ts)
        ts.close()
    finally:
        proxy.stop()


def test_the_stream_gives_its_connection_back_when_nothing_is_in_flight(url, raw, unique_name):
    # a pool of one connection: reads after the waits need the one the stream used
    ts = Timeseries(url, type="count", intervals=MINUTE, prefix=unique_name, read_func=int,
                    client_config={"max_connections": 1, "timeout": 0.5})
    waits = [ts.send_bulk({60: {"a": [n]}}, batch_id="c.%d" % n, now=100) for n in (1, 2)]
    for wait in waits:
        wait()
    assert ts.get("a", "minute", timestamp=60) == {60: 3}
    ts.send_bulk({60: {"a": [4]}}, batch_id="c.3", now=100)()
    assert ts.get("a", "minute", timestamp=60) == {60: 7}
    ts.close()


def test_nothing_is_sent_after_a_failure_until_every_failed_batch_was_reported(
        url, raw, unique_name):
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"\x00never\x00")
    try:
        ts = Timeseries(through(proxy, url), type="gauge", intervals=MINUTE, read_func=int,
                        prefix=unique_name, client_config={"socket_timeout": 0.5})
        ts.bulk_insert({60: {"warm": [1]}}, now=100)
        proxy.hold = True
        first = ts.send_bulk({60: {"g": [1]}}, batch_id="f.1", now=100)
        second = ts.send_bulk({60: {"g": [2]}}, batch_id="f.2", now=100)
        with pytest.raises(BackendError):
            first()  # times out: both batches in flight failed; the second is not reported yet
        proxy.hold = False
        third = ts.send_bulk({60: {"g": [3], "late": [3]}}, batch_id="f.3", now=100)
        with pytest.raises(BackendError):
            third()  # refused without being sent: it would overtake the second
        with pytest.raises(BackendError):
            second()
        assert ts.get("late", "minute", timestamp=60) == {60: None}
        for n in (1, 2, 3):  # the caller resends in order
            ts.send_bulk({60: {"g": [n], "late": [n]} if n == 3 else {"g": [n]}},
                         batch_id="f.%d" % n, now=100)()
        assert ts.get("g", "minute", timestamp=60) == {60: 3}
        assert ts.get("late", "minute", timestamp=60) == {60: 3}
        ts.close()
    finally:
        proxy.stop()


def test_a_batch_redis_refused_is_not_overtaken_by_the_next(redis_server, unique_name):
    """An error reply (out of memory: Redis ran nothing of the batch) is not a lost
    connection: the batch sent after it must refuse to land before it, or a gauge would end
    with the older value once the refused batch is sent again."""
    admin = redis_server.client()
    ts = Timeseries(redis_server.url, type="gauge", intervals=MINUTE, read_func=int,
                    prefix=unique_name)
    ts.bulk_insert({60: {"g": [0]}}, now=100)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    first = ts.send_bulk({60: {"g": [1]}}, batch_id="m.1", now=100)
    ts.get("g", "minute", timestamp=60)  # Redis has answered the first batch by now
    admin.config_set("maxmemory", "0")
    second = ts.send_bulk({60: {"g": [2]}}, batch_id="m.2", now=100)
    with pytest.raises(BackendError, match="maxmemory"):
        first()
    assert not first.lost
    with pytest.raises(BackendError, match="KAIROSAFTER"):
        second()  # refused: nothing of it written
    assert ts.get("g", "minute", timestamp=60) == {60: 0}
    for n in (1, 2):  # sent again in order, as karbon does
        ts.send_bulk({60: {"g": [n]}}, batch_id="m.%d" % n, now=100)()
    assert ts.get("g", "minute", timestamp=60) == {60: 2}
    ts.close()


def test_no_health_check_ping_while_replies_are_unread(redis_server, unique_name):
    ts = Timeseries(redis_server.url, type="gauge", intervals=MINUTE, read_func=int,
                    prefix=unique_name, client_config={"health_check_interval": 1})
    ts.send_bulk({60: {"warm": [0]}}, batch_id="h.0", now=100)()
    first = ts.send_bulk({60: {"g": [1]}}, batch_id="h.1", now=100)
    time.sleep(1.3)  # past the interval while the first batch's reply is unread
    second = ts.send_bulk({60: {"g": [2]}}, batch_id="h.2", now=100)
    first()
    second()
    assert ts.get("g", "minute", timestamp=60) == {60: 2}
    ts.close()


def test_a_caller_killed_while_waiting_leaves_no_reply_for_the_next_batch(url, raw, unique_name):
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"\x00never\x00")
    try:
        ts = Timeseries(through(proxy, url), type="gauge", intervals=MINUTE, read_func=int,
                        prefix=unique_name)
        ts.send_bulk({60: {"warm": [0]}}, now=100)()
        proxy.hold = True
        first = ts.send_bulk({60: {"g": [1]}}, batch_id="k.1", now=100)
        with pytest.raises(gevent.Timeout):
            with gevent.Timeout(0.2):
                first()
        proxy.hold = False
        assert first.lost  # its replies were not read: its fate is unknown
        with pytest.raises(BackendError):
            first()
        second = ts.send_bulk({60: {"h": [2]}}, batch_id="k.2", now=100)
        second()  # on a fresh connection, with its own replies
        assert ts.get("h", "minute", timestamp=60) == {60: 2}
        ts.close()
    finally:
        proxy.stop()


def test_after_a_reload_karbon_lands_the_old_engines_batch_before_sending_the_new(
        url, raw, unique_name, tmp_path):
    """The batch in flight on the old configuration's engine and the next one, planned after a
    reload, travel on two connections that nothing orders: the writer waits for the first."""
    from torus.config import ConfigHolder
    from torus.ingest import Ingest
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"\x00never\x00")
    config = tmp_path / "karbon_conf.py"
    schema = ("SCHEMAS = {'gauges': {'type': 'gauge', 'host': %%r, 'prefix': %r, "
              "'match': '^g\\\\.', 'read_func': int, 'intervals': {'minute': {'step': 60}}}}\n"
              % unique_name)
    try:
        config.write_text(schema % through(proxy, url))  # the old engine: through the proxy
        holder = ConfigHolder([str(config)])
        ingest = Ingest(holder)
        holder.current.schemas["gauges"].timeseries.bulk_insert({60: {"g.x": [0]}}, now=100)
        proxy.hold = True  # the old engine's batch is sent, and held on its way to Redis
        gevent.spawn_later(0.5, setattr, proxy, "hold", False)
        ingest.process([(b"g.x 1 60\n", "test", 100.0)])
        config.write_text(schema % url)  # the new engine: straight to Redis
        assert holder.reload()
        ingest.process([(b"g.x 2 60\n", "test", 100.0)])
        assert ingest.close(timeout=30)
        assert ingest.counters.stored == 2 and ingest.counters.failed == 0
        fresh = holder.current.schemas["gauges"].timeseries
        assert fresh.get("g.x", "minute", timestamp=60) == {60: 2}
        holder.close()
    finally:
        proxy.stop()



def test_a_batch_written_at_once_goes_on_the_idle_stream(url, raw, unique_name, layout,
                                                        monkeypatch):
    """``bulk_insert`` on a client hiredis can pack for goes on the stream too (no redis-py
    pipeline packing each argument) when nothing is in flight there, and stores the same."""
    ts = Timeseries(url, type="gauge", intervals=MINUTE, prefix=unique_name, layout=layout,
                    read_func=float)
    ts.send_bulk({60: {"g": [1.5], "h": [7]}}, batch_id="w.1", now=100)()
    with monkeypatch.context() as patched:
        patched.setattr(ts.client, "pipeline",
                        lambda *args, **kwargs: pytest.fail("a write was packed by redis-py"))
        ts.bulk_insert({60: {"g": [2.5]}, 120: {"g": [0.1 + 0.2]}}, batch_id="w.2", now=100)
    assert ts.get("g", "minute", timestamp=60) == {60: 2.5}
    assert ts.get("g", "minute", timestamp=120) == {120: 0.1 + 0.2}
    assert ts.get("h", "minute", timestamp=60) == {60: 7}
    ts.close()


def test_a_retry_written_at_once_does_not_wait_behind_a_failed_batch_in_flight(
        url, raw, unique_name, layout):
    """Two batches in flight fail (a dropped connection); the first one's retry with
    ``bulk_insert``, before anyone read the second one's failure, is stored at once."""
    proxy = LosingProxy((urlsplit(url).hostname, urlsplit(url).port or 6379), b"s.2")
    try:
        ts = Timeseries(through(proxy, url), type="count", intervals=MINUTE, read_func=int,
                        prefix=unique_name, layout=layout)
        waits = [ts.send_bulk({60: {"a": [n]}}, batch_id="s.%d" % n, now=100) for n in (1, 2)]
        try:
            waits[0]()
        except BackendError:
            pass
        ts.bulk_insert({60: {"a": [1]}}, batch_id="s.1", now=100)  # the second is unread
        with pytest.raises(BackendError):
            waits[1]()
        ts.bulk_insert({60: {"a": [2]}}, batch_id="s.2", now=100)
        assert ts.get("a", "minute", timestamp=60) == {60: 3}
        ts.close()
    finally:
        proxy.stop()
