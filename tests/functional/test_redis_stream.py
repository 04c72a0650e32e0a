"""Batches in flight on Redis (``send_bulk``, ``redis_stream``) when the connection fails.

Two batches are sent before either reply is read, through a proxy that drops the
connection or stalls. Each wait then reports its own batch's fate (stored, or a
BackendError when the reply was lost), sending both again under the same batch ids
stores every point once, and the next batch works on a fresh connection.
"""
from urllib.parse import urlsplit

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
